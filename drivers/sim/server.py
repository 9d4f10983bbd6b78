"""Serve simulated devices over Modbus TCP or Modbus RTU on a pseudo-terminal pair."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import cast

from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from drivers.registry import DriverLoader, load_driver
from drivers.sdk.errors import DriverError
from drivers.sdk.manifest import SerialDefaults
from drivers.sim.context import SimServerContext
from drivers.sim.device import SimulatedDevice
from drivers.sim.scripts import Fault, parse_fault


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceSpec:
    """Which driver to simulate at which unit id, optionally with a fault from the start."""

    driver: str
    unit: int
    fault: Fault | None = None

    @classmethod
    def parse(cls, text: str) -> DeviceSpec:
        """Parse NAME:UNIT or NAME:UNIT:FAULT, e.g. rs485_env:2:silent."""
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[1].isdigit():
            raise DriverError(f"expected NAME:UNIT[:FAULT], got {text!r}")
        unit = int(parts[1])
        fault = parse_fault(parts[2]) if len(parts) == 3 else None
        return cls(driver=parts[0], unit=unit, fault=fault)


class Simulator:
    """An async context manager serving devices on TCP (tcp_port) or on a pty (pty=True)."""

    def __init__(
        self,
        devices: Sequence[SimulatedDevice],
        *,
        tcp_port: int | None = None,
        host: str = "127.0.0.1",
        pty: bool = False,
        serial: SerialDefaults | None = None,
    ) -> None:
        if (tcp_port is None) == (not pty):
            raise ValueError("serve on exactly one of tcp_port or pty")
        units = [d.unit for d in devices]
        if len(set(units)) != len(units):
            raise ValueError(f"unit ids must be unique on one bus: {units}")
        self.devices = {d.unit: d for d in devices}
        self._tcp_port = tcp_port
        self._host = host
        self._pty = pty
        self._serial = serial or SerialDefaults()
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._socat: asyncio.subprocess.Process | None = None
        self._tmp: Path | None = None
        self.port: int | None = None
        """The bound TCP port once started."""
        self.pty_path: str | None = None
        """The client end of the pseudo-terminal pair once started."""

    @classmethod
    def for_specs(
        cls,
        specs: Sequence[DeviceSpec],
        *,
        loader: DriverLoader = load_driver,
        tcp_port: int | None = None,
        pty: bool = False,
        host: str = "127.0.0.1",
    ) -> Simulator:
        """A simulator of the given drivers; serial settings follow the first driver's defaults."""
        devices = []
        for spec in specs:
            device = SimulatedDevice(loader(spec.driver), spec.unit)
            device.fault = spec.fault
            devices.append(device)
        serial = devices[0].driver.manifest.serial if devices else None
        return cls(devices, tcp_port=tcp_port, pty=pty, host=host, serial=serial)

    def device(self, unit: int) -> SimulatedDevice:
        """The simulated device at unit."""
        return self.devices[unit]

    async def start(self) -> None:
        """Bind the port or create the pty pair, and start answering."""
        context = SimServerContext(self.devices)
        if self._tcp_port is not None:
            server = ModbusTcpServer(
                context, address=(self._host, self._tcp_port), ignore_missing_devices=True
            )
            self._server = server
            await server.serve_forever(background=True)
            listener = cast(asyncio.Server, server.transport)  # what create_server returned
            self.port = int(listener.sockets[0].getsockname()[1])
            return
        server_end = await self._start_pty_pair()
        serial = self._serial
        self._server = ModbusSerialServer(
            context,
            port=server_end,
            baudrate=serial.baud,
            parity=serial.parity,
            stopbits=serial.stopbits,
            bytesize=serial.bytesize,
            ignore_missing_devices=True,
        )
        await self._server.serve_forever(background=True)

    async def _start_pty_pair(self) -> str:
        socat = shutil.which("socat")
        if socat is None:
            raise DriverError("simulating RTU on a pseudo-terminal needs socat (apt install socat)")
        self._tmp = Path(tempfile.mkdtemp(prefix="polekit-pty-"))
        server_end, client_end = self._tmp / "server", self._tmp / "client"
        self._socat = await asyncio.create_subprocess_exec(
            socat,
            f"pty,raw,echo=0,link={server_end}",
            f"pty,raw,echo=0,link={client_end}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(500):
            if server_end.exists() and client_end.exists():
                self.pty_path = str(client_end)
                return str(server_end)
            await asyncio.sleep(0.01)
        raise DriverError("socat did not create the pseudo-terminal pair within 5 s")

    async def stop(self) -> None:
        """Stop answering and release the port or pty pair."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
        if self._socat is not None:
            if self._socat.returncode is None:
                self._socat.terminate()
            await self._socat.wait()
            self._socat = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    async def __aenter__(self) -> Simulator:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def endpoint(self) -> dict[str, object]:
        """Where clients connect, as printed by the CLI: tcp host/port or the pty path."""
        if self.port is not None:
            return {"tcp_host": self._host, "tcp_port": self.port, "units": list(self.devices)}
        return {"pty": self.pty_path, "units": list(self.devices)}
