"""The serial-protocol devices of one line: bytes in, frames cut and decoded, readings out.

A stream device (PMS5003, a GNSS receiver) talks on its own: every frame is decoded as
it arrives and its values wait, newest wins, until the scheduler's next poll takes them.
A poll device is asked: the session sends its request and waits for one answer frame.
Either way a poll that gets nothing within the bus timeout is a DeviceTimeout, so the
scheduler's online/offline, retry and log-once rules work unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from drivers.sdk.errors import DecodeError
from drivers.sdk.framing import Framer
from drivers.sdk.serial import SerialProtocol, Value
from edge.devices import Device
from edge.transport.errors import DeviceTimeout
from edge.transport.serial import SerialLine


@dataclass(kw_only=True)
class SerialCounters:
    """What the line carried for one device: good frames, bad frames, skipped bytes."""

    frames: int = 0
    bad_frames: int = 0
    decode_errors: int = 0
    discarded_bytes: int = 0


@dataclass(kw_only=True)
class _Listener:
    device: Device
    protocol: SerialProtocol
    framer: Framer
    counters: SerialCounters
    latest: dict[str, tuple[Value, float]] = field(default_factory=dict)
    fresh: asyncio.Event = field(default_factory=asyncio.Event)


class SerialSession:
    """Owns a SerialLine and the framing state of the devices on it."""

    def __init__(
        self,
        line: SerialLine,
        devices: Sequence[Device],
        *,
        timeout: float = 1.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.line = line
        self.timeout = timeout
        """How long a poll waits for a frame (the bus timeout)."""
        self._wall = wall_clock
        self._listeners: dict[str, _Listener] = {}
        for device in devices:
            protocol = device.driver.new_protocol()
            self._listeners[device.name] = _Listener(
                device=device,
                protocol=protocol,
                framer=protocol.framer(),
                counters=SerialCounters(),
            )
        self._current: _Listener | None = None
        streaming = [x for x in self._listeners.values() if x.protocol.mode == "stream"]
        if streaming:
            self._current = streaming[0]

    def counters(self, device: str) -> SerialCounters:
        """Frame counters of one device."""
        return self._listeners[device].counters

    def _on_data(self, data: bytes) -> None:
        listener = self._current
        if listener is None:
            return  # nobody asked: stray bytes on a poll-mode line
        framer, counters = listener.framer, listener.counters
        frames = framer.feed(data)
        counters.bad_frames = framer.bad_frames
        counters.discarded_bytes = framer.discarded
        if not frames:
            return
        now = self._wall()
        for frame in frames:
            try:
                values = listener.protocol.decode(frame)
            except DecodeError:
                counters.decode_errors += 1
                continue
            counters.frames += 1
            for name, value in values.items():
                if name in listener.device.channels:
                    listener.latest[name] = (value, now)
            listener.fresh.set()

    async def poll(self, device: str, *, within: float) -> list[tuple[str, Value, float]]:
        """(channel, value, time) of one reading; DeviceTimeout when the device stays quiet."""
        listener = self._listeners[device]
        self.line.open(self._on_data)
        if listener.protocol.mode == "poll":
            self._current = listener
            listener.framer.reset()
            listener.fresh.clear()
            listener.latest.clear()
            await self.line.write(listener.protocol.request(listener.device.unit))
        if not listener.fresh.is_set():
            try:
                await asyncio.wait_for(listener.fresh.wait(), within)
            except TimeoutError:
                raise DeviceTimeout(
                    f"{listener.device.driver.name} sent no valid frame within {within:g}s "
                    f"on {self.line.description}"
                ) from None
        listener.fresh.clear()
        taken = [(name, value, ts) for name, (value, ts) in listener.latest.items()]
        listener.latest.clear()
        return taken

    async def close(self) -> None:
        """Close the line."""
        await self.line.close()
