"""The demo's MQTT broker: Mosquitto when installed, otherwise amqtt in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Broker:
    """A running broker and how to stop it."""

    kind: str
    url: str
    _process: subprocess.Popen[bytes] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None

    def stop(self) -> None:
        """Stop the broker and wait for it."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        if self._loop is not None and self._thread is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)


def start_broker(workdir: Path, *, choice: str = "auto") -> Broker:
    """Mosquitto on a free loopback port if installed (or chosen), else the in-process one."""
    port = free_port()
    binary = mosquitto_path() if choice != "builtin" else None
    if binary is not None:
        return _start_mosquitto(binary, workdir, port)
    if choice == "mosquitto":
        raise RuntimeError(
            "mosquitto is not installed: apt-get install mosquitto, or --broker builtin"
        )
    return _start_amqtt(port)


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_path() -> str | None:
    """Mosquitto's binary; Debian puts it in /usr/sbin, which is often not on PATH."""
    found = shutil.which("mosquitto")
    if found is None and os.access("/usr/sbin/mosquitto", os.X_OK):
        found = "/usr/sbin/mosquitto"
    return found


def _start_mosquitto(binary: str, workdir: Path, port: int) -> Broker:
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    with (workdir / "mosquitto.log").open("ab") as log:
        process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=log, stderr=log, start_new_session=True
        )
    _wait_for_port(port, process)
    return Broker(kind="mosquitto", url=f"mqtt://127.0.0.1:{port}", _process=process)


def _start_amqtt(port: int) -> Broker:
    """amqtt speaks MQTT 3.1.1 only, so every client is told ?version=3.1.1."""
    from amqtt.broker import Broker as AmqttBroker

    ready = threading.Event()
    holder: dict[str, asyncio.AbstractEventLoop] = {}
    broker = Broker(kind="amqtt, in-process", url=f"mqtt://127.0.0.1:{port}?version=3.1.1")

    async def serve() -> None:
        amqtt = AmqttBroker(
            {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}}
        )
        await amqtt.start()
        broker._stop = asyncio.Event()
        ready.set()
        await broker._stop.wait()
        await amqtt.shutdown()

    def main() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        loop.run_until_complete(serve())
        loop.close()

    thread = threading.Thread(target=main, name="demo-broker", daemon=True)
    thread.start()
    if not ready.wait(timeout=15):
        raise RuntimeError("the in-process MQTT broker did not start")
    broker._loop = holder["loop"]
    broker._thread = thread
    return broker


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("mosquitto exited at start; see mosquitto.log in the workdir")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on port {port} within {timeout:.0f} s")
