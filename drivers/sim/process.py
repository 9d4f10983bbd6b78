"""Start a simulator in its own process (so its CPU does not count against the agent)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from drivers.sdk.errors import DriverError

_REPO_ROOT = Path(__file__).resolve().parents[2]


class SimulatorProcess:
    """`python -m drivers.sim` as a context manager (sync or async); endpoint from its stdout."""

    def __init__(
        self,
        devices: Sequence[str],
        *,
        tcp_port: int | None = 0,
        pty: bool = False,
        driver_paths: Sequence[Path] = (),
        startup_timeout: float = 15.0,
    ) -> None:
        where = ["--pty"] if pty else ["--tcp", str(tcp_port if tcp_port is not None else 0)]
        self.argv = [sys.executable, "-m", "drivers.sim", *where]
        for device in devices:
            self.argv += ["--device", device]
        for path in driver_paths:
            self.argv += ["--driver-path", str(path)]
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.endpoint: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        """Process id of the running simulator."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    @property
    def port(self) -> int:
        """Bound TCP port."""
        return int(self.endpoint["tcp_port"])

    @property
    def pty_path(self) -> str:
        """Client end of the pseudo-terminal pair."""
        return str(self.endpoint["pty"])

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
        return env

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env()
        )
        return self._proc

    def _accept(self, line: bytes) -> None:
        if not line:
            stderr = self._proc.stderr if self._proc else None
            err = stderr.read().decode(errors="replace") if stderr else ""
            self.stop()
            raise DriverError(f"simulator exited before serving: {err.strip()[-500:]}")
        self.endpoint = json.loads(line)

    def start(self) -> None:
        """Spawn and wait (blocking) for the endpoint line: for scripts, not the event loop."""
        proc = self._spawn()
        assert proc.stdout is not None
        self._accept(proc.stdout.readline())

    async def astart(self) -> None:
        """Spawn and wait for the endpoint line without blocking the event loop."""
        proc = self._spawn()
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), self._timeout)
        self._accept(line)

    def stop(self) -> None:
        """Terminate the simulator and reap it."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
        self._proc = None

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> SimulatorProcess:
        await self.astart()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)
