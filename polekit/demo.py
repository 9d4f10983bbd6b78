"""`polekit demo`: a broker, the fleet on SQLite and simulated poles on this machine, data flowing.

Every part runs as its own process (the same commands a user would run by hand), so the
demo shows the real system; Ctrl-C stops them in order (agents first, so their buffers are
committed) and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from polekit.demo_broker import Broker, start_broker

# Each pole: two sensors on one bus; pole 2 talks Modbus RTU over a pseudo-terminal. On a pty
# a simulated device answers only at its own baud rate, so both are set to the bus's 9600.
SENSORS = ("eastron_sdm120:1:baud=9600", "rs485_env:2:baud=9600")
SHOWN_CHANNELS = ("meter/voltage", "meter/active_power", "env/temperature", "env/pm2_5")


def register(parser: argparse.ArgumentParser) -> None:
    """Options of `polekit demo`."""
    parser.description = (
        "Start an MQTT broker (Mosquitto if installed, else an in-process one), the fleet "
        "on SQLite, and simulated poles (an agent plus simulated Modbus sensors each, over "
        "TCP and over a pseudo-terminal), then show readings as they reach the fleet. "
        "Ctrl-C stops everything."
    )
    parser.add_argument("--poles", type=int, default=3, help="simulated poles (default 3)")
    parser.add_argument(
        "--http", default="127.0.0.1:8080", metavar="HOST:PORT", help="fleet API address"
    )
    parser.add_argument(
        "--workdir", metavar="DIR", help="keep configs, logs and databases here (default: temp)"
    )
    parser.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "builtin"],
        default="auto",
        help="auto: Mosquitto if installed, else the built-in (in-process, MQTT 3.1.1) broker",
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop by itself after this long"
    )
    parser.set_defaults(func=run_demo)


@dataclass
class Part:
    """One child process of the demo."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Demo:
    """The running parts, stopped in reverse dependency order."""

    workdir: Path
    python: str = sys.executable
    agents: list[Part] = field(default_factory=list)
    simulators: list[Part] = field(default_factory=list)
    fleet: Part | None = None
    broker: Broker | None = None
    api_key: str = ""

    def spawn(self, name: str, argv: list[str], *, stdout: int | IO[bytes] | None = None) -> Part:
        """Start a child in its own session, so a terminal Ctrl-C reaches only the demo."""
        log_path = self.workdir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv,
                stdout=stdout if stdout is not None else log,
                stderr=log,
                start_new_session=True,
            )
        return Part(name=name, process=process, log_path=log_path)

    def stop(self) -> None:
        """Agents first (they commit their buffers), then fleet, simulators and broker."""
        for group in (self.agents, [self.fleet] if self.fleet else [], self.simulators):
            for part in group:
                _signal(part, signal.SIGTERM)
            for part in group:
                _reap(part, timeout=10)
        if self.broker is not None:
            self.broker.stop()


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C (or --duration); returns the exit code."""
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="polekit-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    demo = Demo(workdir=workdir)
    stop_requested = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        http_url = _start(demo, args)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while not stop_requested and (deadline is None or time.monotonic() < deadline):
            _check_alive(demo)
            _show_readings(http_url, args.poles, demo.api_key)
            _sleep_until(lambda: stop_requested, 3.0)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\ndemo: stopping (agents first, so their buffers are committed) ...", flush=True)
        demo.stop()
        print(f"demo: stopped; logs and databases are in {workdir}", flush=True)
    return 0


class DemoError(Exception):
    """A part of the demo failed to start or died; the message points at its log."""


def _start(demo: Demo, args: argparse.Namespace) -> str:
    print(f"demo: working directory {demo.workdir}", flush=True)
    demo.broker = start_broker(demo.workdir, choice=args.broker)
    print(f"demo: MQTT broker ({demo.broker.kind}) at {demo.broker.url}", flush=True)

    host, _, port = args.http.rpartition(":")
    http_url = f"http://{host}:{port}"
    # The fleet API wants a key; the demo makes a throwaway admin key for this run.
    key_file = demo.workdir / "admin.key"
    key_file.write_text(secrets.token_urlsafe(24))
    key_file.chmod(0o600)
    demo.api_key = key_file.read_text()
    demo.fleet = demo.spawn(
        "fleet",
        [
            demo.python, "-m", "polekit.cli", "fleet", "serve",
            "--db", f"sqlite:///{demo.workdir / 'fleet.db'}",
            "--mqtt", demo.broker.url, "--http", args.http,
            "--client-id", f"polekit-demo-fleet-{os.getpid()}",
            "--admin-key-file", str(key_file), "--keys-dir", str(demo.workdir / "keys"),
        ],
    )  # fmt: skip
    _wait_http(f"{http_url}/healthz", demo.fleet)
    print(f"demo: fleet API at {http_url}/api/v1/devices (OpenAPI: {http_url}/schema)")
    auth = f'-H "Authorization: Bearer $(cat {key_file})"'
    print(f"demo: admin API key in {key_file}; try: curl {auth} {http_url}/api/v1/devices")

    for index in range(1, args.poles + 1):
        device_id = f"pole-{index:03d}"
        over_pty = index % 3 == 2
        sim = demo.spawn(
            f"{device_id}-sensors",
            [demo.python, "-m", "drivers.sim", *(["--pty"] if over_pty else ["--tcp", "0"])]
            + [arg for sensor in SENSORS for arg in ("--device", sensor)],
            stdout=subprocess.PIPE,
        )
        demo.simulators.append(sim)
        endpoint = _read_endpoint(sim)
        config = _agent_config(device_id, demo, endpoint)
        path = demo.workdir / f"{device_id}.json"
        path.write_text(json.dumps(config, indent=2))
        agent = demo.spawn(
            f"{device_id}-agent",
            [demo.python, "-m", "polekit.cli", "agent", "run", "--config", str(path)],
        )
        demo.agents.append(agent)
        link = f"Modbus RTU on {endpoint['pty']}" if over_pty else "Modbus TCP"
        print(f"demo: {device_id}: agent + SDM120 meter and environment sensor over {link}")
    print("demo: readings as they reach the fleet (Ctrl-C to stop):", flush=True)
    return http_url


def _agent_config(device_id: str, demo: Demo, endpoint: dict[str, Any]) -> dict[str, Any]:
    """A small agent config; JSON is valid YAML, so the agent reads it as is."""
    if "pty" in endpoint:
        bus: dict[str, Any] = {"name": "rs485-1", "modbus_rtu": {"port": endpoint["pty"]}}
    else:
        bus = {"name": "lan", "modbus_tcp": {"host": "127.0.0.1", "port": endpoint["tcp_port"]}}
    bus["devices"] = [
        {"name": "meter", "driver": "eastron_sdm120", "unit": 1, "poll": "2s"},
        {"name": "env", "driver": "rs485_env", "unit": 2, "poll": "5s"},
    ]
    assert demo.broker is not None
    return {
        "device_id": device_id,
        "buses": [bus],
        "uplink": {"broker": demo.broker.url, "batch_interval": "1s"},
        "buffer": {"path": str(demo.workdir / f"{device_id}-buffer.db")},
        "health": {"interval": "10s"},
    }


def _read_endpoint(sim: Part) -> dict[str, Any]:
    """The simulator prints one JSON line with its port or pty once it serves."""
    assert sim.process.stdout is not None
    line = sim.process.stdout.readline()
    try:
        endpoint: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        raise DemoError(f"{sim.name} did not start; see {sim.log_path}") from None
    return endpoint


def _show_readings(http_url: str, poles: int, api_key: str) -> None:
    for index in range(1, poles + 1):
        device_id = f"pole-{index:03d}"
        request = urllib.request.Request(  # noqa: S310 - an http URL the demo built
            f"{http_url}/api/v1/devices/{device_id}/latest",
            headers={"Authorization": f"Bearer {api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - ditto
                latest = json.load(response)
        except OSError:
            print(f"  {device_id}: waiting for its first readings ...")
            continue
        values = {item["channel"]: item for item in latest.get("channels", [])}
        shown = [
            f"{name.split('/')[1]} {values[name]['value']:.1f} {values[name]['unit'] or ''}"
            for name in SHOWN_CHANNELS
            if name in values and values[name]["value"] is not None
        ]
        print(f"  {device_id}: " + ("  ".join(shown) if shown else "no readings yet"))
    print(flush=True)


def _check_alive(demo: Demo) -> None:
    parts = [*demo.agents, *demo.simulators, *([demo.fleet] if demo.fleet else [])]
    for part in parts:
        if part.process.poll() is not None:
            raise DemoError(
                f"{part.name} exited with code {part.process.returncode}; see {part.log_path}"
            )


def _wait_http(url: str, part: Part, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if part.process.poll() is not None:
            raise DemoError(f"{part.name} exited early; see {part.log_path}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=1) as response,  # noqa: S310 - our own http URL
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise DemoError(f"{part.name} did not answer {url} within {timeout:.0f} s; see {part.log_path}")


def _sleep_until(stop: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        time.sleep(0.1)


def _signal(part: Part, signum: int) -> None:
    if part.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(part.process.pid, signum)


def _reap(part: Part, *, timeout: float) -> None:
    try:
        part.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal(part, signal.SIGKILL)
        part.process.wait(timeout=5)
