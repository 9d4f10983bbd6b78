"""Alert rules end to end through the database: hysteresis, hold time, dedup, lifecycle, and
signed webhook deliveries with retries (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.guard import ROOT
from fleet.db.operations import Alert, Notification
from fleet.domain.alerts.engine import AlertEngine, AlertKey, RuleSpec
from fleet.domain.alerts.notify import Notifier, backoff_s
from fleet.domain.alerts.schemas import AlertRuleCreate, WebhookCreate
from fleet.domain.alerts.services import AlertService
from fleet.domain.alerts.worker import AlertWorker
from fleet.domain.ingest.schemas import BatchReceived
from fleet.domain.ingest.services import IngestService
from protocol.senml import Record, TelemetryBatch
from tests.fleet.edge_stub import unique_device

T0 = 1_750_000_000.0
NOW = datetime.fromtimestamp(T0, UTC)


def test_engine_hysteresis_and_hold_time() -> None:
    rule = RuleSpec(id=1, op=">", threshold=5.0, hysteresis=1.0, min_duration_s=2.0)
    engine, key = AlertEngine(), AlertKey(1, "d", "tilt/x_angle")
    assert engine.observe(rule, key, 6.0, 0.0) is None  # not held long enough yet
    assert engine.observe(rule, key, 4.9, 1.0) is None  # dipped: the hold starts again
    assert engine.observe(rule, key, 6.0, 2.0) is None
    opened = engine.observe(rule, key, 6.5, 4.0)
    assert opened is not None
    assert opened.kind == "open"
    for i, value in enumerate([4.5, 5.5, 4.2, 5.1, 4.8]):  # flapping inside the band
        assert engine.observe(rule, key, value, 5.0 + i) is None
    assert engine.observe(rule, key, 3.9, 10.0) is None  # below the band, not yet held
    assert engine.tick({1: rule}, 11.0) == []
    resolved = engine.tick({1: rule}, 12.0)
    assert [t.kind for t in resolved] == ["resolve"]


def test_engine_bits_and_abs() -> None:
    bit = RuleSpec(id=2, op="true", threshold=0)
    engine = AlertEngine()
    assert engine.observe(bit, AlertKey(2, "d", "button/pressed"), 1.0, 0.0) is not None
    tilt = RuleSpec(id=3, op="abs>", threshold=5.0, hysteresis=0.5)
    transition = engine.observe(tilt, AlertKey(3, "d", "tilt/y"), -7.0, 0.0)
    assert transition is not None
    assert transition.kind == "open"


def test_backoff_doubles_and_caps() -> None:
    assert 0.8 <= backoff_s(1) <= 1.2
    assert 6.4 <= backoff_s(4) <= 9.6
    assert backoff_s(30) <= 360


async def _tilt(
    sessions: async_sessionmaker[AsyncSession], device: str, seq: int, values: list[float]
) -> None:
    records = tuple(
        Record(name="tilt/x_angle", time=T0 + seq * 10 + i, value=v, unit="deg")
        for i, v in enumerate(values)
    )
    batch = TelemetryBatch(boot_id="b" * 16, seq=seq, records=records)
    item = BatchReceived(device_id=device, batch=batch, received_at=NOW)
    await IngestService(sessions).commit([item], now=NOW)


class Hook:
    """A local webhook receiver that fails the first `fail` deliveries."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        status = "500 Oops" if self.fail > 0 else "204 No Content"
        if self.fail > 0:
            self.fail -= 1
        else:
            self.received.append((headers, body))
        writer.write(
            f"HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def hook() -> AsyncIterator[tuple[Hook, str]]:
    receiver = Hook(fail=1)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver, f"http://127.0.0.1:{port}/alerts"


async def test_one_alert_per_crossing_then_resolved_and_notified(
    sessions: async_sessionmaker[AsyncSession], hook: tuple[Hook, str]
) -> None:
    receiver, url = hook
    device = unique_device("tilt")
    async with sessions() as session:
        service = AlertService(session, ROOT)
        rule = await service.create_rule(
            AlertRuleCreate(
                name="pole tilt", kind="threshold", channel="x_angle", threshold=5.0,
                hysteresis=1.0, min_duration_s=1.0, severity="critical",
            ),
            now=NOW,
        )  # fmt: skip
        await service.create_webhook(WebhookCreate(url=url, secret="s" * 20), now=NOW)
    worker = AlertWorker(sessions, health_every_s=3600)
    await worker.step(NOW)  # sets the cursor
    await _tilt(sessions, device, 1, [0.3, 5.5, 6.0, 7.0])  # over for 2 s: opens
    await _tilt(sessions, device, 2, [4.5, 5.6, 4.3, 6.1, 4.4, 5.2])  # flapping in the band
    for _ in range(2):
        await worker.step(NOW)
    async with sessions() as session:
        alerts = list(await session.scalars(select(Alert).where(Alert.device_id == device)))
    assert [(a.status, a.rule_id, a.subject) for a in alerts] == [("open", rule.id, "tilt/x_angle")]
    await _tilt(sessions, device, 3, [3.0, 2.0, 1.0])  # below 4 for 2 s: resolves
    await worker.step(NOW)
    async with sessions() as session:
        [alert] = list(await session.scalars(select(Alert).where(Alert.device_id == device)))
        assert (alert.status, alert.resolved_by, alert.active_key) == ("resolved", "system", None)
        notes = list(await session.scalars(select(Notification)))
    assert sorted(n.event for n in notes) == ["opened", "resolved"]
    notifier = Notifier(sessions)
    async with httpx.AsyncClient() as client:
        assert await notifier.deliver_due(client, now=NOW) == 1  # the first POST gets a 500
        assert await notifier.deliver_due(client, now=NOW) == 0  # backing off
        later = NOW + timedelta(seconds=5)
        assert await notifier.deliver_due(client, now=later) == 1
    delivered = {json.loads(body)["event"]: (headers, body) for headers, body in receiver.received}
    assert set(delivered) == {"opened", "resolved"}
    headers, body = delivered["opened"]
    expected = hmac.new(b"s" * 20, headers["x-polekit-timestamp"].encode() + b"." + body, "sha256")
    assert headers["x-polekit-signature"] == "sha256=" + expected.hexdigest()
    assert json.loads(body)["alert"]["device_id"] == device
    assert hashlib.sha256(b"s" * 20).hexdigest() not in body.decode()


async def test_acknowledge_then_resolve_records_who_and_when(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = unique_device("btn")
    async with sessions() as session:
        await AlertService(session, ROOT).create_rule(
            AlertRuleCreate(name="button", kind="threshold", channel="pressed", op="true"), now=NOW
        )
    worker = AlertWorker(sessions, health_every_s=3600)
    await worker.step(NOW)
    batch = TelemetryBatch(
        boot_id="c" * 16, seq=1, records=(Record(name="sos/pressed", time=T0, bool_value=True),)
    )
    await IngestService(sessions).commit(
        [BatchReceived(device_id=device, batch=batch, received_at=NOW)], now=NOW
    )
    [opened] = await worker.step(NOW)
    async with sessions() as session:
        alert_id = await session.scalar(select(Alert.id).where(Alert.device_id == device))
        assert alert_id is not None
        service = AlertService(session, ROOT)
        acked = await service.acknowledge(alert_id, now=NOW)
        assert (acked.status, acked.acknowledged_by) == ("acknowledged", ROOT.label)
        resolved = await service.resolve(alert_id, now=NOW)
        assert resolved.status == "resolved"
        assert resolved.resolved_by == ROOT.label
    assert opened.kind == "open"
