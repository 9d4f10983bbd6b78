"""IngestService on both backends: dedup on (device, boot id, seq), devices, state, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.domain.ingest.schemas import BatchKey, BatchReceived, HealthReceived, StateReceived
from fleet.domain.ingest.services import IngestService
from protocol.messages import Health, ReadingCounts
from tests.fleet.db_helpers import count_batches, count_points, get_device, stored_seqs
from tests.fleet.edge_stub import make_batch, unique_device

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
BOOT = "0123456789abcdef"


def batch(device_id: str, seq: int, n_records: int = 3, boot_id: str = BOOT) -> BatchReceived:
    return BatchReceived(
        device_id=device_id, batch=make_batch(boot_id, seq, n_records), received_at=NOW
    )


def health(boot_id: str = BOOT) -> Health:
    return Health(
        boot_id=boot_id,
        uptime_s=12.5,
        agent_version="0.1.0",
        config_version=3,
        rss_bytes=1 << 20,
        cpu_percent=1.5,
        counts=ReadingCounts(read=10, delivered=9, buffered=1),
    )


async def test_new_batches_are_stored_with_their_points(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = unique_device()
    result = await IngestService(sessions).commit(
        [batch(device, 1, 4), batch(device, 2, 5)], now=NOW
    )
    assert sorted(result.committed) == [BatchKey(device, BOOT, 1), BatchKey(device, BOOT, 2)]
    assert (result.new_batches, result.duplicate_batches, result.new_points) == (2, 0, 9)
    assert await count_points(sessions, device) == 9


async def test_a_resent_batch_is_committed_again_but_stored_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = unique_device()
    service = IngestService(sessions)
    await service.commit([batch(device, 7)], now=NOW)
    again = await service.commit([batch(device, 7), batch(device, 8)], now=NOW)
    assert sorted(again.committed) == [BatchKey(device, BOOT, 7), BatchKey(device, BOOT, 8)]
    assert (again.new_batches, again.duplicate_batches, again.new_points) == (1, 1, 3)
    assert await stored_seqs(sessions, device) == [(BOOT, 7), (BOOT, 8)]
    assert await count_points(sessions, device) == 6


async def test_duplicates_inside_one_group_count_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = unique_device()
    result = await IngestService(sessions).commit([batch(device, 1)] * 3, now=NOW)
    assert result.committed == [BatchKey(device, BOOT, 1)]
    assert await count_batches(sessions, device) == 1
    assert await count_points(sessions, device) == 3


async def test_same_seq_under_another_boot_id_is_a_different_batch(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = unique_device()
    await IngestService(sessions).commit(
        [batch(device, 1), batch(device, 1, boot_id="fedcba9876543210")], now=NOW
    )
    assert await stored_seqs(sessions, device) == [("0123456789abcdef", 1), ("fedcba9876543210", 1)]


async def test_unknown_device_is_kept_unregistered(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = unique_device()
    await IngestService(sessions).commit([batch(device, 1)], now=NOW)
    row = await get_device(sessions, device)
    assert row is not None
    assert row.registered is False
    assert row.first_seen == NOW
    assert row.last_seen == NOW


async def test_state_and_health_update_the_device(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = unique_device()
    later = NOW + timedelta(seconds=5)
    service = IngestService(sessions)
    await service.commit(
        [
            StateReceived(device_id=device, online=True, received_at=NOW),
            HealthReceived(device_id=device, health=health(), received_at=NOW),
            StateReceived(device_id=device, online=False, received_at=later),
        ],
        now=later,
    )
    row = await get_device(sessions, device)
    assert row is not None
    assert row.online is False
    assert row.state_changed_at == later
    assert row.last_seen == later
    assert row.last_health is not None
    assert row.last_health["config_version"] == 3
    assert row.last_health["counts"]["delivered"] == 9


async def test_a_retained_state_does_not_move_last_seen(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = unique_device()
    service = IngestService(sessions)
    await service.commit(
        [StateReceived(device_id=device, online=False, received_at=NOW, retained=True)], now=NOW
    )
    row = await get_device(sessions, device)
    assert row is not None
    assert row.last_seen is None
    assert row.online is False
    await service.commit([batch(device, 1)], now=NOW + timedelta(seconds=1))
    await service.commit(
        [StateReceived(device_id=device, online=True, received_at=NOW, retained=True)],
        now=NOW + timedelta(seconds=9),
    )
    row = await get_device(sessions, device)
    assert row is not None
    assert row.last_seen == NOW
    assert row.online is True
