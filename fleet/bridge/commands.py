"""The command channel: publishes cmd/req/{id} to devices and records their cmd/res/{id}.

Its own MQTT client (client id `<fleet id>-cmd`), so commands never queue behind ingest.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import aiomqtt
import msgspec
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.bridge.connection import Backoff, make_client, publish_properties
from fleet.db.operations import Command
from fleet.settings import MqttSettings
from protocol.encoding import encoding_for_content_type
from protocol.errors import ProtocolError
from protocol.messages import CommandRequest, CommandResult, decode_message, encode_message
from protocol.topics import Kind, fleet_subscription, parse_topic, topic_for

log = logging.getLogger("fleet.commands")


class CommandChannel:
    """Sends requests, applies results, and times out commands nobody answered."""

    def __init__(self, mqtt: MqttSettings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._mqtt = msgspec.structs.replace(mqtt, client_id=f"{mqtt.client_id}-cmd"[:64])
        self._sessions = sessions
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.sent = 0
        self.results = 0
        self.timed_out = 0

    async def run(self) -> None:
        """Stay connected and subscribed to cmd/res/+ until cancelled."""
        backoff = Backoff(cap_s=30.0)
        while True:
            try:
                async with make_client(self._mqtt) as client:
                    group = self._mqtt.share_group
                    await client.subscribe(fleet_subscription(Kind.CMD_RES, group), qos=1)
                    self._client = client
                    self.connected.set()
                    backoff.reset()
                    async for message in client.messages:
                        await self._result(message)
            except aiomqtt.MqttError as exc:
                log.warning("command channel: broker connection lost (%s)", exc)
            except Exception:
                log.exception("command channel failed; restarting")
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(backoff.next_delay())

    async def send(self, device_id: str, command_id: str, request: CommandRequest) -> bool:
        """Publish one request at QoS 1; False when the fleet is not connected to the broker."""
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(
                topic_for(device_id, Kind.CMD_REQ, command_id),
                encode_message(request, "cbor"),
                qos=1,
                properties=publish_properties(self._mqtt, "cbor"),
                timeout=10,
            )
        except aiomqtt.MqttError:
            return False
        self.sent += 1
        return True

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
                    reason=(reason or None) and reason[:300],
                    finished_at=datetime.now(UTC),
                )
            )
        self.results += 1
