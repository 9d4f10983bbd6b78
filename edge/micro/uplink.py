"""Deliver the ring's batches over MQTT (umqtt.simple's API): at least once, deleted only
on the fleet's ack ranges, at most `window` unacked at a time.

umqtt.simple blocks in connect and in a QoS 1 publish (until PUBACK), so `step()` is called
from the agent's loop and does a bounded amount of work per call. The broker's PUBACK is not
the fleet's ack: a batch stays in the ring until an `ack` message names its sequence.
"""

from edge.micro.ring import Ring
from protocol.core import cbor, topics

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def parse_ack(payload: bytes) -> "list[tuple[str, list[list[int]]]]":
    """(boot id, [[first, last], ...]) pairs of an Ack message; ValueError if malformed."""
    message = cbor.loads(payload)
    entries = message.get("entries") if isinstance(message, dict) else None
    if not isinstance(entries, list):
        raise ValueError("an ack is a map with entries")
    out = []
    for entry in entries:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str):
            raise ValueError("an ack entry is [boot_id, ranges]")
        ranges = entry[1]
        for pair in ranges:
            if len(pair) != 2 or type(pair[0]) is not int or type(pair[1]) is not int:
                raise ValueError("an ack range is [first, last]")
        out.append((entry[0], ranges))
    return out


class Uplink:
    """One MQTT connection at a time, reconnecting with exponential backoff."""

    def __init__(
        self,
        connect: "Callable[[], Any]",
        ring: Ring,
        device_id: str,
        window: int = 4,
        ack_timeout_ms: int = 30000,
        on_config: "Callable[[bytes], None] | None" = None,
    ) -> None:
        self._connect = connect
        self.ring = ring
        self.window = window
        self.ack_timeout_ms = ack_timeout_ms
        self.on_config = on_config
        self.client: "Any" = None
        self.backoff_ms = 1000
        self.retry_at = 0
        self.topic_telemetry = topics.topic(device_id, topics.TELEMETRY)
        self.topic_health = topics.topic(device_id, topics.HEALTH)
        self.topic_state = topics.topic(device_id, topics.STATE)
        self.topic_reported = topics.topic(device_id, topics.CONFIG_REPORTED)
        self._topic_ack = topics.topic(device_id, topics.ACK).encode()
        self._topic_desired = topics.topic(device_id, topics.CONFIG_DESIRED).encode()
        self.published = 0
        self.acked_readings = 0
        self.bad_acks = 0
        self.connects = 0
        self.last_error: "str | None" = None

    @property
    def connected(self) -> bool:
        """True while a session is up."""
        return self.client is not None

    def step(self, now: int) -> None:
        """Connect if due, take in acks and config, publish what the window allows."""
        if self.client is None:
            if now - self.retry_at >= 0:
                self._open(now)
            return
        try:
            self.client.check_msg()
            self.ring.expire(now, self.ack_timeout_ms)
            room = self.window - self.ring.inflight()
            if room > 0:
                for entry, payload in self.ring.take_unsent(room, now):
                    self.client.publish(self.topic_telemetry, payload, False, 1)
                    self.published += 1
        except OSError as exc:
            self._lost(now, exc)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """Publish a control message (health, config report) QoS 1 if connected."""
        if self.client is None:
            return False
        try:
            self.client.publish(topic, payload, retain, 1)
        except OSError as exc:
            self._lost(self.retry_at, exc)
            return False
        return True

    def _open(self, now: int) -> None:
        try:
            client = self._connect()
            client.set_callback(self._on_message)
            client.set_last_will(self.topic_state, topics.STATE_OFFLINE, True, 1)
            client.connect()
            client.subscribe(self._topic_ack, 1)
            client.subscribe(self._topic_desired, 1)
            client.publish(self.topic_state, topics.STATE_ONLINE, True, 1)
        except OSError as exc:
            self.last_error = "connect: " + str(exc)
            self.retry_at = now + self.backoff_ms
            self.backoff_ms = min(self.backoff_ms * 2, 60000)
            return
        # Whatever was in flight on the last connection may never have arrived.
        self.ring.requeue_inflight()
        self.client = client
        self.connects += 1
        self.backoff_ms = 1000

    def _lost(self, now: int, exc: Exception) -> None:
        self.last_error = str(exc)
        try:
            self.client.sock.close()
        except Exception:  # the socket is dead either way
            pass
        self.client = None
        self.retry_at = now + self.backoff_ms

    def _on_message(self, topic: bytes, payload: bytes) -> None:
        if topic == self._topic_ack:
            try:
                acks = parse_ack(payload)
            except (ValueError, TypeError):
                self.bad_acks += 1
                return
            for boot_id, ranges in acks:
                self.acked_readings += self.ring.acknowledge(boot_id, ranges)
        elif topic == self._topic_desired and self.on_config is not None:
            self.on_config(payload)
