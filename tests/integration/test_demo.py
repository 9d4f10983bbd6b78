"""`polekit demo` starts every part, shows readings from each pole, and leaves nothing behind."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
Launcher = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def launch_demo() -> Iterator[Launcher]:
    """Start `polekit demo`; whatever a failing test leaves running is stopped afterwards."""
    started: list[subprocess.Popen[str]] = []

    def launch(*args: str) -> subprocess.Popen[str]:
        demo = subprocess.Popen(
            [sys.executable, "-m", "polekit.cli", "demo", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(demo)
        return demo

    yield launch
    for demo in started:
        if demo.poll() is not None:
            continue
        parts = psutil.Process(demo.pid).children(recursive=True)
        demo.send_signal(signal.SIGINT)
        try:
            demo.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
        _gone, alive = psutil.wait_procs(parts, timeout=5)
        for part in alive:
            part.kill()


def test_demo_shows_readings_from_every_pole_and_stops_cleanly(
    tmp_path: Path, launch_demo: Launcher
) -> None:
    workdir = tmp_path / "demo"
    port = free_port()
    demo = launch_demo("--poles", "3", "--http", f"127.0.0.1:{port}", "--workdir", str(workdir))
    assert demo.stdout is not None
    output: list[str] = []
    seen: set[str] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(seen) < 3:
        line = demo.stdout.readline()
        if not line:
            break
        output.append(line)
        match = re.match(r"\s+(pole-\d{3}): voltage [\d.]+ V", line)
        if match:
            seen.add(match.group(1))
    assert seen == {"pole-001", "pole-002", "pole-003"}, "".join(output[-40:])
    assert any("Modbus RTU on" in line for line in output), "no pole used the pty bus"
    # Broker, fleet, 3 simulators (one with its socat pty pair) and 3 agents.
    parts = psutil.Process(demo.pid).children(recursive=True)
    names = " ".join(" ".join(part.cmdline()) for part in parts)
    assert names.count("agent run") == 3, names
    assert names.count("drivers.sim") == 3, names
    assert "fleet serve" in names, names

    demo.send_signal(signal.SIGINT)  # what Ctrl-C does
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, rest
    assert "stopped" in rest
    _gone, alive = psutil.wait_procs(parts, timeout=5)
    assert alive == [], f"left behind: {[p.cmdline() for p in alive]}"


def test_demo_falls_back_to_the_builtin_broker(tmp_path: Path, launch_demo: Launcher) -> None:
    """Without Mosquitto the demo runs on the in-process MQTT 3.1.1 broker, data still flows."""
    demo = launch_demo(
        "--poles", "1", "--broker", "builtin",
        "--http", f"127.0.0.1:{free_port()}", "--workdir", str(tmp_path / "demo"),
    )  # fmt: skip
    assert demo.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        if not line:
            break
        output.append(line)
        if re.match(r"\s+pole-001: voltage [\d.]+ V", line):
            break
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    text = "".join(output) + rest
    assert "MQTT broker (amqtt, in-process)" in text
    assert re.search(r"pole-001: voltage [\d.]+ V", text), text[-3000:]
    assert demo.returncode == 0
