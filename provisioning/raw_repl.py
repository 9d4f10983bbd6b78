"""MicroPython's raw REPL over a serial port: run code on a board and write files to it.

Protocol (as MicroPython's pyboard.py/mpremote speak it): Ctrl-C stops the running program,
Ctrl-A enters raw mode (the board answers "raw REPL; CTRL-B to exit\\r\\n>"); code is sent
and ended with Ctrl-D, the board answers "OK", then the program's stdout, "\\x04", its
stderr (a traceback), "\\x04" and ">" for the next command. Ctrl-D on an empty command soft
resets; Ctrl-B returns to the friendly REPL.
"""

from __future__ import annotations

import hashlib
import time
from typing import Protocol, Self

BANNER = b"raw REPL; CTRL-B to exit\r\n"
_CHUNK = 256


class RawReplError(Exception):
    """The board did not speak the raw REPL, or the code raised; the message has its output."""


class SerialPort(Protocol):
    """What this module needs from a pyserial Serial."""

    def write(self, data: bytes, /) -> int | None:
        """Send bytes."""
        ...

    def read(self, size: int = 1, /) -> bytes:
        """Read up to size bytes, waiting at most the port's timeout."""
        ...

    def reset_input_buffer(self) -> None:
        """Drop whatever was received and not read."""
        ...


class RawRepl:
    """A raw REPL session on one board; use as a context manager to enter and leave it."""

    def __init__(self, port: SerialPort, *, timeout: float = 10.0, soft_reset: bool = False):
        self._port = port
        self._timeout = timeout
        self._soft_reset = soft_reset

    def __enter__(self) -> Self:
        self.enter(soft_reset=self._soft_reset)
        return self

    def __exit__(self, *exc: object) -> None:
        self.exit()

    def enter(self, *, soft_reset: bool = False) -> None:
        """Interrupt the running program and switch to raw mode (optionally soft reset)."""
        self._port.write(b"\r\x03\x03")
        time.sleep(0.05)
        self._port.reset_input_buffer()
        self._port.write(b"\r\x01")
        self._read_until(BANNER + b">")
        if soft_reset:
            self._port.write(b"\x04")
            self._read_until(b"soft reboot\r\n")
            self._read_until(BANNER + b">")

    def exit(self) -> None:
        """Back to the friendly REPL."""
        self._port.write(b"\r\x02")

    def exec(self, code: str) -> bytes:
        """Run code on the board; its stdout, or RawReplError with its traceback."""
        data = code.encode()
        for start in range(0, len(data), _CHUNK):
            self._port.write(data[start : start + _CHUNK])
        self._port.write(b"\x04")
        answer = self._read_exact(2)
        if answer != b"OK":
            raise RawReplError(f"board refused the code: {answer!r}")
        stdout = self._read_until(b"\x04")[:-1]
        stderr = self._read_until(b"\x04")[:-1]
        self._read_until(b">")
        if stderr:
            raise RawReplError(stderr.decode(errors="replace").strip())
        return stdout

    def mkdirs(self, path: str) -> None:
        """Create a directory and its parents on the board (existing ones are fine)."""
        parts = [p for p in path.split("/") if p]
        prefixes = ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        self.exec(
            f"import os\nfor p in {prefixes!r}:\n try:\n  os.mkdir(p)\n except OSError:\n  pass\n"
        )

    def put_file(self, path: str, data: bytes) -> None:
        """Write a file atomically (temp name, checked by SHA-256, then renamed)."""
        tmp = path + ".tmp"
        self.exec(f"f=open({tmp!r},'wb')\nw=f.write")
        lines = [f"w({data[i : i + _CHUNK]!r})" for i in range(0, len(data), _CHUNK)]
        for start in range(0, len(lines), 8):  # a few writes per round trip
            self.exec("\n".join(lines[start : start + 8]))
        self.exec("f.close()")
        if self.sha256(tmp) != hashlib.sha256(data).hexdigest():
            raise RawReplError(f"{path}: the board holds other bytes than were sent")
        self.exec(
            "import os\n"
            f"try:\n os.remove({path!r})\nexcept OSError:\n pass\n"
            f"os.rename({tmp!r}, {path!r})"
        )

    def sha256(self, path: str) -> str:
        """Hex SHA-256 of a file on the board."""
        out = self.exec(
            "import hashlib,binascii\nh=hashlib.sha256()\n"
            f"with open({path!r},'rb') as f:\n"
            " while True:\n  b=f.read(512)\n  if not b:\n   break\n  h.update(b)\n"
            "print(binascii.hexlify(h.digest()).decode())"
        )
        return out.decode().strip()

    def _read_exact(self, size: int) -> bytes:
        data = b""
        deadline = time.monotonic() + self._timeout
        while len(data) < size:
            data += self._port.read(size - len(data))
            if len(data) < size and time.monotonic() > deadline:
                raise RawReplError(f"board silent: expected {size} bytes, got {data!r}")
        return data

    def _read_until(self, suffix: bytes) -> bytes:
        data = b""
        deadline = time.monotonic() + self._timeout
        while not data.endswith(suffix):
            chunk = self._port.read(1)
            data += chunk
            if not chunk and time.monotonic() > deadline:
                raise RawReplError(f"board did not answer {suffix!r}; got {data[-200:]!r}")
        return data
