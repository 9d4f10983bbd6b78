"""The config supervisor: one generation per config, a trial through the gate, commit or revert."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.config import AgentConfig
from edge.config_apply import ConfigChannel
from edge.config_file import convert_config
from edge.config_store import ConfigStore
from edge.config_supervisor import NO_TRUST_ROOT, ConfigSupervisor
from edge.uplink import UplinkStats
from tests.unit.edge_ota.signing import DEVICE, Signer, config


@dataclass
class FakeBus:
    """Bus counters as the gate reads them."""

    name: str
    polls_ok: int
    devices: dict[str, object] = field(default_factory=lambda: {"meter": object()})


class FakeAgent:
    """A generation whose health is decided by its config's poll interval (1s: broken bus)."""

    def __init__(self, config: AgentConfig, started: list[int]) -> None:
        self.config = config
        started.append(config.version)
        healthy = config.buses[0].devices[0].poll != 1.0
        self.uplink_stats = UplinkStats(connected=True)
        self.bus_stats = [FakeBus(name="lan", polls_ok=5 if healthy else 0)]

    async def run(self) -> None:
        await asyncio.Future()


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def test_commit_then_revert_with_restarts_and_reports(tmp_path: Path) -> None:
    signer = Signer()
    started: list[int] = []
    local = convert_config(config(), file="<local>")

    def make(cfg: AgentConfig, _channel: ConfigChannel) -> FakeAgent:
        return FakeAgent(cfg, started)

    supervisor = ConfigSupervisor(
        local=local,
        store=ConfigStore(tmp_path),
        keys=signer.keys,
        make_agent=make,
        health_window=0.2,
    )
    task = asyncio.create_task(supervisor.run())
    try:
        await _until(lambda: started == [0])
        supervisor.channel.offer(signer.envelope(1, config(poll="5s")))
        await _until(lambda: supervisor.channel.outcome is not None)
        assert supervisor.channel.report_message() is not None
        outcome = supervisor.channel.outcome
        assert outcome is not None
        assert (outcome.version, outcome.status) == (1, "applied")
        assert started == [0, 1]
        supervisor.channel.offer(signer.envelope(2, config(poll="1s")))
        await _until(lambda: supervisor.channel.outcome != outcome)
        rolled = supervisor.channel.outcome
        assert rolled is not None
        assert (rolled.version, rolled.status) == (2, "rolled_back")
        assert "bus lan" in (rolled.reason or "")
        assert started == [0, 1, 2, 1]  # back on version 1, as a new generation
        assert supervisor.config.version == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    restarted = ConfigStore(tmp_path)
    assert restarted.state.active_version == 1
    assert restarted.state.highest == 2


async def test_without_keys_the_agent_runs_and_raises_an_alarm(tmp_path: Path) -> None:
    started: list[int] = []
    supervisor = ConfigSupervisor(
        local=convert_config(config(), file="<local>"),
        store=ConfigStore(tmp_path),
        keys={},
        make_agent=lambda cfg, _channel: FakeAgent(cfg, started),
        health_window=0.1,
    )
    task = asyncio.create_task(supervisor.run())
    try:
        await _until(lambda: started == [0])
        assert supervisor.channel.alarms == [NO_TRUST_ROOT]
        supervisor.channel.offer(Signer().envelope(1, config()))
        await _until(lambda: supervisor.channel.outcome is not None)
        outcome = supervisor.channel.outcome
        assert outcome is not None
        assert outcome.status == "rejected"
        assert started == [0]
        assert supervisor.config.device_id == DEVICE
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_signed_rollback_to_version_0_returns_to_the_local_config(tmp_path: Path) -> None:
    signer = Signer()
    started: list[int] = []
    local = convert_config(config(poll="7s"), file="<local>")
    supervisor = ConfigSupervisor(
        local=local,
        store=ConfigStore(tmp_path),
        keys=signer.keys,
        make_agent=lambda cfg, _channel: FakeAgent(cfg, started),
        health_window=0.1,
    )
    task = asyncio.create_task(supervisor.run())
    try:
        await _until(lambda: started == [0])
        supervisor.channel.offer(signer.envelope(1, config(poll="5s")))
        await _until(lambda: started == [0, 1] and supervisor.channel.outcome is not None)
        # The fleet never saw the local config: its rollback carries only its own base.
        base = {"device_id": DEVICE}
        supervisor.channel.offer(signer.envelope(0, base, rollback=True))
        await _until(lambda: len(started) == 3 and supervisor.channel.outcome.version == 0)  # type: ignore[union-attr]
        assert supervisor.config == local
        assert ConfigStore(tmp_path).active() is None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
