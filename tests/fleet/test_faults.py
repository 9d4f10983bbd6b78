"""Faults in-process: database errors, broker restarts, a fleet that was down, MQTT 3.1.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import text

from fleet.db.engine import create_null_pool_engine
from fleet.runner import RunningFleet, run_fleet
from fleet.settings import FleetSettings
from tests.fleet.db_helpers import count_points, stored_seqs
from tests.fleet.edge_stub import acked, edge_stub, eventually, make_batch, unique_device
from tests.services import Broker, MosquittoProcess

BOOT = "feedfacecafebeef"


def _with_broker(settings: FleetSettings, broker: Broker, **mqtt: Any) -> FleetSettings:
    new_mqtt = msgspec.structs.replace(settings.mqtt, host=broker.host, port=broker.port, **mqtt)
    return msgspec.structs.replace(settings, mqtt=new_mqtt)


async def _subscribed(fleet: RunningFleet) -> Any:
    assert fleet.bridge is not None
    await asyncio.wait_for(fleet.bridge.subscribed.wait(), 30)
    return fleet.bridge


async def _rename(settings: FleetSettings, old: str, new: str) -> None:
    engine = create_null_pool_engine(settings.db)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
    finally:
        await engine.dispose()


async def test_database_error_acks_nothing_and_the_bridge_survives(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device("dberr")
    settings = fleet_settings()
    async with run_fleet(settings, http=False) as fleet, edge_stub(private_broker, device) as edge:
        bridge = await _subscribed(fleet)
        await _rename(settings, "telemetry_point", "telemetry_point_away")
        batch = make_batch(BOOT, 1, n_records=4)
        await edge.publish_batch(batch)

        async def failed() -> bool:
            return bool(bridge.counters.db_errors >= 1)

        await eventually(failed)
        assert edge.acks.empty()
        await _rename(settings, "telemetry_point_away", "telemetry_point")
        # The edge resends what was never acked; this time it commits.
        await edge.publish_batch(batch)
        assert acked(await edge.next_ack()) == {(BOOT, 1)}
        assert await stored_seqs(fleet.sessions, device) == [(BOOT, 1)]
        assert await count_points(fleet.sessions, device) == 4
        assert bridge.counters.connected


async def test_bridge_reconnects_after_a_broker_crash(
    fleet_settings: Callable[..., Any], mosquitto_factory: Callable[..., MosquittoProcess]
) -> None:
    broker = mosquitto_factory(persistence=True)
    device = unique_device("crash")
    settings = _with_broker(fleet_settings(), broker.broker)
    async with run_fleet(settings, http=False) as fleet:
        bridge = await _subscribed(fleet)
        broker.restart(kill=True)
        await eventually(
            lambda: _true(bridge.counters.connects >= 2 and bridge.subscribed.is_set())
        )
        async with edge_stub(broker.broker, device) as edge:
            await edge.publish_batch(make_batch(BOOT, 5))
            assert acked(await edge.next_ack()) == {(BOOT, 5)}
        assert bridge.counters.disconnects >= 1


async def test_a_restarted_fleet_gets_what_the_broker_queued(
    fleet_settings: Callable[..., Any], mosquitto_factory: Callable[..., MosquittoProcess]
) -> None:
    broker = mosquitto_factory()
    device = unique_device("queued")
    settings = _with_broker(fleet_settings(), broker.broker)
    async with run_fleet(settings, http=False) as fleet:
        await _subscribed(fleet)
    async with edge_stub(broker.broker, device) as edge:
        for seq in range(1, 6):
            await edge.publish_batch(make_batch(BOOT, seq))  # nobody ingests right now
        async with run_fleet(settings, http=False) as fleet:
            seen: set[tuple[str, int]] = set()
            while len(seen) < 5:
                seen |= acked(await edge.next_ack())
            assert await stored_seqs(fleet.sessions, device) == [(BOOT, s) for s in range(1, 6)]


async def test_mqtt_311_without_content_type_is_cbor(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device("v311")
    settings = _with_broker(fleet_settings(), private_broker, version="3.1.1")
    async with run_fleet(settings, http=False) as fleet, edge_stub(private_broker, device) as edge:
        await _subscribed(fleet)
        await edge.publish_batch(make_batch(BOOT, 1), encoding="cbor")
        ack, encoding = await edge.next_ack_with_encoding()
        assert (encoding, acked(ack)) == ("cbor", {(BOOT, 1)})


async def test_two_replicas_share_the_ingest_without_duplicates(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device("shared")
    # A group of its own: the broker keeps queueing for members of earlier tests' groups
    # whose persistent sessions have not expired yet.
    group = device
    first = _with_broker(fleet_settings(), private_broker, share_group=group)
    second = _with_broker(
        first, private_broker, client_id=first.mqtt.client_id + "-b", share_group=group
    )
    async with (
        run_fleet(first, http=False) as one,
        run_fleet(second, http=False) as two,
        edge_stub(private_broker, device) as edge,
    ):
        await _subscribed(one)
        await _subscribed(two)
        for seq in range(1, 21):
            await edge.publish_batch(make_batch(BOOT, seq))
        seen: set[tuple[str, int]] = set()
        while len(seen) < 20:
            seen |= acked(await edge.next_ack())
        assert await stored_seqs(one.sessions, device) == [(BOOT, s) for s in range(1, 21)]
        assert one.bridge is not None
        assert two.bridge is not None
        assert one.bridge.counters.batches_new + two.bridge.counters.batches_new == 20


async def _true(value: bool) -> bool:
    return value
