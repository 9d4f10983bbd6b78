"""Shared parts of the agent-level benchmarks: services, the agent as a process, measurements.

Each benchmark runs the real `polekit agent run` in its own process (same interpreter as the
benchmark) against a private Mosquitto, the fleet as a subprocess (SQLite, so batches are
acknowledged and deleted) and Modbus simulators in their own processes. Only the agent's pid
is measured (psutil): CPU is the cpu_times delta over wall time, RSS is sampled.

Rates come from the agent's own counters: its status file (written every few seconds with
the heartbeat) carries per-bus requests and the reading accounting, stamped with uptime.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from drivers.sim.process import SimulatorProcess  # noqa: E402
from tests.services import Broker, FleetProcess, MosquittoProcess  # noqa: E402

BENCH_DRIVERS = Path(__file__).resolve().parent / "drivers"
RESULTS = Path(__file__).resolve().parent / "results"
MIB = 2**20


@dataclass
class Services:
    """A private broker and the fleet (SQLite) acknowledging every batch it commits."""

    broker: Broker
    fleet: FleetProcess
    workdir: Path


@contextlib.contextmanager
def services(workdir: Path) -> Iterator[Services]:
    """Private mosquitto + `polekit fleet serve` on SQLite, both stopped afterwards."""
    with MosquittoProcess(extra_config=("max_inflight_messages 1000",)) as mosquitto:
        fleet = FleetProcess(
            db_url=f"sqlite+aiosqlite:///{workdir / 'fleet.db'}",
            mqtt_url=mosquitto.url,
            client_id=f"bench-fleet-{os.getpid()}",
            extra_args=("--log-level", "warning"),
        )
        try:
            fleet.start()
            yield Services(broker=mosquitto.broker, fleet=fleet, workdir=workdir)
        finally:
            fleet.close()


@contextlib.contextmanager
def simulators(groups: Sequence[Sequence[str]]) -> Iterator[list[SimulatorProcess]]:
    """One simulator process per group of NAME:UNIT specs (each on its own TCP port)."""
    started: list[SimulatorProcess] = []
    try:
        for specs in groups:
            sim = SimulatorProcess(specs, driver_paths=[BENCH_DRIVERS])
            sim.start()
            started.append(sim)
        yield started
    finally:
        for sim in started:
            sim.stop()


def agent_config(
    *,
    device_id: str,
    buses: Sequence[dict[str, Any]],
    broker: Broker,
    buffer_path: Path,
    health_interval: str = "30s",
    uplink: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An agent config document (JSON is valid YAML, so it is written as JSON)."""
    return {
        "device_id": device_id,
        "buses": list(buses),
        "uplink": {"broker": broker.url, **(uplink or {})},
        "buffer": {"path": str(buffer_path)},
        "health": {"interval": health_interval},
    }


