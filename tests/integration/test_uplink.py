"""The uplink against a real Mosquitto and the real buffer: acks, resends, window, outages.

The test plays the fleet with a plain MQTT client, so it controls exactly when acks go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.accounting import Counts
from edge.buffer import Buffer, BufferedBatch
from edge.transport.mqtt import connect, parse_broker_url
from edge.uplink import Uplink
from protocol.messages import Ack, AckEntry, encode_message
from protocol.senml import Record, TelemetryBatch, decode_batch, encode_batch
from protocol.topics import Kind, topic_for

BOOT = "00112233aabbccdd"
_ids = itertools.count()


def _device_id() -> str:
    return f"uplink-test-{os.getpid()}-{next(_ids)}"


def _batch(seq: int, readings: int = 3) -> BufferedBatch:
    records = tuple(
        Record(name=f"meter/ch{i}", time=1.7e9 + seq, value=float(i)) for i in range(readings)
    )
    payload = encode_batch(TelemetryBatch(boot_id=BOOT, seq=seq, records=records))
    return BufferedBatch(
        boot_id=BOOT, seq=seq, created=1.7e9 + seq, n_readings=readings, payload=payload
    )


def _counts_read(n: int) -> Counts:
    counts = Counts()
    counts.read = n
    return counts


class FleetDouble:
    """Receives a device's telemetry and acks only when the test says so."""

    def __init__(self, client: aiomqtt.Client, device_id: str) -> None:
        self.client = client
        self.device_id = device_id
        self.received: list[int] = []
        self.arrived = asyncio.Condition()

    async def listen(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            batch = decode_batch(message.payload)
            async with self.arrived:
                self.received.append(batch.seq)
                self.arrived.notify_all()

    async def wait_for(self, predicate: Callable[[list[int]], bool], within: float = 20) -> None:
        async with asyncio.timeout(within), self.arrived:
            await self.arrived.wait_for(lambda: predicate(self.received))

    async def ack(self, *ranges: tuple[int, int], payload: bytes | None = None) -> None:
        data = payload or encode_message(Ack(entries=[AckEntry(boot_id=BOOT, ranges=list(ranges))]))
        await self.client.publish(topic_for(self.device_id, Kind.ACK), data, qos=1)


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, broker_url: str, *, inflight: int = 16, ack_timeout: float = 30.0
) -> AsyncIterator[tuple[Uplink, Buffer, FleetDouble]]:
    device_id = _device_id()
    broker = parse_broker_url(broker_url)
    async with (
        Buffer(path=str(tmp_path / "buffer.db"), max_bytes=1 << 20, commit_interval=0.0) as buffer,
        aiomqtt.Client(broker.host, broker.port, identifier=f"{device_id}-fleet") as client,
    ):
        await client.subscribe(topic_for(device_id, Kind.TELEMETRY), qos=1)
        fleet = FleetDouble(client, device_id)
        uplink = Uplink(
            session_factory=lambda: connect(
                broker=broker, device_id=device_id, encoding="cbor", keepalive=10
            ),
            buffer=buffer,
            encoding="cbor",
            inflight=inflight,
            ack_timeout=ack_timeout,
            reconnect_max=2.0,
        )
        async with asyncio.TaskGroup() as tasks:
            listener = tasks.create_task(fleet.listen())
            runner = tasks.create_task(uplink.run())
            try:
                yield uplink, buffer, fleet
            finally:
                runner.cancel()
                listener.cancel()


async def _until(condition: Callable[[], bool], within: float = 20) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polling state owned by other tasks
            await asyncio.sleep(0.05)


async def test_a_batch_is_deleted_only_when_the_fleet_acks_it(
    tmp_path: Path, mqtt_broker: Any
) -> None:
    async with running(tmp_path, mqtt_broker.url) as (uplink, buffer, fleet):
        for seq in range(5):
            buffer.append(_batch(seq), _counts_read(3))
        await fleet.wait_for(lambda got: sorted(got) == [0, 1, 2, 3, 4])
        await buffer.flush()
        # Published and PUBACKed, but not committed by the fleet: all still buffered.
        assert buffer.stats().batches == 5
        await fleet.ack((0, 2))
        await _until(lambda: buffer.stats().batches == 2)
        await fleet.ack((3, 4))
        await _until(lambda: buffer.stats().batches == 0)
        assert buffer.accounting().delivered == 15
        assert uplink.stats.acked_batches == 5


