"""End-to-end harness: simulators, agents and fleets as real processes, and exactly-once checks.

Everything here blocks (the tests are plain functions); waits poll a condition with a bound
and fail with the subprocesses' log tails.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text

from drivers.sim.process import SimulatorProcess
from edge.buffer.status import read_buffer_status
from edge.buffer.types import BufferStatus
from fleet.db.engine import create_null_pool_engine
from fleet.settings import DatabaseSettings
from tests.services import ADMIN_AUTH, REPO, FleetProcess

_ids = itertools.count()
_POLEKIT = (sys.executable, "-m", "polekit.cli")
_BOOT_RE = re.compile(r"starting \(boot ([0-9a-f]+)\)")


def unique_id(prefix: str) -> str:
    """A device id (matches [a-z0-9-]{1,64}) no other test or run uses on a shared broker."""
    return f"{prefix}-{os.getpid()}-{next(_ids)}-{time.monotonic_ns() % 10**6}"


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    logs: Callable[[], str] = lambda: "",
    interval: float = 0.1,
) -> None:
    """Poll `condition` until it holds; AssertionError naming `what` plus log tails otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")
        time.sleep(interval)


# --------------------------------------------------------------------------- agent configs


@dataclass(frozen=True, kw_only=True)
class SimDevice:
    """One sensor an agent polls: its name on the gateway, driver, unit id and poll period."""

    name: str
    driver: str
    unit: int
    poll: str = "300ms"

    def as_config(self) -> dict[str, Any]:
        """The device entry of the agent config."""
        return {"name": self.name, "driver": self.driver, "unit": self.unit, "poll": self.poll}


@dataclass(frozen=True, kw_only=True)
class Bus:
    """A bus of the agent config: Modbus TCP to `tcp_port` or Modbus RTU on `serial_port`."""

    name: str
    devices: Sequence[SimDevice]
    tcp_port: int | None = None
    serial_port: str | None = None
    baud: int = 2400  # the simulator's pty follows the first driver's defaults (SDM120: 2400)

    def as_config(self) -> dict[str, Any]:
        """The bus entry of the agent config (short timeouts, so faults show up quickly)."""
        bus: dict[str, Any] = {"name": self.name, "timeout": "500ms", "retries": 1}
        if self.tcp_port is not None:
            bus["modbus_tcp"] = {"host": "127.0.0.1", "port": self.tcp_port}
        else:
            bus["modbus_rtu"] = {"port": self.serial_port, "baud": self.baud}
        bus["devices"] = [device.as_config() for device in self.devices]
        return bus


def agent_config(
    *,
    device_id: str,
    buses: Sequence[Bus],
    broker_url: str,
    buffer_path: Path,
    ack_timeout: str = "3s",
    inflight: int = 16,
) -> dict[str, Any]:
    """An agent config document with short batches, acks, reconnects and heartbeats."""
    return {
        "device_id": device_id,
        "buses": [bus.as_config() for bus in buses],
        "uplink": {
            "broker": broker_url,
            "batch_interval": "300ms",
            "ack_timeout": ack_timeout,
            "inflight": inflight,
            "reconnect_max": "3s",
            "keepalive": "5s",
        },
        "buffer": {"path": str(buffer_path), "commit_interval": "100ms", "synchronous": "normal"},
        "health": {"interval": "1s"},
    }


# --------------------------------------------------------------------------- processes


