"""A fake MicroPython board on a pseudo-terminal that speaks the raw REPL for real.

It executes the code it receives (in one namespace that persists between commands, as on a
board) with `open` and `os` mapped into a temporary root directory, so file writes land
there. It answers Ctrl-C, Ctrl-A, Ctrl-D (execute, or soft reset on an empty command; in the
friendly REPL a soft reboot into main.py, counted in `main_runs`) and Ctrl-B like MicroPython.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import threading
import traceback
import tty
import types
from pathlib import Path
from typing import Any

BANNER = b"raw REPL; CTRL-B to exit\r\n>"


class FakeBoard:
    """Serve the raw REPL on a pty until close(); `port` is the device path to open."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.executed: list[str] = []
        self.soft_resets = 0
        self.main_runs = 0
        self._raw = False
        self._buffer = bytearray()
        self._namespace: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-board", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and close the pty."""
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self._slave)

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for byte in data:
                self._feed(byte)

    def _send(self, data: bytes) -> None:
        os.write(self.master, data)

    def _feed(self, byte: int) -> None:
        if byte == 0x03:  # Ctrl-C: interrupt whatever runs, drop a half-sent command
            self._buffer.clear()
            if not self._raw:
                self._send(b"\r\nKeyboardInterrupt\r\n>>> ")
        elif byte == 0x01:
            self._raw = True
            self._buffer.clear()
            self._send(BANNER)
        elif byte == 0x02:
            self._raw = False
            self._send(b"\r\nMicroPython v1.27.0 on fake-board\r\n>>> ")
        elif byte == 0x04 and self._raw:
            code = self._buffer.decode()
            self._buffer.clear()
            if not code.strip():
                self.soft_resets += 1
                self._namespace.clear()
                self._send(b"OK\r\nMPY: soft reboot\r\n" + BANNER)
                return
            self._send(b"OK")
            stdout, stderr = self._run(code)
            self._send(stdout + b"\x04" + stderr + b"\x04>")
        elif self._raw:
            self._buffer.append(byte)
        elif byte == 0x04:  # friendly REPL: soft reboot, then main.py runs
            self.main_runs += 1
            self._send(b"MPY: soft reboot\r\n")

    def _run(self, code: str) -> tuple[bytes, bytes]:
        self.executed.append(code)
        namespace = self._namespace
        namespace.setdefault("__builtins__", self._builtins())
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "<stdin>", "exec"), namespace)
        except Exception:
            return out.getvalue().encode(), traceback.format_exc().encode()
        return out.getvalue().encode(), b""

    def _path(self, path: str) -> Path:
        resolved = (self.root / path.lstrip("/")).resolve()
        if self.root.resolve() not in (resolved, *resolved.parents):
            raise OSError(2, "outside the board's file system")
        return resolved

    def _builtins(self) -> dict[str, Any]:
        import builtins

        board_os = types.ModuleType("os")
        board_os.mkdir = lambda p: self._path(p).mkdir()  # type: ignore[attr-defined]
        board_os.remove = lambda p: self._path(p).unlink()  # type: ignore[attr-defined]
        board_os.rename = lambda a, b: self._path(a).rename(self._path(b))  # type: ignore[attr-defined]
        board_os.listdir = lambda p="/": os.listdir(self._path(p))  # type: ignore[attr-defined]
        real_import = builtins.__import__

        def board_import(name: str, *args: Any, **kwargs: Any) -> Any:
            return board_os if name == "os" else real_import(name, *args, **kwargs)

        def board_open(path: str, mode: str = "r", *args: Any) -> Any:
            return open(self._path(path), mode, *args)

        table = dict(vars(builtins))
        table.update(__import__=board_import, open=board_open)
        return table