async def test_an_unacked_batch_is_published_again_after_the_ack_timeout(
    tmp_path: Path, mqtt_broker: Any
) -> None:
    async with running(tmp_path, mqtt_broker.url, ack_timeout=1.0) as (uplink, buffer, fleet):
        buffer.append(_batch(0), _counts_read(3))
        buffer.append(_batch(1), _counts_read(3))
        await fleet.wait_for(lambda got: sorted(got) == [0, 1])
        await fleet.ack((0, 0))
        # seq 1 was "lost" by the fleet: it must come again, seq 0 must not.
        await fleet.wait_for(lambda got: got.count(1) >= 2, within=15)
        assert fleet.received.count(0) == 1
        await fleet.ack((1, 1))
        await _until(lambda: buffer.stats().batches == 0)
        assert uplink.stats.republished_batches >= 1


async def test_the_inflight_window_bounds_unacked_batches(tmp_path: Path, mqtt_broker: Any) -> None:
    async with running(tmp_path, mqtt_broker.url, inflight=3) as (uplink, buffer, fleet):
        for seq in range(10):
            buffer.append(_batch(seq), _counts_read(3))
        await fleet.wait_for(lambda got: len(got) == 3)
        await asyncio.sleep(1.0)  # give a window-breaking uplink the chance to send more
        assert len(fleet.received) == 3
        assert len(uplink.stats.inflight) == 3
        await fleet.ack(*[(seq, seq) for seq in fleet.received])
        await fleet.wait_for(lambda got: len(got) == 6)


async def test_a_malformed_ack_is_counted_and_ignored(tmp_path: Path, mqtt_broker: Any) -> None:
    async with running(tmp_path, mqtt_broker.url) as (uplink, buffer, fleet):
        buffer.append(_batch(0), _counts_read(3))
        await fleet.wait_for(lambda got: got == [0])
        await fleet.ack(payload=b"\xff\x00garbage")
        await _until(lambda: uplink.stats.bad_acks == 1)
        await fleet.ack((0, 0))
        await _until(lambda: buffer.stats().batches == 0)


def _persistent_fleet_client(host: str, port: int, device_id: str) -> aiomqtt.Client:
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 300
    return aiomqtt.Client(
        host,
        port,
        identifier=f"{device_id}-fleet",
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=properties,
    )


async def test_after_an_outage_the_backlog_drains_oldest_first_interleaved_with_live_data(
    tmp_path: Path, mosquitto_factory: Callable[..., Any]
) -> None:
    broker = mosquitto_factory(persistence=True)
    device_id = _device_id()
    # The fleet's persistent session survives the broker crash, so nothing the uplink sends
    # after the restart can slip past it.
    async with _persistent_fleet_client(broker.host, broker.port, device_id) as client:
        await client.subscribe(topic_for(device_id, Kind.TELEMETRY), qos=1)
    await asyncio.sleep(1.5)  # mosquitto autosaves persistence once a second
    broker.kill()
    address = parse_broker_url(broker.url)
    async with Buffer(
        path=str(tmp_path / "buffer.db"), max_bytes=1 << 20, commit_interval=0.0
    ) as buffer:
        uplink = Uplink(
            session_factory=lambda: connect(
                broker=address, device_id=device_id, encoding="cbor", keepalive=10
            ),
            buffer=buffer,
            encoding="cbor",
            inflight=16,
            ack_timeout=30,
            reconnect_max=2.0,
        )
        runner = asyncio.create_task(uplink.run())
        try:
            await _until(lambda: uplink.stats.disconnects >= 1)
            for seq in range(6):  # polling goes on into the buffer while the broker is down
                buffer.append(_batch(seq), _counts_read(3))
            await buffer.flush()
            assert buffer.stats().unsent == 6
            broker.start()
            await _until(lambda: uplink.stats.connected)
            async with _persistent_fleet_client(broker.host, broker.port, device_id) as client:
                fleet = FleetDouble(client, device_id)
                listener = asyncio.create_task(fleet.listen())
                await fleet.wait_for(lambda got: len(got) >= 6)
                listener.cancel()
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    assert fleet.received[:2] == [0, 5], fleet.received
    assert sorted(fleet.received[:6]) == [0, 1, 2, 3, 4, 5]
