"""The one small class a non-Modbus serial device needs.

A serial-protocol driver is a folder like any other (driver.yaml with its channels,
units and defaults) whose `protocol: module:Class` names a SerialProtocol subclass in
the folder. The class says how bytes are framed and what a frame means; the agent owns
the port (edge/transport/serial.py) and the simulator reuses the same class to speak.

- mode "stream": the device talks on its own (PMS5003 active mode, a GNSS receiver).
- mode "poll": the agent sends `request(unit)` and waits for one answer frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from drivers.sdk.errors import DecodeError
from drivers.sdk.framing import Framer

Value = float | int | bool | str
Mode = Literal["stream", "poll"]


class SerialProtocol:
    """Frames and decodes one device model's bytes; subclasses override what they need."""

    mode: ClassVar[Mode] = "stream"

    def framer(self) -> Framer:
        """A new reader that cuts the device's byte stream into frames."""
        raise NotImplementedError

    def decode(self, frame: bytes) -> dict[str, Value]:
        """Channel values carried by one frame (maybe a subset); DecodeError when invalid."""
        raise NotImplementedError

    def request(self, unit: int) -> bytes:
        """Poll mode: the bytes that ask the device at unit for a reading."""
        raise DecodeError(f"{type(self).__name__} is a stream protocol and sends no requests")

    # The simulator's side of the conversation.

    def encode(self, values: Mapping[str, Value], *, unit: int) -> list[bytes]:
        """Frames a device holding values sends for one reading (one period of a stream)."""
        raise NotImplementedError

    def request_framer(self) -> Framer:
        """Poll mode: a reader that cuts requests out of what the agent sends."""
        raise NotImplementedError

    def addressed_to(self, request: bytes, unit: int) -> bool:
        """Poll mode: whether a request frame asks the device at unit."""
        return request == self.request(unit)