def tcp_bus(name: str, port: int, devices: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A Modbus TCP bus on loopback."""
    return {"name": name, "modbus_tcp": {"host": "127.0.0.1", "port": port}, "devices": devices}


@dataclass
class Snapshot:
    """The agent's heartbeat as written to its status file, plus our own CPU/wall stamps."""

    uptime: float
    requests: int
    values_read_by_buses: int
    counts: dict[str, int]
    cpu_seconds: float
    wall: float
    rss_bytes: int
    raw: dict[str, Any] = field(repr=False)


class AgentProcess:
    """`python -m polekit.cli agent run` in a subprocess, measured through psutil."""

    def __init__(self, config: dict[str, Any], workdir: Path, *, name: str) -> None:
        self.workdir = workdir
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(json.dumps(config, indent=1))
        self.status_path = Path(config["buffer"]["path"] + ".status.json")
        self.log_path = workdir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None
        self.rss_samples: list[tuple[float, int]] = []

    def _argv(self, verb: str, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "polekit.cli",
            "agent",
            verb,
            "--config",
            str(self.config_path),
            "--driver-path",
            str(BENCH_DRIVERS),
            *extra,
        ]

    def start(self) -> AgentProcess:
        """Spawn the agent (its log goes to a file next to the config)."""
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self._argv("run", "--log-level", "WARNING"),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.ps = psutil.Process(self._proc.pid)
        return self

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"agent exited with {self._proc.returncode}: {self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the agent process so far."""
        assert self.ps is not None
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        """Resident set size now, in bytes (also kept as a sample)."""
        assert self.ps is not None
        value = int(self.ps.memory_info().rss)
        self.rss_samples.append((time.monotonic(), value))
        return value

    def read_status(self) -> dict[str, Any] | None:
        """The latest status file, or None before the first heartbeat."""
        try:
            return dict(json.loads(self.status_path.read_text()))
        except (OSError, ValueError):
            return None

    def wait_status(
        self, *, newer_than: float = -1.0, timeout: float = 30.0, sample_rss: bool = True
    ) -> Snapshot:
        """Wait for a heartbeat with uptime above `newer_than`; stamp it with CPU and wall."""
        deadline = time.monotonic() + timeout
        next_rss = 0.0
        while True:
            self._check_alive()
            now = time.monotonic()
            if sample_rss and now >= next_rss:
                self.rss()
                next_rss = now + 1.0
            status = self.read_status()
            if status is not None and status["health"]["uptime_s"] > newer_than:
                return self._snapshot(status)
            if now > deadline:
                raise TimeoutError(f"no fresh agent heartbeat in {timeout}s: {self.log_tail()}")
            time.sleep(0.02)

    def _snapshot(self, status: dict[str, Any]) -> Snapshot:
        health = status["health"]
        return Snapshot(
            uptime=float(health["uptime_s"]),
            requests=sum(int(bus["requests"]) for bus in health["buses"]),
            values_read_by_buses=int(health["counts"]["read"]),
            counts={k: int(v) for k, v in health["counts"].items()},
            cpu_seconds=self.cpu_seconds(),
            wall=time.monotonic(),
            rss_bytes=self.rss(),
            raw=status,
        )

    def wait_until(self, predicate: Any, *, timeout: float = 30.0) -> Snapshot:
        """Wait for a heartbeat for which predicate(snapshot) is true."""
        deadline = time.monotonic() + timeout
        uptime = -1.0
        while True:
            snap = self.wait_status(newer_than=uptime, timeout=max(deadline - time.monotonic(), 1))
            if predicate(snap):
                return snap
            uptime = snap.uptime

    def sample_for(self, seconds: float, every: float = 1.0) -> None:
        """Sample RSS every `every` seconds for `seconds` (the agent keeps running)."""
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            self._check_alive()
            self.rss()
            time.sleep(min(every, max(end - now, 0.0)))

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the agent commits its open batch and closes the buffer."""
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        return int(self._proc.returncode)

    def status_report(self) -> dict[str, Any]:
        """`polekit agent status --json` (reads the buffer database; works after a stop)."""
        out = subprocess.run(
            self._argv("status", "--json"), cwd=REPO, capture_output=True, check=True, text=True
        )
        return dict(json.loads(out.stdout))

    def log_tail(self, n_bytes: int = 3000) -> str:
        """The end of the agent's log."""
        try:
            return self.log_path.read_bytes()[-n_bytes:].decode(errors="replace")
        except OSError:
            return ""


def rates(first: Snapshot, last: Snapshot) -> dict[str, float]:
    """Per-second rates between two heartbeats, and the agent's CPU over our wall window."""
    span = last.uptime - first.uptime
    wall = last.wall - first.wall
    return {
        "seconds": round(span, 2),
        "cpu_percent_of_one_core": round(100 * (last.cpu_seconds - first.cpu_seconds) / wall, 2),
        "requests_per_s": round((last.requests - first.requests) / span, 1),
        "values_read_per_s": round((last.counts["read"] - first.counts["read"]) / span, 1),
        "values_delivered_per_s": round(
            (last.counts["delivered"] - first.counts["delivered"]) / span, 1
        ),
    }


def rss_summary(samples: Sequence[tuple[float, int]], since: float = 0.0) -> dict[str, float]:
    """Mean, max and last RSS (MiB) of the samples taken at or after `since`."""
    values = [rss for at, rss in samples if at >= since] or [0]
    return {
        "rss_mib_mean": round(statistics.fmean(values) / MIB, 1),
        "rss_mib_max": round(max(values) / MIB, 1),
        "rss_mib_last": round(values[-1] / MIB, 1),
        "rss_samples": len(values),
    }


def accounting_check(report: dict[str, Any]) -> dict[str, Any]:
    """The committed accounting after a graceful stop, and whether it balances."""
    acc = report["accounting"]
    produced = acc["read"] - acc["out_of_range"] - acc["filtered"] + acc["aggregated_out"]
    accounted = acc["dropped_buffer_full"] + acc["delivered"] + acc["buffered"] + acc["pending"]
    return {
        **acc,
        "left_side": produced,
        "right_side": accounted,
        "balanced": produced == accounted and bool(report["accounting_balanced"]),
    }


def write_result(name: str, result: dict[str, Any]) -> None:
    """Write results/<name>.json and print the result as one JSON line (the last one)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary directory for configs, buffers and logs."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)
