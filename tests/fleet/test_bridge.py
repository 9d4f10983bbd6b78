"""The bridge against a real Mosquitto and both databases: exactly-once rows, acks after commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleet.bridge.acks import seq_ranges
from fleet.runner import RunningFleet, run_fleet
from protocol.topics import Kind, topic_for
from tests.fleet.db_helpers import count_batches, count_points, get_device, stored_seqs
from tests.fleet.edge_stub import acked, edge_stub, eventually, make_batch, unique_device
from tests.services import Broker

BOOT = "00112233aabbccdd"


def _bridge(fleet: RunningFleet) -> Any:
    assert fleet.bridge is not None
    return fleet.bridge


async def _started(fleet: RunningFleet) -> RunningFleet:
    await _bridge(fleet).subscribed.wait()
    return fleet


async def test_batches_land_exactly_once_and_are_acked(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device()
    async with (
        run_fleet(fleet_settings(), http=False) as fleet,
        edge_stub(private_broker, device) as edge,
    ):
        await _started(fleet)
        for seq in (1, 2, 3):
            await edge.publish_batch(make_batch(BOOT, seq, n_records=5))
        seen: set[tuple[str, int]] = set()
        while seen != {(BOOT, 1), (BOOT, 2), (BOOT, 3)}:
            seen |= acked(await edge.next_ack())
        assert await stored_seqs(fleet.sessions, device) == [(BOOT, 1), (BOOT, 2), (BOOT, 3)]
        assert await count_points(fleet.sessions, device) == 15


async def test_same_batch_three_times_one_row_three_acks(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device()
    # max_messages=1: each publish gets its own transaction, so each gets its own ack.
    async with (
        run_fleet(fleet_settings(max_messages=1), http=False) as fleet,
        edge_stub(private_broker, device) as edge,
    ):
        await _started(fleet)
        batch = make_batch(BOOT, 42, n_records=4)
        for _ in range(3):
            await edge.publish_batch(batch)
        acks = [await edge.next_ack() for _ in range(3)]
        assert all(acked(ack) == {(BOOT, 42)} for ack in acks)
        assert await count_batches(fleet.sessions, device) == 1
        assert await count_points(fleet.sessions, device) == 4
        counters = _bridge(fleet).counters
        assert counters.batches_duplicate >= 2


async def test_ack_comes_after_commit_and_lists_ranges(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device()
    sent = {(BOOT, seq) for seq in (1, 2, 3, 5, 6, 9)}
    # A long collection window puts them into few transactions, so acks carry real ranges.
    async with (
        run_fleet(fleet_settings(max_delay_s=1.0), http=False) as fleet,
        edge_stub(private_broker, device) as edge,
    ):
        await _started(fleet)
        for _, seq in sorted(sent):
            await edge.publish_batch(make_batch(BOOT, seq))
        seen: set[tuple[str, int]] = set()
        while seen != sent:
            ack = await edge.next_ack()
            # Whatever an ack names is already in the database when the ack arrives.
            assert acked(ack) <= set(await stored_seqs(fleet.sessions, device))
            for entry in ack.entries:
                assert entry.ranges == seq_ranges(s for _, s in acked(ack))
            seen |= acked(ack)
        assert seen == sent


async def test_ack_uses_the_device_encoding(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device()
    async with (
        run_fleet(fleet_settings(), http=False) as fleet,
        edge_stub(private_broker, device) as edge,
    ):
        await _started(fleet)
        await edge.publish_batch(make_batch(BOOT, 1), encoding="msgpack")
        ack, encoding = await edge.next_ack_with_encoding()
        assert encoding == "msgpack"
        assert acked(ack) == {(BOOT, 1)}
        await edge.publish_batch(make_batch(BOOT, 2), encoding="json")
        ack, encoding = await edge.next_ack_with_encoding()
        assert (encoding, acked(ack)) == ("json", {(BOOT, 2)})


async def test_unregistered_device_is_flagged(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device()
    async with (
        run_fleet(fleet_settings(), http=False) as fleet,
        edge_stub(private_broker, device) as edge,
    ):
        await _started(fleet)
        await edge.publish_batch(make_batch(BOOT, 1))
        await edge.next_ack()
        row = await get_device(fleet.sessions, device)
        assert row is not None
        assert row.registered is False


async def test_state_and_health_are_stored(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    from protocol.messages import encode_message
    from tests.fleet.test_ingest_service import health

    device = unique_device()
    async with (
        run_fleet(fleet_settings(), http=False) as fleet,
        edge_stub(private_broker, device) as edge,
    ):
        await _started(fleet)
        await edge.publish(topic_for(device, Kind.STATE), b"online")
        await edge.publish(topic_for(device, Kind.HEALTH), encode_message(health(), "cbor"))

        async def stored() -> bool:
            row = await get_device(fleet.sessions, device)
            return row is not None and row.online is True and row.last_health is not None

        await eventually(stored)
        await edge.publish(topic_for(device, Kind.STATE), b"offline")

        async def offline() -> bool:
            row = await get_device(fleet.sessions, device)
            return row is not None and row.online is False

        await eventually(offline)


async def test_garbage_is_counted_and_ingest_goes_on(
    fleet_settings: Callable[..., Any], private_broker: Broker
) -> None:
    device = unique_device()
    async with (
        run_fleet(fleet_settings(), http=False) as fleet,
        edge_stub(private_broker, device) as edge,
    ):
        await _started(fleet)
        telemetry = topic_for(device, Kind.TELEMETRY)
        await edge.publish(telemetry, b"\xff\x00 not cbor")
        await edge.publish(telemetry, b"[1,2,3]", encoding="json")
        await edge.publish(telemetry, b"\x00" * 10, encoding=None)
        await edge.publish(topic_for(device, Kind.HEALTH), b"\xa1\x01\x02")
        await edge.publish(topic_for(device, Kind.STATE), b"maybe")
        await edge.publish("pk/v1/UPPER-case/telemetry", b"x")
        await edge.publish(f"pk/v1/{device}/telemetry/extra", b"x")
        await edge.client.publish(telemetry, b"x", qos=1, properties=_content_type("text/plain"))
        await edge.publish_batch(make_batch(BOOT, 1))
        assert acked(await edge.next_ack()) == {(BOOT, 1)}
        rejected = _bridge(fleet).counters.rejected

        async def counted() -> bool:
            return sum(rejected.values()) >= 6

        await eventually(counted)
        assert rejected["telemetry"] == 3
        assert rejected["health"] == 1
        assert rejected["state"] == 1
        assert rejected["content_type"] == 1
        assert rejected["topic"] == 1  # the upper-case device id; .../telemetry/extra never matches
        assert await count_batches(fleet.sessions, device) == 1


def _content_type(value: str) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.PUBLISH)
    properties.ContentType = value
    return properties
