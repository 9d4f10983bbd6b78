"""A lean asyncio MQTT 3.1.1 client for the simulator only: thousands per process.

CONNECT (with will), SUBSCRIBE, PUBLISH QoS 0/1 both ways, PUBACK, PINGREQ, DISCONNECT;
one asyncio.Protocol per connection and no task per client. Not a general client: no QoS 2,
no in-flight resend (the simulator reconnects and republishes instead).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 0x10, 0x20, 0x30, 0x40, 0x82, 0x90
PINGREQ, PINGRESP, DISCONNECT = 0xC0, 0xD0, 0xE0
OnMessage = Callable[[str, bytes], None]


class MqttLiteError(Exception):
    """The broker refused us or the connection is gone."""


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def _packet(first: int, body: bytes) -> bytes:
    n = len(body)
    length = bytearray()
    while True:
        digit, n = n % 128, n // 128
        length.append(digit | (0x80 if n else 0))
        if not n:
            break
    return bytes([first]) + bytes(length) + body


class LiteClient(asyncio.Protocol):
    """One MQTT connection; create with `connect()`."""

    def __init__(self, on_message: OnMessage, on_lost: Callable[[], None]) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._connack: asyncio.Future[int] | None = None
        self._next_id = 0
        self._ping: asyncio.TimerHandle | None = None
        self._keepalive = 60
        self.connected = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail whoever waits and tell the owner."""
        was = self.connected
        self.connected = False
        if self._ping is not None:
            self._ping.cancel()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(MqttLiteError("connection lost"))
        self._waiting.clear()
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(MqttLiteError("connection lost before CONNACK"))
        if was:
            self._on_lost()

    def data_received(self, data: bytes) -> None:
        """Split the stream into packets."""
        self._buffer += data
        while True:
            if len(self._buffer) < 2:
                return
            length, multiplier, index = 0, 1, 1
            while True:
                if index >= len(self._buffer):
                    return
                byte = self._buffer[index]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                index += 1
                if not byte & 0x80:
                    break
            if len(self._buffer) < index + length:
                return
            first = self._buffer[0]
            body = bytes(self._buffer[index : index + length])
            del self._buffer[: index + length]
            self._handle(first, body)

    def _handle(self, first: int, body: bytes) -> None:
        kind = first & 0xF0
        if kind == PUBLISH:
            qos = (first >> 1) & 3
            (topic_len,) = struct.unpack_from("!H", body)
            topic = body[2 : 2 + topic_len].decode()
            offset = 2 + topic_len
            if qos:
                (packet_id,) = struct.unpack_from("!H", body, offset)
                offset += 2
                self._write(_packet(PUBACK, struct.pack("!H", packet_id)))
            self._on_message(topic, body[offset:])
        elif kind in (PUBACK, SUBACK):
            (packet_id,) = struct.unpack_from("!H", body)
            future = self._waiting.pop(packet_id, None)
            if future is not None and not future.done():
                if kind == SUBACK and body[2:3] == b"\x80":
                    future.set_exception(MqttLiteError("subscription refused"))
                else:
                    future.set_result(None)
        elif kind == CONNACK and self._connack is not None and not self._connack.done():
            self._connack.set_result(body[1])

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    async def handshake(
        self,
        *,
        client_id: str,
        keepalive: int,
        username: str | None,
        password: str | None,
        will: tuple[str, bytes] | None,
    ) -> None:
        """Send CONNECT (clean session, retained QoS 1 will) and wait for CONNACK."""
        flags = 0x02
        payload = _string(client_id.encode())
        if will is not None:
            flags |= 0x04 | 0x08 | 0x20  # will, will QoS 1, will retain
            payload += _string(will[0].encode()) + _string(will[1])
        if username is not None:
            flags |= 0x80
            payload += _string(username.encode())
        if password is not None:
            flags |= 0x40
            payload += _string(password.encode())
        header = _string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
        self._connack = asyncio.get_running_loop().create_future()
        self._write(_packet(CONNECT, header + payload))
        code = await self._connack
        if code != 0:
            raise MqttLiteError(f"CONNACK refused with code {code}")
        self.connected = True
        self._keepalive = keepalive
        self._schedule_ping()

    def _schedule_ping(self) -> None:
        loop = asyncio.get_running_loop()
        self._ping = loop.call_later(self._keepalive * 0.75, self._send_ping)

    def _send_ping(self) -> None:
        if self.connected:
            self._write(_packet(PINGREQ, b""))
            self._schedule_ping()

    async def subscribe(self, topics: list[str]) -> None:
        """Subscribe at QoS 1 and wait for SUBACK."""
        packet_id = self._packet_id()
        body = struct.pack("!H", packet_id) + b"".join(
            _string(t.encode()) + b"\x01" for t in topics
        )
        future = asyncio.get_running_loop().create_future()
        self._waiting[packet_id] = future
        self._write(_packet(SUBSCRIBE, body))
        await future

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish; at QoS 1 returns once the broker sent PUBACK."""
        if not self.connected:
            raise MqttLiteError("not connected")
        first = PUBLISH | (qos << 1) | (1 if retain else 0)
        if qos == 0:
            self._write(_packet(first, _string(topic.encode()) + payload))
            return
        packet_id = self._packet_id()
        future = asyncio.get_running_loop().create_future()
        self._waiting[packet_id] = future
        self._write(
            _packet(first, _string(topic.encode()) + struct.pack("!H", packet_id) + payload)
        )
        await future

    def close(self) -> None:
        """Send DISCONNECT (no will) and close."""
        if self.connected:
            self._write(_packet(DISCONNECT, b""))
        self.connected = False
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT (the broker publishes the will)."""
        self.connected = False
        if self._transport is not None:
            self._transport.abort()


async def connect(
    *,
    host: str,
    port: int,
    client_id: str,
    on_message: OnMessage,
    on_lost: Callable[[], None],
    keepalive: int = 60,
    username: str | None = None,
    password: str | None = None,
    will: tuple[str, bytes] | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 - one bound for TCP connect and CONNACK
) -> LiteClient:
    """Open a connection and complete the MQTT handshake."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _transport, client = await loop.create_connection(
            lambda: LiteClient(on_message, on_lost), host, port
        )
        try:
            await client.handshake(
                client_id=client_id,
                keepalive=keepalive,
                username=username,
                password=password,
                will=will,
            )
        except BaseException:
            client.abort()
            raise
    return client
