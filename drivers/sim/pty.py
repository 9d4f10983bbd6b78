"""A pseudo-terminal that stands in for an RS-485 line or a UART, with the line's baud rate.

The simulator holds the master end; clients (the agent, `polekit scan`) open the slave
path as if it were /dev/ttyUSB0. Linux keeps one termios for the pair and a termios call
on the master reads the slave's, so the simulator sees the baud rate the client set and
a device configured for another rate can stay silent, as a real one would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import termios
import tty
from collections.abc import Callable
from pathlib import Path

_SPEEDS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (
        1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
    )
    if hasattr(termios, f"B{rate}")
}  # fmt: skip


class PtyLine:
    """A pty pair: the simulator reads and writes the master, clients open `path`."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        # Raw until a client configures it: no echo, no line editing, no CR/LF mangling.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._dir = Path(tempfile.mkdtemp(prefix="polekit-pty-"))
        self.path = str(self._dir / "client")
        os.symlink(os.ttyname(self._slave), self.path)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    def baud(self) -> int | None:
        """The baud rate the client set on the line (None for a rate termios cannot name)."""
        attrs = termios.tcgetattr(self._master)
        return _SPEEDS.get(attrs[5])  # ospeed

    def start(self, on_data: Callable[[bytes], None]) -> None:
        """Call on_data from the event loop with every chunk a client writes."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._master, self._readable, on_data)

    def _readable(self, on_data: Callable[[bytes], None]) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: no slave open; the simulator's own slave fd prevents this
            return
        self.bytes_in += len(data)
        on_data(data)

    def write(self, data: bytes) -> None:
        """Send bytes to the client; a full buffer (nobody reading) drops them, like a wire."""
        with contextlib.suppress(BlockingIOError, OSError):
            self.bytes_out += os.write(self._master, data)

    def close(self) -> None:
        """Stop reading and release both ends and the symlink."""
        if self._loop is not None:
            self._loop.remove_reader(self._master)
            self._loop = None
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._dir, ignore_errors=True)
