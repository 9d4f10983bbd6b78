"""Helpers the micro tests share; they run on MicroPython (no pytest) and on CPython."""

import os

_counter = [0]


def raises(kind: type, function: object, *args: object) -> BaseException:
    """Call function(*args) and return the exception of type `kind` it must raise."""
    try:
        function(*args)  # type: ignore[operator]
    except kind as exc:
        return exc
    raise AssertionError("expected " + kind.__name__)


def fresh_dir(name: str) -> str:
    """An empty directory for one test (under /work on MicroPython, /tmp on CPython)."""
    _counter[0] += 1
    base = "/work" if _is_micropython() else _cpython_tmp()
    path = base + "/" + name + "-" + str(_counter[0])
    os.mkdir(path)
    return path


def _is_micropython() -> bool:
    import sys

    return sys.implementation.name == "micropython"


def _cpython_tmp() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="pk-micro-")


class FakeMqtt:
    """umqtt.simple.MQTTClient's surface, recording publishes; `deliver` plays the broker."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, bool, int]] = []
        self.subscribed: list[bytes] = []
        self.inbox: list[tuple[bytes, bytes]] = []
        self.callback: object = None
        self.will: object = None
        self.connected = False
        self.fail_connect = False

    def set_callback(self, callback: object) -> None:
        """As umqtt: called with (topic, message) bytes."""
        self.callback = callback

    def set_last_will(self, topic: str, message: bytes, retain: bool, qos: int) -> None:
        """As umqtt."""
        self.will = (topic, message, retain, qos)

    def connect(self) -> None:
        """As umqtt; OSError when told to fail."""
        if self.fail_connect:
            raise OSError(113)
        self.connected = True

    def subscribe(self, topic: bytes, qos: int) -> None:
        """As umqtt."""
        self.subscribed.append(topic)

    def publish(self, topic: str, message: bytes, retain: bool, qos: int) -> None:
        """As umqtt (QoS 1 returns after the broker's PUBACK)."""
        if not self.connected:
            raise OSError(104)
        self.published.append((topic, bytes(message), retain, qos))

    def check_msg(self) -> None:
        """Hand queued messages to the callback."""
        if not self.connected:
            raise OSError(104)
        while self.inbox:
            topic, message = self.inbox.pop(0)
            self.callback(topic, message)  # type: ignore[operator]

    def deliver(self, topic: str, message: bytes) -> None:
        """Queue a message from the broker for the next check_msg."""
        self.inbox.append((topic.encode(), message))

    def on(self, suffix: str) -> list[bytes]:
        """Payloads published to topics ending with suffix."""
        return [message for topic, message, _, _ in self.published if topic.endswith(suffix)]
