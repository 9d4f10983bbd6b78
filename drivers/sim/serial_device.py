"""A simulated serial-protocol device: channel scripts turned into frames by the driver's class."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from drivers.sdk.codec import Value
from drivers.sdk.driver import Driver
from drivers.sdk.errors import DriverError
from drivers.sdk.serial import SerialProtocol
from drivers.sim.scripts import Fault, RaisesException, Silent, Stuck, script_for


class SimulatedSerialDevice:
    """Talks its driver's serial protocol: streams frames, or answers its requests."""

    def __init__(
        self,
        driver: Driver,
        unit: int = 1,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        baud: int | None = None,
        period: float = 1.0,
    ) -> None:
        if not driver.is_serial:
            raise DriverError(f"driver {driver.name} is a register map, not a serial protocol")
        self.driver = driver
        self.unit = unit
        self.baud = baud
        self.period = period
        """Stream mode: seconds between readings (a PMS5003 sends about one a second)."""
        self.protocol: SerialProtocol = driver.new_protocol()
        self.fault: Fault | None = None
        self.requests = 0
        self.frames_sent = 0
        self._clock = clock
        self._t0 = clock()
        rng = random.Random(unit if seed is None else seed)
        self._scripts = {c.name: script_for(c, rng=rng) for c in driver.channels.values()}
        self._pinned: dict[str, Value] = {}
        self._frozen: dict[str, Value] | None = None
        self._recorded: list[bytes] | None = None

    def load_frames(self, frames: Sequence[bytes]) -> None:
        """Send exactly these bytes for every reading from now on: golden cases use this."""
        self._recorded = list(frames)

    def set_value(self, channel: str, value: Value) -> None:
        """Pin a channel to an engineering value (its script stops moving it)."""
        self.driver.channel(channel)
        self._pinned[channel] = value

    def values(self) -> dict[str, Value]:
        """Every channel's value now; frozen while the device is Stuck."""
        if isinstance(self.fault, Stuck) and self._frozen is not None:
            return dict(self._frozen)
        t = self._clock() - self._t0
        current: dict[str, Value] = {n: s.value(t) for n, s in self._scripts.items()}
        current.update(self._pinned)
        self._frozen = current
        return dict(current)

    def reading(self) -> list[bytes]:
        """The frames of one reading, as the fault allows: none when silent, corrupt on error."""
        if isinstance(self.fault, Silent):
            return []
        frames = (
            list(self._recorded)
            if self._recorded is not None
            else self.protocol.encode(self.values(), unit=self.unit)
        )
        if isinstance(self.fault, RaisesException):
            # A serial device has no exception response; a broken checksum is its failure.
            frames = [frame[:-1] + bytes([frame[-1] ^ 0xFF]) for frame in frames if frame]
        self.frames_sent += len(frames)
        return frames