@dataclass
class AgentProcess:
    """`polekit agent run --config FILE` in its own process group."""

    config_path: Path
    log_path: Path
    document: dict[str, Any]
    process: subprocess.Popen[bytes] | None = None

    @property
    def device_id(self) -> str:
        """The gateway's device id."""
        return str(self.document["device_id"])

    @property
    def buffer_path(self) -> Path:
        """The store-and-forward buffer database."""
        return Path(self.document["buffer"]["path"])

    @property
    def status_file(self) -> Path:
        """The heartbeat file the agent writes beside its buffer."""
        return Path(f"{self.buffer_path}.status.json")

    def start(self, timeout: float = 30.0) -> AgentProcess:
        """Start and wait until the agent logged its boot id (config valid, buffer open)."""
        self.config_path.write_text(yaml.safe_dump(self.document, sort_keys=False))
        known = len(self.boot_ids())
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*_POLEKIT, "agent", "run", "--config", str(self.config_path)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(
            lambda: len(self.boot_ids()) > known or not self.running,
            timeout=timeout,
            what=f"agent {self.device_id} to start",
            logs=self.log_tail,
        )
        assert self.running, f"agent {self.device_id} exited at start:\n{self.log_tail()}"
        return self

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self.process is not None and self.process.poll() is None

    def boot_ids(self) -> list[str]:
        """Boot ids of every run so far, in order (parsed from the log)."""
        if not self.log_path.exists():
            return []
        return _BOOT_RE.findall(self.log_path.read_text(errors="replace"))

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the graceful exit; returns the exit code."""
        assert self.process is not None, "agent not started"
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"agent {self.device_id} ignored SIGTERM for {timeout} s:\n{self.log_tail()}"
                ) from None
        return int(self.process.returncode)

    def kill(self) -> None:
        """SIGKILL the process group: nothing is flushed, nothing is cleaned up."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def buffer_status(self) -> BufferStatus:
        """Committed counters and depth, read from the buffer database."""
        return read_buffer_status(self.buffer_path)

    def heartbeat(self) -> dict[str, Any] | None:
        """The last heartbeat the agent wrote (health + uplink state), or None."""
        try:
            return dict(json.loads(self.status_file.read_text()))
        except (OSError, ValueError):
            return None

    def device_health(self, name: str) -> dict[str, Any] | None:
        """One sensor's entry in the last heartbeat, or None."""
        beat = self.heartbeat()
        for device in (beat or {}).get("health", {}).get("devices", []):
            if device["name"] == name:
                return dict(device)
        return None

    def uplink(self) -> dict[str, Any]:
        """The uplink state of the last heartbeat (connected, connects, republished_batches...)."""
        beat = self.heartbeat()
        return dict((beat or {}).get("uplink", {}))

    def uplink_connects(self) -> int:
        """How many times the uplink connected, per the last heartbeat."""
        return int(self.uplink().get("connects", 0))

    def delivered(self) -> int:
        """Committed `delivered` counter (0 before the buffer exists)."""
        if not self.buffer_path.exists():
            return 0
        return self.buffer_status().accounting.delivered

    def status_cli(self) -> dict[str, Any]:
        """`polekit agent status --config FILE --json`, parsed."""
        result = subprocess.run(
            [*_POLEKIT, "agent", "status", "--json", "--config", str(self.config_path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    def log_tail(self, n_bytes: int = 3000) -> str:
        """The end of this agent's log (all runs), for failure messages."""
        if not self.log_path.exists():
            return f"--- agent {self.device_id}: no log yet"
        tail = self.log_path.read_bytes()[-n_bytes:].decode(errors="replace")
        return f"--- agent {self.device_id} log tail:\n{tail}"


@dataclass
class E2E:
    """Owns the processes of one test (simulators, agents, fleets) and stops them all."""

    workdir: Path
    fleet_factory: Callable[..., FleetProcess]
    simulators: list[SimulatorProcess] = field(default_factory=list)
    agents: list[AgentProcess] = field(default_factory=list)
    fleets: list[FleetProcess] = field(default_factory=list)

    def simulator(self, *devices: str, pty: bool = False) -> SimulatorProcess:
        """Start `python -m drivers.sim` (TCP on a free port, or RTU on a pty) with devices."""
        sim = SimulatorProcess(list(devices), tcp_port=None if pty else 0, pty=pty)
        self.simulators.append(sim)
        sim.start()
        return sim

    def fleet(self, *, db_url: str, broker_url: str) -> FleetProcess:
        """Start `polekit fleet serve` on db_url and broker_url with a unique client id."""
        fleet = self.fleet_factory(
            db_url=db_url, mqtt_url=broker_url, client_id=unique_id("pk-e2e-fleet")
        )
        self.fleets.append(fleet)
        return fleet

    def agent(
        self, *, device_id: str, buses: Sequence[Bus], broker_url: str, **options: Any
    ) -> AgentProcess:
        """Write a config for device_id (buffer in the test's temp dir) and start the agent."""
        document = agent_config(
            device_id=device_id,
            buses=buses,
            broker_url=broker_url,
            buffer_path=self.workdir / device_id / "buffer.db",
            **options,
        )
        agent = AgentProcess(
            config_path=self.workdir / f"{device_id}.yaml",
            log_path=self.workdir / f"{device_id}.log",
            document=document,
        )
        self.agents.append(agent)
        return agent.start()

    def drain(self, agent: AgentProcess, timeout: float = 60.0) -> BufferStatus:
        """After a stop: run the same gateway with no buses until its buffer is empty, stop it.

        A stopped agent delivers nothing, so what its last run left in the buffer is delivered
        by the next run of the same config; without buses that run reads nothing new.
        """
        assert not agent.running, "drain a stopped agent"
        agent.document = {**agent.document, "buses": []}
        agent.start()
        wait_until(
            lambda: agent.buffer_status().stats.batches == 0,
            timeout=timeout,
            what=f"the buffer of {agent.device_id} to be delivered and acked",
            logs=self.logs,
        )
        assert agent.terminate() == 0, agent.log_tail()
        return agent.buffer_status()

    def stop_and_check(self, agents: Sequence[AgentProcess], db_url: str) -> list[FleetRows]:
        """SIGTERM each agent (exit 0, accounting balanced), drain it, assert exactly once."""
        for agent in agents:
            assert agent.terminate() == 0, agent.log_tail()
            status = agent.buffer_status()
            assert status.accounting.is_balanced(), f"{status}\n{agent.log_tail()}"
        for agent in agents:
            self.drain(agent)
        return [assert_exactly_once(db_url, agent, self.logs) for agent in agents]

    def logs(self) -> str:
        """Log tails of every agent and fleet of this test."""
        parts = [agent.log_tail() for agent in self.agents]
        parts += [f"--- fleet log tail:\n{fleet.log_tail()}" for fleet in self.fleets]
        return "\n".join(parts)

    def close(self) -> None:
        """SIGKILL the agents' process groups and stop the simulators (fleets: their fixture)."""
        for agent in self.agents:
            agent.kill()
        for sim in self.simulators:
            sim.stop()


# --------------------------------------------------------------------------- fleet database


@dataclass(frozen=True, kw_only=True)
class FleetRows:
    """What the fleet database holds for one device."""

    batches: list[tuple[str, int, int]]
    """(boot id, seq, n_records) of every stored batch, sorted."""
    points: int
    duplicate_points: list[tuple[str, float, int]]
    """(channel, ts, count) of every point stored more than once."""
    channels: set[str]


async def _fleet_rows(db_url: str, device_id: str) -> FleetRows:
    engine = create_null_pool_engine(DatabaseSettings(url=db_url))
    where = {"device": device_id}
    try:
        async with engine.connect() as connection:
            batches = await connection.execute(
                text(
                    "SELECT boot_id, seq, n_records FROM telemetry_batch WHERE device_id = :device"
                ),
                where,
            )
            points = await connection.scalar(
                text("SELECT count(*) FROM telemetry_point WHERE device_id = :device"), where
            )
            duplicates = await connection.execute(
                text(
                    "SELECT channel, ts, count(*) FROM telemetry_point WHERE device_id = :device"
                    " GROUP BY channel, ts HAVING count(*) > 1"
                ),
                where,
            )
            channels = await connection.execute(
                text("SELECT DISTINCT channel FROM telemetry_point WHERE device_id = :device"),
                where,
            )
            return FleetRows(
                batches=sorted((str(b), int(s), int(n)) for b, s, n in batches.all()),
                points=int(points or 0),
                duplicate_points=[(str(c), float(t), int(n)) for c, t, n in duplicates.all()],
                channels={str(c) for (c,) in channels.all()},
            )
    finally:
        await engine.dispose()


def fleet_rows(db_url: str, device_id: str) -> FleetRows:
    """Read one device's batches and points straight from the fleet database."""
    return asyncio.run(_fleet_rows(db_url, device_id))


def assert_exactly_once(db_url: str, agent: AgentProcess, logs: Callable[[], str]) -> FleetRows:
    """Every reading the agent counted as delivered is in the fleet once, and nothing else is.

    Checks, for a stopped and drained agent: the accounting invariant; an empty buffer; fleet
    rows == the committed `delivered` counter; no duplicate (boot id, seq) batch and no duplicate
    (channel, ts) point; per boot id, batch sequences without gaps unless the buffer dropped
    batches to stay under its bound; and only this agent's boot ids in the fleet.
    """
    status = agent.buffer_status()
    acc = status.accounting
    rows = fleet_rows(db_url, agent.device_id)
    context = f"device {agent.device_id}: accounting {acc}, buffer {status.stats}\n{logs()}"
    assert acc.is_balanced(), f"accounting does not balance ({acc.imbalance()}): {context}"
    assert status.stats.batches == 0, f"buffer not drained: {context}"
    assert acc.read > 0, f"nothing was read: {context}"
    assert acc.delivered > 0, f"nothing was delivered: {context}"
    assert rows.points == acc.delivered, (
        f"fleet has {rows.points} points, agent counted {acc.delivered} delivered: {context}"
    )
    assert sum(n for _, _, n in rows.batches) == rows.points, f"batch sizes != points: {context}"
    keys = [(boot, seq) for boot, seq, _ in rows.batches]
    assert len(keys) == len(set(keys)), f"duplicate (boot id, seq) batches: {context}"
    assert not rows.duplicate_points, f"duplicate points {rows.duplicate_points[:5]}: {context}"
    boots = {boot for boot, _ in keys}
    assert boots <= set(agent.boot_ids()), (
        f"fleet has boot ids {boots}, the agent ran as {agent.boot_ids()}: {context}"
    )
    if acc.dropped_buffer_full == 0:
        for boot in boots:
            seqs = sorted(seq for b, seq in keys if b == boot)
            missing = sorted(set(range(seqs[-1] + 1)) - set(seqs))
            assert not missing, f"boot {boot} lacks batches {missing[:20]}: {context}"
    return rows


def fleet_health(fleet: FleetProcess) -> dict[str, Any]:
    """The fleet's /healthz document (bridge counters), whatever its status code."""
    response = httpx.get(f"{fleet.http_url}/healthz", timeout=5)
    return dict(response.json())


def api_points(fleet: FleetProcess, device_id: str, **query: str) -> list[dict[str, Any]]:
    """Every point of a device through the API, following `next_cursor` to the last page."""
    points: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "500", **query}
    url = f"{fleet.http_url}/api/v1/devices/{device_id}/telemetry"
    for _ in range(10_000):
        response = httpx.get(url, params=params, headers=ADMIN_AUTH, timeout=10)
        assert response.status_code == 200, response.text
        page = response.json()
        points.extend(page["items"])
        if page["next_cursor"] is None:
            return points
        params["cursor"] = page["next_cursor"]
    raise AssertionError(f"telemetry of {device_id} did not end after 10000 pages")
