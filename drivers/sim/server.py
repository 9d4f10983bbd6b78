"""Serve simulated devices over Modbus TCP, or Modbus RTU / a serial protocol on a pty."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import cast

from pymodbus.server import ModbusTcpServer

from drivers.registry import DriverLoader, load_driver
from drivers.sdk.errors import DriverError
from drivers.sdk.manifest import SerialDefaults
from drivers.sim.context import SimServerContext
from drivers.sim.device import SimulatedDevice
from drivers.sim.pty import PtyLine
from drivers.sim.rtu import RtuResponder
from drivers.sim.scripts import Fault, parse_fault
from drivers.sim.serial_device import SimulatedSerialDevice
from drivers.sim.serial_server import SerialResponder

AnyDevice = SimulatedDevice | SimulatedSerialDevice


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceSpec:
    """Which driver to simulate at which unit id, with an optional fault, baud and period."""

    driver: str
    unit: int
    fault: Fault | None = None
    baud: int | None = None
    """On a pty: the only baud rate the device answers at (default: the line's default)."""
    period: float | None = None
    """Serial stream devices: seconds between readings."""

    @classmethod
    def parse(cls, text: str) -> DeviceSpec:
        """Parse NAME:UNIT[:OPTION...], OPTION a fault, baud=N or period=S.

        E.g. rs485_env:2:silent, eastron_sdm120:3:baud=19200, plantower_pms5003:1:period=0.2.
        """
        parts = text.split(":")
        if len(parts) < 2 or not parts[1].isdigit():
            raise DriverError(f"expected NAME:UNIT[:OPTION...], got {text!r}")
        fault: Fault | None = None
        baud: int | None = None
        period: float | None = None
        for option in parts[2:]:
            name, _, arg = option.partition("=")
            try:
                if name == "baud":
                    baud = int(arg)
                elif name == "period":
                    period = float(arg)
                else:
                    fault = parse_fault(option)
            except ValueError:
                raise DriverError(f"bad option {option!r} in {text!r}") from None
        return cls(driver=parts[0], unit=int(parts[1]), fault=fault, baud=baud, period=period)

    def build(self, loader: DriverLoader = load_driver) -> AnyDevice:
        """The simulated device this spec describes."""
        driver = loader(self.driver)
        device: AnyDevice
        if driver.is_serial:
            device = SimulatedSerialDevice(
                driver, self.unit, baud=self.baud, period=self.period or 1.0
            )
        else:
            device = SimulatedDevice(driver, self.unit, baud=self.baud)
        device.fault = self.fault
        return device


class Simulator:
    """An async context manager serving devices on TCP (tcp_port) or on a pty (pty=True).

    Over TCP it is a Modbus TCP server (pymodbus); on a pty it answers Modbus RTU and the
    serial protocols itself, each device only at its own baud rate (see drivers.sim.pty).
    """

    def __init__(
        self,
        devices: Sequence[AnyDevice],
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
        serial_devices = [d.unit for d in devices if isinstance(d, SimulatedSerialDevice)]
        if serial_devices and tcp_port is not None:
            raise DriverError("serial-protocol devices are simulated on a pty (--pty), not TCP")
        self.devices = {d.unit: d for d in devices}
        self._tcp_port = tcp_port
        self._host = host
        self._pty = pty
        self._serial = serial or SerialDefaults()
        self._server: ModbusTcpServer | None = None
        self._line: PtyLine | None = None
        self._stream: asyncio.Task[None] | None = None
        self.port: int | None = None
        """The bound TCP port once started."""
        self.pty_path: str | None = None
        """The client end of the pseudo-terminal once started."""

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
        """A simulator of the given drivers; the line's default baud is the first driver's."""
        devices = [spec.build(loader) for spec in specs]
        serial = devices[0].driver.manifest.serial if devices else None
        return cls(devices, tcp_port=tcp_port, pty=pty, host=host, serial=serial)

    def device(self, unit: int) -> SimulatedDevice:
        """The simulated Modbus device at unit."""
        device = self.devices[unit]
        if not isinstance(device, SimulatedDevice):
            raise DriverError(f"unit {unit} is a serial-protocol device; use serial_device()")
        return device

    def serial_device(self, unit: int) -> SimulatedSerialDevice:
        """The simulated serial-protocol device at unit."""
        device = self.devices[unit]
        if not isinstance(device, SimulatedSerialDevice):
            raise DriverError(f"unit {unit} is a Modbus device; use device()")
        return device

    async def start(self) -> None:
        """Bind the port or create the pty, and start answering."""
        if self._tcp_port is not None:
            modbus = {u: d for u, d in self.devices.items() if isinstance(d, SimulatedDevice)}
            server = ModbusTcpServer(
                SimServerContext(modbus),
                address=(self._host, self._tcp_port),
                ignore_missing_devices=True,
            )
            self._server = server
            await server.serve_forever(background=True)
            listener = cast(asyncio.Server, server.transport)  # what create_server returned
            self.port = int(listener.sockets[0].getsockname()[1])
            return
        line = self._line = PtyLine()
        self.pty_path = line.path
        rtu = RtuResponder(
            {u: d for u, d in self.devices.items() if isinstance(d, SimulatedDevice)},
            line_baud=line.baud,
            default_baud=self._serial.baud,
            send=line.write,
        )
        serial = SerialResponder(
            {u: d for u, d in self.devices.items() if isinstance(d, SimulatedSerialDevice)},
            line_baud=line.baud,
            default_baud=self._serial.baud,
            send=line.write,
        )

        def on_data(data: bytes) -> None:
            rtu.on_data(data)
            serial.on_data(data)

        line.start(on_data)
        self._stream = asyncio.create_task(serial.stream(), name="sim:stream")

    async def stop(self) -> None:
        """Stop answering and release the port or pty."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
        if self._stream is not None:
            self._stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stream
            self._stream = None
        if self._line is not None:
            self._line.close()
            self._line = None

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
