"""One simulated gateway: connects with its own client id, heartbeats, sends telemetry,
applies signed configs (or fails to, when told), reports, and reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import TYPE_CHECKING

from fleet.sim import mqtt_lite
from fleet.sim.verify import GuardState, RefusedError, open_fast
from protocol.ids import new_boot_id
from protocol.messages import BusHealth, ConfigReported, Health, ReadingCounts, encode_message
from protocol.senml import Record, TelemetryBatch, encode_batch
from protocol.topics import STATE_OFFLINE, STATE_ONLINE, Kind, topic_for

if TYPE_CHECKING:
    from fleet.sim.fleet import FleetSim

log = logging.getLogger("fleet.sim")


class SimDevice:
    """A protocol-level gateway; all its state lives in memory."""

    def __init__(self, device_id: str, sim: FleetSim) -> None:
        self.id = device_id
        self._sim = sim
        self.guard = GuardState()
        self.boot_id = new_boot_id()
        self.started = time.monotonic()
        self.seq = 0
        self.polls_ok = 0
        self.polls_failed = 0
        self.received: list[int] = []
        """Versions of every desired document received (tests check who got what)."""
        self.report: ConfigReported | None = None
        self.client: mqtt_lite.LiteClient | None = None
        self.wanted = True
        self.connects = 0
        self._lost = asyncio.Event()
        self._online = asyncio.Event()
        self._online.set()
        self._applying: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        """Polls fail often after applying a fleet config (a config that hurts the bus)."""
        return self.guard.applied_version > 0 and self.id in self._sim.degraded

    async def run(self) -> None:
        """Stay connected while wanted, reconnecting with jittered backoff."""
        delay = 0.5
        while True:
            await self._online.wait()
            try:
                await self._session()
                delay = 0.5
            except (OSError, TimeoutError, mqtt_lite.MqttLiteError) as exc:
                log.debug("%s: connection failed: %s", self.id, exc)
            if self.wanted:
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, 30.0)

    async def _session(self) -> None:
        sim = self._sim
        self._lost.clear()
        async with sim.connect_slots:
            client = await mqtt_lite.connect(
                host=sim.host,
                port=sim.port,
                client_id=self.id,
                username=self.id,
                keepalive=sim.options.keepalive_s,
                on_message=self._on_message,
                on_lost=self._lost.set,
                will=(topic_for(self.id, Kind.STATE), STATE_OFFLINE),
            )
        self.client = client
        self.connects += 1
        try:
            await client.subscribe([topic_for(self.id, Kind.CONFIG_DESIRED)])
            await client.publish(topic_for(self.id, Kind.STATE), STATE_ONLINE, retain=True)
            if self.report is not None:
                await self._publish_report()
            sim.connected.add(self.id)
            beat = asyncio.create_task(self._heartbeats(client))
            try:
                await self._lost.wait()
            finally:
                beat.cancel()
        finally:
            sim.connected.discard(self.id)
            self.client = None
            if client.connected:
                client.close()

    async def go_offline(self) -> None:
        """Drop the connection abruptly (the broker publishes the will) and stay away."""
        self.wanted = False
        self._online.clear()
        if self.client is not None:
            self.client.abort()
        self._lost.set()

    def go_online(self) -> None:
        """Come back (connects, gets the retained desired config)."""
        self.wanted = True
        self._online.set()

    def _on_message(self, topic: str, payload: bytes) -> None:
        if not topic.endswith("/config/desired") or not payload:
            return
        if self._applying is not None and not self._applying.done():
            self._applying.cancel()
        self._applying = asyncio.create_task(self._apply(payload))

    async def _apply(self, envelope: bytes) -> None:
        sim = self._sim
        try:
            doc = open_fast(envelope, sim.keys)
            version = int(doc["version"])
            self.received.append(version)
            if not self.guard.judge(doc, self.id):
                self.report = ConfigReported(version=version, status="applied")
                await self._publish_report()
                return
        except RefusedError as exc:
            self.report = ConfigReported(version=-1, status="rejected", reason=str(exc))
            await self._publish_report()
            return
        low, high = sim.options.apply_delay_s
        await asyncio.sleep(random.uniform(low, high))
        guard = self.guard
        guard.highest = max(guard.highest, version)
        if self.id in sim.failing and not doc["rollback"]:
            reason = "simulated: bus sim: no successful poll in the health window"
            guard.failed[version] = reason
            self.report = ConfigReported(version=version, status="rolled_back", reason=reason)
        else:
            guard.applied_version, guard.applied_config = version, doc["config"]
            guard.last_issued_at = max(guard.last_issued_at, float(doc["issued_at"]))
            self.boot_id, self.seq, self.started = new_boot_id(), 0, time.monotonic()
            self.report = ConfigReported(version=version, status="applied")
        sim.outcomes[self.id] = (version, self.report.status)
        await self._publish_report()

    async def _publish_report(self) -> None:
        client = self.client
        if client is None or self.report is None:
            return  # published on the next connect
        payload = encode_message(self.report)
        with contextlib.suppress(mqtt_lite.MqttLiteError):  # else: again on the next connect
            await client.publish(topic_for(self.id, Kind.CONFIG_REPORTED), payload, retain=True)

    async def _heartbeats(self, client: mqtt_lite.LiteClient) -> None:
        options = self._sim.options
        interval = options.heartbeat_s
        tele = options.telemetry_s
        await asyncio.sleep(random.uniform(0, min(interval, 1.0)))
        next_tele = time.monotonic() + (tele if tele > 0 else float("inf"))
        while client.connected:
            self._count_polls(interval)
            await client.publish(topic_for(self.id, Kind.HEALTH), self._health(), qos=1)
            now = time.monotonic()
            while tele > 0 and now >= next_tele:
                await client.publish(topic_for(self.id, Kind.TELEMETRY), self._batch(), qos=1)
                next_tele += tele
            await asyncio.sleep(interval)

    def _count_polls(self, seconds: float) -> None:
        polls = max(1, int(seconds))
        failed = int(polls * (0.5 if self.degraded else 0.0))
        self.polls_ok += polls - failed
        self.polls_failed += failed

    def _health(self) -> bytes:
        return encode_message(
            Health(
                boot_id=self.boot_id,
                uptime_s=round(time.monotonic() - self.started, 3),
                agent_version="sim",
                config_version=self.guard.applied_version,
                rss_bytes=0,
                cpu_percent=0.0,
                counts=ReadingCounts(),
                buses=[
                    BusHealth(name="sim", polls_ok=self.polls_ok, polls_failed=self.polls_failed)
                ],
            )
        )

    def _batch(self) -> bytes:
        batch = TelemetryBatch(
            boot_id=self.boot_id,
            seq=self.seq,
            records=(Record(name="sim/temperature", time=time.time(), value=20 + random.random()),),
        )
        self.seq += 1
        return encode_batch(batch)
