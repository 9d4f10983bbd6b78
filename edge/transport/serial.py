"""A plain serial line (UART, RS-232/485 without Modbus) read by the event loop, never blocking.

pyserial opens and configures the port (it opens with O_NONBLOCK); the loop watches the
file descriptor with add_reader and hands every chunk to the session's callback, and
writes go out with os.write, waiting on add_writer when the driver's buffer is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from types import TracebackType

import serial

from edge.config import BusConfig
from edge.transport.errors import (
    PortUnavailable,
    TransportError,
    resolve_serial_device,
    serial_port_problem,
)

_CHUNK = 4096
_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


class SerialLine:
    """One serial port; open() starts delivering received bytes to a callback."""

    def __init__(
        self,
        *,
        port: str,
        baud: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        bytesize: int = 8,
    ) -> None:
        self.port = port
        self.baud = baud
        self._parity = parity
        self._stopbits = stopbits
        self._bytesize = bytesize
        self.description = f"serial {port} {baud} {bytesize}{parity}{stopbits}"
        self._serial: serial.Serial | None = None
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def is_open(self) -> bool:
        """The port is open and being read."""
        return self._fd is not None

    def open(self, on_data: Callable[[bytes], None]) -> None:
        """Open the port (if closed) and call on_data with each chunk; PortUnavailable if not."""
        if self._fd is not None:
            return
        try:
            port = serial.Serial(
                port=self.port,
                baudrate=self.baud,
                parity=_PARITY[self._parity],
                stopbits=self._stopbits,
                bytesize=self._bytesize,
                timeout=0,
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortUnavailable(serial_port_problem(self.port)) from exc
        self._serial = port
        self._fd = port.fileno()
        os.set_blocking(self._fd, False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, self._readable, on_data)

    def _readable(self, on_data: Callable[[bytes], None]) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, _CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the adapter went away (EIO / EOF): reopen on the next poll
            self._release()
            return
        self.bytes_in += len(data)
        on_data(data)

    async def write(self, data: bytes) -> None:
        """Send data; waits (without blocking the loop) while the OS buffer is full."""
        if self._fd is None or self._loop is None:
            raise TransportError(f"{self.description} is not open")
        view = memoryview(data)
        while view:
            try:
                sent = os.write(self._fd, view)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._release()
                raise PortUnavailable(serial_port_problem(self.port)) from exc
            self.bytes_out += sent
            view = view[sent:]
            if view:
                await self._writable()

    async def _writable(self) -> None:
        assert self._fd is not None
        assert self._loop is not None
        ready = self._loop.create_future()
        self._loop.add_writer(self._fd, ready.set_result, None)
        try:
            await ready
        finally:
            self._loop.remove_writer(self._fd)

    def _release(self) -> None:
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        if self._serial is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                self._serial.close()
        self._serial = None
        self._fd = None

    async def close(self) -> None:
        """Stop reading and close the port; the next open() starts again."""
        self._release()

    async def __aenter__(self) -> SerialLine:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def serial_line_for(bus: BusConfig, *, port: str | None = None) -> SerialLine:
    """The line a `serial:` bus describes; port overrides the config (board profiles)."""
    config = bus.serial
    if config is None:
        raise PortUnavailable(f"bus {bus.name} is not a serial bus")
    return SerialLine(
        port=resolve_serial_device(bus.name, "serial", config.port, port),
        baud=config.baud,
        parity=config.parity,
        stopbits=config.stopbits,
        bytesize=config.bytesize,
    )
