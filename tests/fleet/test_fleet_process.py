"""`polekit fleet serve` as a real process: SIGKILL mid-stream loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from fleet.db.engine import create_engine, session_factory
from fleet.db.migrate import head_revision
from fleet.settings import DatabaseSettings
from protocol.senml import TelemetryBatch
from tests.fleet.db_helpers import count_points, stored_seqs
from tests.fleet.edge_stub import (
    EdgeStub,
    acked,
    edge_stub,
    eventually,
    make_batch,
    unique_device,
)
from tests.services import REPO, Broker, FleetProcess

BOOT = "0badc0de0badc0de"
N_BATCHES = 120
RECORDS = 5
RESEND_AFTER_S = 2.0


class ResendingEdge:
    """Emulates the edge's store-and-forward: keep every batch until acked, resend if late."""

    def __init__(self, stub: EdgeStub) -> None:
        self.stub = stub
        self.unacked: dict[int, tuple[TelemetryBatch, float]] = {}
        self.acked: set[int] = set()

    async def send(self, batch: TelemetryBatch) -> None:
        """Publish a new batch and remember it until acked."""
        self.unacked[batch.seq] = (batch, time.monotonic())
        await self.stub.publish_batch(batch)

    async def pump(self) -> None:
        """Apply acks and resend overdue batches; runs until cancelled."""
        while True:
            while not self.stub.acks.empty():
                ack, _ = self.stub.acks.get_nowait()
                for boot_id, seq in acked(ack):
                    assert boot_id == BOOT
                    self.acked.add(seq)
                    self.unacked.pop(seq, None)
            now = time.monotonic()
            for seq, (batch, sent) in list(self.unacked.items()):
                if now - sent > RESEND_AFTER_S:
                    self.unacked[seq] = (batch, now)
                    # The broker may be refusing publishes of a dead client; try again later.
                    await self.stub.publish_batch(batch)
            await asyncio.sleep(0.05)


async def _true(value: bool) -> bool:
    return value


async def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(
    db_url: str, private_broker: Broker, fleet_process_factory: Callable[..., FleetProcess]
) -> None:
    device = unique_device("kill")
    client_id = f"pk-test-{device}"
    fleet = fleet_process_factory(db_url=db_url, mqtt_url=private_broker.url, client_id=client_id)
    async with edge_stub(private_broker, device) as stub:
        edge = ResendingEdge(stub)
        pump = asyncio.create_task(edge.pump())
        try:
            for seq in range(1, N_BATCHES + 1):
                await edge.send(make_batch(BOOT, seq, n_records=RECORDS))
                if seq == N_BATCHES // 3:
                    await eventually(lambda: _true(len(edge.acked) >= N_BATCHES // 6))
                    fleet.kill()  # mid-stream: some batches committed, some in flight
                if seq == N_BATCHES // 2:
                    await asyncio.to_thread(fleet.start)  # same client id: resumes the session
                await asyncio.sleep(0.005)
            await eventually(lambda: _true(not edge.unacked), within=90)
        finally:
            pump.cancel()
    engine = create_engine(DatabaseSettings(url=db_url))
    try:
        sessions = session_factory(engine)
        expected = [(BOOT, s) for s in range(1, N_BATCHES + 1)]
        assert await stored_seqs(sessions, device) == expected
        assert await count_points(sessions, device) == N_BATCHES * RECORDS
    finally:
        await engine.dispose()


def test_sigterm_stops_cleanly(
    db_url: str, private_broker: Broker, fleet_process_factory: Callable[..., FleetProcess]
) -> None:
    fleet = fleet_process_factory(
        db_url=db_url, mqtt_url=private_broker.url, client_id=f"pk-test-{unique_device('term')}"
    )
    health = httpx.get(f"{fleet.http_url}/healthz", timeout=5).json()
    assert health["bridge"]["connected"] is True
    assert fleet.terminate() == 0
    assert "fleet stopped" in fleet.log_tail()


def test_migrate_command_brings_the_schema_to_head(db_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "polekit.cli", "fleet", "migrate", "--db", db_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"schema revision {head_revision()}" in result.stderr


def test_bad_urls_are_usage_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "polekit.cli", "fleet", "serve", "--db", "mysql://x/y"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unsupported database URL scheme" in result.stderr
