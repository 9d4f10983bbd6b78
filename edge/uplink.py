"""Deliver buffered telemetry to the fleet: at-least-once, deleted only on the fleet's ack.

The uplink keeps at most `inflight` batches published but unacknowledged. A batch whose ack
does not come within `ack_timeout` goes back to the buffer's unsent queue and is published
again; the fleet deduplicates on (device, boot id, seq). While the broker is down nothing here
blocks the buses: readings keep flowing into the durable buffer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from edge.backoff import Backoff
from edge.transport.mqtt import MqttError, MqttSession
from protocol.encoding import Encoding
from protocol.errors import ProtocolError
from protocol.messages import Ack, ConfigReported, decode_message, encode_message
from protocol.topics import STATE_ONLINE, Kind, parse_topic

log = logging.getLogger(__name__)


class OutboundBatch(Protocol):
    """A buffered, encoded telemetry batch."""

    @property
    def boot_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def payload(self) -> bytes: ...


class OutboundBuffer(Protocol):
    """What the uplink needs from the store-and-forward buffer."""

    async def take_unsent(self, limit: int) -> Sequence[OutboundBatch]:
        """Up to `limit` unsent batches (oldest backlog, newest live, in turn); now in flight."""
        ...

    async def requeue(self, keys: Sequence[tuple[str, int]]) -> None:
        """Make these in-flight batches unsent again."""
        ...

    async def requeue_inflight(self) -> None:
        """Make every in-flight batch unsent again (after a reconnect)."""
        ...

    async def acknowledge(self, boot_id: str, ranges: Sequence[tuple[int, int]]) -> int:
        """Delete the acked batches; returns how many readings they held."""
        ...

    async def wait_for_unsent(self, timeout: float) -> None:  # noqa: ASYNC109 - a poll bound
        """Return when unsent batches may exist, or after `timeout`."""
        ...


class ConfigControl(Protocol):
    """The config supervisor's side of config/desired and config/reported (edge/config_apply)."""

    outcome_changed: asyncio.Event

    def offer(self, envelope: bytes) -> None:
        """A config/desired message arrived."""
        ...

    def report_message(self) -> ConfigReported | None:
        """The outcome to publish (retained) on config/reported, if any."""
        ...


class CommandSink(Protocol):
    """Where cmd/req messages go (edge/commands.py)."""

    def offer(self, command_id: str, payload: bytes) -> None:
        """A command request arrived."""
        ...


SessionFactory = Callable[[], AbstractAsyncContextManager[MqttSession]]


@dataclass(kw_only=True)
class UplinkStats:
    """Counters for health and status."""

    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    published_batches: int = 0
    republished_batches: int = 0
    acked_batches: int = 0
    bad_acks: int = 0
    last_error: str | None = None
    inflight: dict[tuple[str, int], float] = field(default_factory=dict)


