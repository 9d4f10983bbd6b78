"""The bridge loop: subscribe, decode, commit in groups, then ack what was committed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import aiomqtt

from fleet.bridge.acks import acks_by_device
from fleet.bridge.connection import Backoff, make_client, publish_properties
from fleet.bridge.counters import BridgeCounters, RejectLog
from fleet.bridge.decode import Decoded, RejectedError, decode
from fleet.domain.ingest.schemas import BatchReceived, HealthReceived, IngestResult, StateReceived
from fleet.domain.ingest.services import IngestService
from fleet.settings import IngestSettings, MqttSettings
from protocol.encoding import Encoding
from protocol.messages import encode_message
from protocol.topics import Kind, fleet_subscription, topic_for

log = logging.getLogger("fleet.bridge")

SUBSCRIBED_KINDS = (Kind.TELEMETRY, Kind.STATE, Kind.HEALTH, Kind.CONFIG_REPORTED)
_PUBLISH_CHUNK = 2000
OnlineHook = Callable[[list[str]], None]
CommandResultHook = Callable[[aiomqtt.Message], None]


class Bridge:
    """Moves telemetry, state and health from the broker into the database, acking commits."""

    def __init__(
        self,
        *,
        mqtt: MqttSettings,
        ingest: IngestSettings,
        service: IngestService,
        on_online: OnlineHook | None = None,
    ) -> None:
        if ingest.max_messages < 1 or ingest.max_delay_s < 0:
            raise ValueError("ingest.max_messages must be >= 1 and max_delay_s >= 0")
        self._mqtt = mqtt
        self._ingest = ingest
        self._service = service
        self.counters = BridgeCounters()
        self.subscribed = asyncio.Event()
        """Set while connected and subscribed; tests wait on it before publishing."""
        self._rejects = RejectLog()
        self._client: aiomqtt.Client | None = None
        self.on_online = on_online
        """Called with the devices that came online in each committed group (rollout catch-up)."""
        self.on_command_result: CommandResultHook | None = None
        """Set before `run`: cmd/res messages go here (fleet.bridge.commands), not to ingest."""

    async def run(self) -> None:
        """Run until cancelled, reconnecting with jittered exponential backoff (cap 60 s)."""
        backoff = Backoff(cap_s=60.0)
        while True:
            try:
                async with make_client(self._mqtt) as client:
                    await self._subscribe(client)
                    backoff.reset()
                    self._client = client
                    await self._pump(client)
            except aiomqtt.MqttError as exc:
                delay = backoff.next_delay()
                log.warning("MQTT connection lost or refused (%s); retrying in %.1f s", exc, delay)
            except Exception:
                # A bug must not end ingest for good: log it loudly and start over.
                delay = backoff.next_delay()
                log.exception("bridge failed unexpectedly; restarting in %.1f s", delay)
            finally:
                self._client = None
                if self.counters.connected:
                    self.counters.disconnects += 1
                self.counters.connected = False
                self.subscribed.clear()
            await asyncio.sleep(delay)

    async def publish_desired(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Publish signed desired configs, retained at QoS 1; raises MqttError when offline."""
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("the bridge is not connected to the broker")
        properties = publish_properties(self._mqtt, "cbor")
        for start in range(0, len(items), _PUBLISH_CHUNK):
            await asyncio.gather(
                *(
                    client.publish(
                        topic_for(device_id, Kind.CONFIG_DESIRED),
                        envelope,
                        qos=1,
                        retain=True,
                        properties=properties,
                    )
                    for device_id, envelope in items[start : start + _PUBLISH_CHUNK]
                )
            )

    async def publish_command(self, device_id: str, command_id: str, payload: bytes) -> None:
        """Publish a command request (QoS 1); raises MqttError when offline."""
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("the bridge is not connected to the broker")
        await client.publish(
            topic_for(device_id, Kind.CMD_REQ, command_id),
            payload,
            qos=1,
            properties=publish_properties(self._mqtt, "cbor"),
            timeout=10,
        )

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        group = self._mqtt.share_group
        kinds = [*SUBSCRIBED_KINDS, *([Kind.CMD_RES] if self.on_command_result else [])]
        topics = [(fleet_subscription(kind, group), 1) for kind in kinds]
        await client.subscribe(topics)
        self.counters.connected = True
        self.counters.connects += 1
        self.subscribed.set()
        log.info(
            "bridge connected to mqtt://%s:%d as %r, subscribed to %s",
            self._mqtt.host,
            self._mqtt.port,
            self._mqtt.client_id,
            ", ".join(topic for topic, _ in topics),
        )

    async def _pump(self, client: aiomqtt.Client) -> None:
        # Decoding and database writes overlap: the reader keeps decoding while a commit waits.
        # Whichever of the two stops first (a lost connection) stops the other, and its
        # exception surfaces unwrapped so `run` can tell a disconnect from a bug.
        queue: asyncio.Queue[Decoded] = asyncio.Queue(maxsize=self._ingest.queue_size)
        tasks = {
            asyncio.create_task(self._read(client, queue), name="bridge-read"),
            asyncio.create_task(self._write(client, queue), name="bridge-write"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()

    async def _read(self, client: aiomqtt.Client, queue: asyncio.Queue[Decoded]) -> None:
        async for message in client.messages:
            self.counters.messages += 1
            if self.on_command_result is not None and "/cmd/res/" in message.topic.value:
                self.on_command_result(message)
                continue
            try:
                decoded = decode(message, now=datetime.now(UTC))
            except RejectedError as exc:
                self.counters.rejected[exc.reason] += 1
                size = len(message.payload) if isinstance(message.payload, bytes) else 0
                self._rejects.rejected(exc.reason, message.topic.value, size, exc.detail)
                continue
            if decoded.inbound is not None:
                await queue.put(decoded)
        raise aiomqtt.MqttError("message stream ended")

    async def _write(self, client: aiomqtt.Client, queue: asyncio.Queue[Decoded]) -> None:
        db_backoff = Backoff(base_s=0.2, cap_s=5.0)
        while True:
            group = await self._collect(queue)
            try:
                result = await self._service.commit(
                    [d.inbound for d in group if d.inbound is not None], now=datetime.now(UTC)
                )
            except Exception:
                # Nothing is acked, so every edge resends these batches; keep the bridge alive.
                self.counters.db_errors += 1
                delay = db_backoff.next_delay()
                log.exception(
                    "database commit of %d messages failed; retry in %.1fs", len(group), delay
                )
                await asyncio.sleep(delay)
                continue
            db_backoff.reset()
            if self.on_online is not None:
                online = [
                    d.inbound.device_id
                    for d in group
                    if isinstance(d.inbound, StateReceived) and d.inbound.online
                ]
                if online:
                    self.on_online(online)
            self._count(group, result)
            await self._ack(client, group, result)

    async def _collect(self, queue: asyncio.Queue[Decoded]) -> list[Decoded]:
        """Wait for one message, then gather more for up to max_delay_s or max_messages."""
        group = [await queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._ingest.max_delay_s
        while len(group) < self._ingest.max_messages:
            if not queue.empty():
                group.append(queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                group.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        return group

    def _count(self, group: list[Decoded], result: IngestResult) -> None:
        counters = self.counters
        counters.flushes += 1
        received = [d.inbound.received_at for d in group if d.inbound is not None]
        if received:
            counters.lag_s = (datetime.now(UTC) - min(received)).total_seconds()
        counters.batches_new += result.new_batches
        counters.batches_duplicate += (
            len([d for d in group if isinstance(d.inbound, BatchReceived)]) - result.new_batches
        )
        counters.points += result.new_points
        counters.states += len([d for d in group if isinstance(d.inbound, StateReceived)])
        counters.healths += len([d for d in group if isinstance(d.inbound, HealthReceived)])

    async def _ack(
        self, client: aiomqtt.Client, group: list[Decoded], result: IngestResult
    ) -> None:
        """Publish one ack per device, in the encoding that device last used."""
        encodings: dict[str, Encoding] = {
            d.inbound.device_id: d.encoding for d in group if isinstance(d.inbound, BatchReceived)
        }
        acks = acks_by_device(result.committed)
        # Concurrently: each QoS 1 publish waits for the broker's PUBACK.
        await asyncio.gather(
            *(
                client.publish(
                    topic_for(device_id, Kind.ACK),
                    encode_message(ack, encodings.get(device_id, "cbor")),
                    qos=1,
                    properties=publish_properties(self._mqtt, encodings.get(device_id, "cbor")),
                )
                for device_id, ack in acks.items()
            )
        )
        self.counters.acks_sent += len(acks)
