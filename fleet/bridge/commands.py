"""The command channel: requests go out through the bridge's connection (cmd/req/{id}), results
come back through it (cmd/res/{id}) and are recorded here; unanswered commands time out.

One connection, because a broker with `use_username_as_clientid` gives the fleet account a
single client id: a second connection would kick the bridge off.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Protocol

import aiomqtt
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.db.operations import Command
from protocol.encoding import encoding_for_content_type
from protocol.errors import ProtocolError
from protocol.messages import CommandRequest, CommandResult, decode_message, encode_message
from protocol.topics import parse_topic

log = logging.getLogger("fleet.commands")
QUEUE_SIZE = 10_000


class CommandPublisher(Protocol):
    """The bridge's side: publish one request."""

    async def publish_command(self, device_id: str, command_id: str, payload: bytes) -> None:
        """Publish; raises MqttError when not connected."""
        ...


class CommandChannel:
    """Sends requests, applies results, and times out commands nobody answered."""

    def __init__(
        self, publisher: CommandPublisher | None, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self._publisher = publisher
        self._sessions = sessions
        self._results: asyncio.Queue[aiomqtt.Message] = asyncio.Queue(QUEUE_SIZE)
        self.sent = 0
        self.results = 0
        self.timed_out = 0

    def offer(self, message: aiomqtt.Message) -> None:
        """A cmd/res message arrived (the bridge's reader calls this; never blocks)."""
        try:
            self._results.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("command results queue full: dropped one (it will time out)")

    async def send(self, device_id: str, command_id: str, request: CommandRequest) -> bool:
        """Publish one request at QoS 1; False when the fleet is not connected to the broker."""
        if self._publisher is None:
            return False
        try:
            payload = encode_message(request, "cbor")
            await self._publisher.publish_command(device_id, command_id, payload)
        except aiomqtt.MqttError:
            return False
        self.sent += 1
        return True

    async def run(self) -> None:
        """Record results as they arrive, until cancelled."""
        while True:
            message = await self._results.get()
            try:
                await self._result(message)
            except Exception:
                log.exception("recording a command result failed")

    async def expire(self, *, interval_s: float = 1.0) -> None:
        """Mark pending commands past their deadline as timed out, until cancelled."""
        while True:
            try:
                now = datetime.now(UTC)
                async with self._sessions() as session, session.begin():
                    result = await session.execute(
                        update(Command)
                        .where(Command.status == "pending", Command.deadline_at < now)
                        .values(status="timed_out", reason="no answer in time", finished_at=now)
                    )
                self.timed_out += int(getattr(result, "rowcount", 0) or 0)
            except Exception:
                log.exception("command time-outs failed")
            await asyncio.sleep(interval_s)

    async def _result(self, message: aiomqtt.Message) -> None:
        try:
            ref = parse_topic(message.topic.value)
            content_type = getattr(message.properties, "ContentType", None)
            encoding = encoding_for_content_type(
                content_type if isinstance(content_type, str) else None
            )
            payload = message.payload if isinstance(message.payload, bytes) else b""
            result = decode_message(payload, CommandResult, encoding)
        except ProtocolError as exc:
            log.warning("command channel: ignored a malformed result: %s", exc)
            return
        reason = result.reason
        if result.devices:
            reason = f"{reason + '; ' if reason else ''}sensors: {', '.join(result.devices)}"
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Command)
                .where(
                    Command.id == ref.command_id,
                    Command.device_id == ref.device_id,
                    Command.status == "pending",
                )
                .values(
                    status=result.status,
                    reason=reason[:300] if reason else None,
                    finished_at=datetime.now(UTC),
                )
            )
        self.results += 1