class Uplink:
    """Publishes buffered batches and applies the fleet's acks to the buffer."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        buffer: OutboundBuffer,
        encoding: Encoding,
        inflight: int,
        ack_timeout: float,
        reconnect_max: float,
        control: ConfigControl | None = None,
        commands: CommandSink | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._buffer = buffer
        self._encoding = encoding
        self._window = inflight
        self._ack_timeout = ack_timeout
        self._backoff = Backoff(initial=1.0, cap=reconnect_max)
        self._room = asyncio.Event()
        self._session: MqttSession | None = None
        self._control = control
        self._commands = commands
        self.stats = UplinkStats()

    async def run(self) -> None:
        """Stay connected (reconnecting with jittered backoff) until cancelled."""
        while True:
            try:
                async with self._session_factory() as session:
                    await self._serve(session)
            except MqttError as exc:
                self._on_disconnect(str(exc))
            except Exception as exc:  # a gateway keeps buffering whatever the uplink hit
                log.exception("uplink: unexpected error; reconnecting")
                self._on_disconnect(f"{type(exc).__name__}: {exc}")
            delay = self._backoff.next_delay()
            log.info("uplink: reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

    async def publish_health(self, payload: bytes) -> bool:
        """Publish a heartbeat if connected; False when it had to be skipped."""
        session = self._session
        if session is None:
            return False
        try:
            await session.publish(Kind.HEALTH, payload, timeout=10)
        except MqttError:
            return False
        return True

    async def publish_command_result(self, command_id: str, payload: bytes) -> bool:
        """Publish a command result if connected; False when it could not be sent."""
        session = self._session
        if session is None:
            return False
        try:
            await session.publish_command_result(command_id, payload)
        except MqttError:
            return False
        return True

    async def _serve(self, session: MqttSession) -> None:
        await session.subscribe(Kind.ACK)
        if self._commands is not None:
            await session.subscribe_commands()
        if self._control is not None:
            await session.subscribe(Kind.CONFIG_DESIRED)
        await session.publish(Kind.STATE, STATE_ONLINE, retain=True)
        # Whatever was in flight on the last connection may never have arrived.
        self.stats.inflight.clear()
        await self._buffer.requeue_inflight()
        self._session = session
        self.stats.connected = True
        self.stats.connects += 1
        self._backoff.reset()
        log.info("uplink: connected; delivering buffered telemetry")
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._receive_acks(session), name="uplink-acks")
                tasks.create_task(self._send(session), name="uplink-send")
                tasks.create_task(self._expire_unacked(), name="uplink-ack-timeout")
                if self._control is not None:
                    tasks.create_task(self._report_config(session), name="uplink-config-report")
                # Wait in the body, not in __aexit__: on Python 3.11 a child failing while
                # __aexit__ waits leaves this task's cancel request un-cancelled, and the next
                # session's _raise_pending_cancel() would then end the uplink for good.
                await asyncio.Future()
        except* MqttError as group:
            raise group.exceptions[0] from None
        finally:
            self._session = None
            self.stats.connected = False

    def _on_disconnect(self, reason: str) -> None:
        if self.stats.last_error != reason or self.stats.connects:
            log.warning("uplink: broker unreachable (%s); buffering locally", reason)
        self.stats.disconnects += 1
        self.stats.last_error = reason

    async def _send(self, session: MqttSession) -> None:
        publishing: set[asyncio.Task[None]] = set()
        while True:
            room = self._window - len(self.stats.inflight)
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            batches = await self._buffer.take_unsent(room)
            if not batches:
                await self._buffer.wait_for_unsent(timeout=0.5)
                continue
            now = time.monotonic()
            for batch in batches:
                self.stats.inflight[(batch.boot_id, batch.seq)] = now
                task = asyncio.create_task(session.publish(Kind.TELEMETRY, batch.payload))
                publishing.add(task)
                task.add_done_callback(publishing.discard)
            self.stats.published_batches += len(batches)
            # Surface a failed publish (connection lost) to the TaskGroup promptly.
            for task in [t for t in publishing if t.done()]:
                task.result()

    async def _receive_acks(self, session: MqttSession) -> None:
        async for topic, payload in session.messages():
            try:
                ref = parse_topic(topic)
                kind = ref.kind
                if kind is Kind.CMD_REQ and self._commands is not None:
                    self._commands.offer(ref.command_id or "", payload)
                    continue
                if kind is Kind.CONFIG_DESIRED and self._control is not None:
                    if payload:  # an empty retained message clears, it is not a config
                        self._control.offer(payload)
                    continue
                if kind is not Kind.ACK:
                    continue
                ack = decode_message(payload, Ack, self._encoding)
            except ProtocolError as exc:
                self.stats.bad_acks += 1
                log.warning("uplink: ignored a malformed ack on %s: %s", topic, exc)
                continue
            for entry in ack.entries:
                await self._buffer.acknowledge(entry.boot_id, entry.ranges)
                self._forget_acked(entry.boot_id, entry.ranges)
            self._room.set()

    async def _report_config(self, session: MqttSession) -> None:
        """Publish the latest config outcome (retained) now and whenever it changes."""
        assert self._control is not None
        while True:
            self._control.outcome_changed.clear()
            message = self._control.report_message()
            if message is not None:
                payload = encode_message(message, self._encoding)
                await session.publish(Kind.CONFIG_REPORTED, payload, retain=True)
            await self._control.outcome_changed.wait()

    def _forget_acked(self, boot_id: str, ranges: Sequence[tuple[int, int]]) -> None:
        # Walk the (small) in-flight set, not the ranges: a range may span millions of seqs.
        for key in list(self.stats.inflight):
            if key[0] == boot_id and any(first <= key[1] <= last for first, last in ranges):
                del self.stats.inflight[key]
                self.stats.acked_batches += 1

    async def _expire_unacked(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self._ack_timeout / 2))
            deadline = time.monotonic() - self._ack_timeout
            expired = [key for key, sent in self.stats.inflight.items() if sent < deadline]
            if not expired:
                continue
            for key in expired:
                del self.stats.inflight[key]
            await self._buffer.requeue(expired)
            self.stats.republished_batches += len(expired)
            log.info("uplink: %d batch(es) not acknowledged in time; sending again", len(expired))
            self._room.set()
