"""Async Modbus TCP and RTU clients: the only edge module that talks to pymodbus.

Everything above this module sees raw register bytes and typed errors, never pymodbus
objects. Retries and backoff belong to the bus scheduler, so pymodbus is asked for a
single attempt per request and never reconnects or closes a connection on its own.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from drivers.sdk.codec import bytes_of
from drivers.sdk.datatypes import RegisterType
from edge.config import BusConfig
from edge.transport.errors import (
    EXCEPTION_NAMES,
    ConnectionFailed,
    DeviceTimeout,
    ModbusExceptionResponse,
    PortUnavailable,
    TransportError,
    resolve_serial_device,
    serial_port_problem,
)

__all__ = [
    "EXCEPTION_NAMES",
    "ConnectionFailed",
    "DeviceTimeout",
    "ModbusExceptionResponse",
    "ModbusTransport",
    "PortUnavailable",
    "RtuTransport",
    "TcpTransport",
    "TransportError",
    "serial_port_problem",
    "transport_for",
]

# The scheduler reports a failing device once when it starts failing and once when it
# recovers; pymodbus would log every single timeout, so its own logger is kept quiet.
logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)

# Consecutive timeouts (any unit) after which a TCP connection is presumed half-open.
_TIMEOUTS_BEFORE_RECONNECT = 5


_READERS = {
    RegisterType.COIL: "read_coils",
    RegisterType.DISCRETE_INPUT: "read_discrete_inputs",
    RegisterType.INPUT: "read_input_registers",
    RegisterType.HOLDING: "read_holding_registers",
}


class ModbusTransport:
    """One connection to a bus; requests are awaited one at a time by the bus scheduler."""

    reconnects_on_silence = False
    """TCP only: a run of timeouts may mean a half-open connection, so start a new one."""

    def __init__(self, client: Any, *, description: str, timeout: float) -> None:
        # Any: pymodbus' client classes are untyped; this class is their typed face.
        self._client = client
        self.description = description
        self.timeout = timeout
        self._timeouts = 0
        client.set_max_no_responses(1_000_000)

    async def _ensure_connected(self) -> None:
        if self._client.connected:
            return
        if not await self._client.connect():
            raise self._connect_error()

    def _connect_error(self) -> TransportError:
        return ConnectionFailed(f"cannot connect to {self.description}")

    async def read(self, unit: int, register_type: RegisterType, address: int, count: int) -> bytes:
        """Raw big-endian register bytes, or one byte (0/1) per bit for coils and inputs."""
        await self._ensure_connected()
        method = getattr(self._client, _READERS[register_type])
        try:
            response = await method(address, count=count, device_id=unit)
        except ModbusIOException as exc:
            if "No response" not in str(exc):
                raise TransportError(f"unit {unit} sent an unusable response: {exc}") from None
            self._count_timeout()
            raise DeviceTimeout(
                f"unit {unit} did not answer within {self.timeout:g}s on {self.description}"
            ) from None
        except ConnectionException as exc:
            raise self._connect_error() from exc
        except ModbusException as exc:
            raise TransportError(f"unit {unit}: {exc}") from None
        self._timeouts = 0
        if response.isError():
            raise ModbusExceptionResponse(response.exception_code, unit=unit, address=address)
        if register_type.is_bit:
            return bytes(response.bits[:count])
        return bytes_of(response.registers)

    async def write_registers(self, unit: int, address: int, data: bytes) -> None:
        """Write raw register bytes to holding registers (function code 16)."""
        await self._ensure_connected()
        values = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
        try:
            response = await self._client.write_registers(address, values, device_id=unit)
        except ModbusIOException:
            raise DeviceTimeout(f"unit {unit} did not acknowledge the write") from None
        except ConnectionException as exc:
            raise self._connect_error() from exc
        if response.isError():
            raise ModbusExceptionResponse(response.exception_code, unit=unit, address=address)

    async def write_coil(self, unit: int, address: int, value: bool) -> None:
        """Switch one coil on or off (function code 5)."""
        await self._ensure_connected()
        try:
            response = await self._client.write_coil(address, value, device_id=unit)
        except ModbusIOException:
            raise DeviceTimeout(f"unit {unit} did not acknowledge the write") from None
        except ConnectionException as exc:
            raise self._connect_error() from exc
        if response.isError():
            raise ModbusExceptionResponse(response.exception_code, unit=unit, address=address)

    def _count_timeout(self) -> None:
        self._timeouts += 1
        if self._timeouts >= _TIMEOUTS_BEFORE_RECONNECT and self.reconnects_on_silence:
            self._timeouts = 0
            self._client.close()

    async def close(self) -> None:
        """Close the connection; the next request reconnects."""
        self._client.close()

    async def __aenter__(self) -> ModbusTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class TcpTransport(ModbusTransport):
    """Modbus TCP to a device or a TCP-to-RTU gateway."""

    reconnects_on_silence = True

    def __init__(self, *, host: str, port: int = 502, timeout: float = 1.0) -> None:
        client = AsyncModbusTcpClient(
            host, port=port, timeout=timeout, retries=0, reconnect_delay=0, name=f"{host}:{port}"
        )
        super().__init__(client, description=f"tcp://{host}:{port}", timeout=timeout)


class RtuTransport(ModbusTransport):
    """Modbus RTU over a serial line (RS-485 adapter, UART, or a pseudo-terminal)."""

    def __init__(
        self,
        *,
        port: str,
        baud: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        bytesize: int = 8,
        timeout: float = 1.0,
    ) -> None:
        self.port = port
        client = AsyncModbusSerialClient(
            port,
            baudrate=baud,
            parity=parity,
            stopbits=stopbits,
            bytesize=bytesize,
            timeout=timeout,
            retries=0,
            reconnect_delay=0,
            name=port,
        )
        super().__init__(
            client,
            description=f"serial {port} {baud} {bytesize}{parity}{stopbits}",
            timeout=timeout,
        )

    def _connect_error(self) -> TransportError:
        return PortUnavailable(serial_port_problem(self.port))


def transport_for(bus: BusConfig, *, port: str | None = None) -> ModbusTransport:
    """The transport a bus config describes; port overrides the config's serial port."""
    timeout = float(bus.timeout)
    if bus.modbus_tcp is not None:
        return TcpTransport(host=bus.modbus_tcp.host, port=bus.modbus_tcp.port, timeout=timeout)
    rtu = bus.modbus_rtu
    if rtu is None:
        raise PortUnavailable(f"bus {bus.name} is not a Modbus bus")
    return RtuTransport(
        port=resolve_serial_device(bus.name, "modbus_rtu", rtu.port, port),
        baud=rtu.baud,
        parity=rtu.parity,
        stopbits=rtu.stopbits,
        bytesize=rtu.bytesize,
        timeout=timeout,
    )
