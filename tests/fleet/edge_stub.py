"""A minimal test edge: publishes telemetry batches and collects the fleet's acks."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol.encoding import CONTENT_TYPES, Encoding, encoding_for_content_type
from protocol.messages import Ack, decode_message
from protocol.senml import Record, TelemetryBatch, encode_batch
from protocol.topics import Kind, topic_for
from tests.services import Broker

_ids = itertools.count()


def unique_device(prefix: str = "dev") -> str:
    """A device id no other test (or test run) uses, so tests can share a broker."""
    return f"{prefix}-{os.getpid()}-{next(_ids)}-{time.monotonic_ns() % 10**6}"


def make_batch(
    boot_id: str, seq: int, n_records: int = 3, t0: float = 1_700_000_000.0
) -> TelemetryBatch:
    """A batch of n numeric records on channel meter/voltage, one second apart."""
    records = tuple(
        Record(
            name="meter/voltage", time=t0 + seq * 1000 + i, value=float(seq * 1000 + i), unit="V"
        )
        for i in range(n_records)
    )
    return TelemetryBatch(boot_id=boot_id, seq=seq, records=records)


class EdgeStub:
    """One device's MQTT client: publish batches and raw payloads, receive acks."""

    def __init__(self, client: aiomqtt.Client, device_id: str) -> None:
        self.client = client
        self.device_id = device_id
        self.acks: asyncio.Queue[tuple[Ack, Encoding]] = asyncio.Queue()

    async def publish_batch(self, batch: TelemetryBatch, encoding: Encoding = "cbor") -> None:
        """Publish a batch QoS 1 with its content type."""
        await self.publish(
            topic_for(self.device_id, Kind.TELEMETRY), encode_batch(batch, encoding), encoding
        )

    async def publish(
        self, topic: str, payload: bytes, encoding: Encoding | None = None, *, retain: bool = False
    ) -> None:
        """Publish anything QoS 1 (garbage tests use this directly)."""
        properties = None
        if encoding is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.ContentType = CONTENT_TYPES[encoding]
        await self.client.publish(topic, payload, qos=1, retain=retain, properties=properties)

    async def next_ack(self, within: float = 20.0) -> Ack:
        """The next ack for this device (fails the test after `within` seconds)."""
        ack, _ = await asyncio.wait_for(self.acks.get(), within)
        return ack

    async def next_ack_with_encoding(self, within: float = 20.0) -> tuple[Ack, Encoding]:
        """The next ack and the encoding its content type announced."""
        return await asyncio.wait_for(self.acks.get(), within)

    async def _receive(self) -> None:
        async for message in self.client.messages:
            content_type = getattr(message.properties, "ContentType", None)
            encoding = encoding_for_content_type(content_type)
            assert isinstance(message.payload, bytes)
            await self.acks.put((decode_message(message.payload, Ack, encoding), encoding))


@asynccontextmanager
async def edge_stub(broker: Broker, device_id: str) -> AsyncIterator[EdgeStub]:
    """Connect, subscribe to the device's ack topic, and collect acks in the background."""
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=f"stub-{device_id}",
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        await client.subscribe(topic_for(device_id, Kind.ACK), qos=1)
        stub = EdgeStub(client, device_id)
        receiver = asyncio.create_task(stub._receive(), name=f"acks-{device_id}")
        try:
            yield stub
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)


def acked(ack: Ack) -> set[tuple[str, int]]:
    """Every (boot_id, seq) an ack covers."""
    return {
        (entry.boot_id, seq)
        for entry in ack.entries
        for first, last in entry.ranges
        for seq in range(first, last + 1)
    }


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Poll an async condition until it holds; fail after a generous timeout."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)
