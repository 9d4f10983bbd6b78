"""One simulated device: a register image computed from its driver's map and value scripts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from drivers.sdk.codec import FieldSpec, Value, bytes_of, encode_value, registers_of
from drivers.sdk.datatypes import RegisterType
from drivers.sdk.driver import Driver
from drivers.sdk.errors import EncodeError
from drivers.sim.scripts import Fault, RaisesException, Silent, Stuck, ValueScript, script_for

ILLEGAL_DATA_ADDRESS = 2
_REFRESH_EVERY = 0.05
"""Seconds between recomputing values; a flat-out client must not make the simulator hot."""


class SimExceptionError(Exception):
    """The simulated device answers this Modbus exception code."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"Modbus exception {code}")


class SimSilenceError(Exception):
    """The simulated device does not answer at all."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _Animated:
    name: str
    register_type: RegisterType
    address: int
    field: FieldSpec
    script: ValueScript


class SimulatedDevice:
    """A device on a simulated bus, readable and writable like the real one."""

    def __init__(
        self,
        driver: Driver,
        unit: int,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        baud: int | None = None,
    ) -> None:
        self.driver = driver
        self.unit = unit
        self.baud = baud
        """On a serial line: the only baud rate this device understands (None: the line's)."""
        self.fault: Fault | None = None
        self.requests = 0
        self._clock = clock
        self._t0 = clock()
        self._last_refresh = float("-inf")
        self._static = False
        self._pinned: set[str] = set()
        rng = random.Random(unit if seed is None else seed)
        self._animated = [
            _Animated(
                name=c.name,
                register_type=c.register_type,
                address=c.address,
                field=c.field_at(c.address),
                script=script_for(c, rng=rng),
            )
            for c in driver.channels.values()
        ]
        self._words: dict[RegisterType, dict[int, int]] = {t: {} for t in RegisterType}
        self._extent: dict[RegisterType, int] = dict.fromkeys(RegisterType, 0)
        for c in driver.channels.values():
            end = c.address + c.width
            self._extent[c.register_type] = max(self._extent[c.register_type], end)
        for w in driver.writable.values():
            end = w.address + w.field.width
            self._extent[w.register_type] = max(self._extent[w.register_type], end)

    def load_registers(self, register_type: RegisterType, values: Mapping[int, int]) -> None:
        """Set raw registers (or 0/1 bits) and stop animating: golden cases use this."""
        self._static = True
        store = self._words[register_type]
        for address, value in values.items():
            store[address] = value
            self._extent[register_type] = max(self._extent[register_type], address + 1)

    def set_value(self, channel: str, value: Value) -> None:
        """Pin a channel to an engineering value (scripts stop moving it)."""
        c = self.driver.channel(channel)
        self._pinned.add(channel)
        self._store(c.register_type, c.address, c.field_at(c.address), value)

    def _store(self, register_type: RegisterType, address: int, field: FieldSpec, v: Value) -> None:
        store = self._words[register_type]
        if register_type.is_bit:
            store[address] = encode_value(field, v)[0]
            return
        current = None
        if field.bit is not None:  # other flags share the register: keep them
            current = bytes_of([store.get(address + i, 0) for i in range(field.width)])
        raw = encode_value(field, v, current=current)
        for i, word in enumerate(registers_of(raw)):
            store[address + i] = word

    def _refresh(self) -> None:
        now = self._clock()
        if (
            self._static
            or isinstance(self.fault, Stuck)
            or now - self._last_refresh < _REFRESH_EVERY
        ):
            return
        self._last_refresh = now
        t = now - self._t0
        for item in self._animated:
            if item.name in self._pinned:
                continue
            try:
                self._store(item.register_type, item.address, item.field, item.script.value(t))
            except EncodeError:
                continue  # a script that leaves the type's range keeps the last good value

    def _check(self, register_type: RegisterType, address: int, count: int) -> None:
        self.requests += 1
        if isinstance(self.fault, Silent):
            raise SimSilenceError
        if isinstance(self.fault, RaisesException):
            raise SimExceptionError(self.fault.code)
        if count < 1 or address + count > self._extent[register_type]:
            raise SimExceptionError(ILLEGAL_DATA_ADDRESS)

    def read(self, register_type: RegisterType, address: int, count: int) -> list[int]:
        """Register values (or 0/1 bits); unmapped addresses inside the map read as 0."""
        self._check(register_type, address, count)
        self._refresh()
        store = self._words[register_type]
        return [store.get(a, 0) for a in range(address, address + count)]

    def write(self, register_type: RegisterType, address: int, values: Sequence[int]) -> None:
        """Store written registers or bits; reads return them from now on."""
        self._check(register_type, address, len(values))
        store = self._words[register_type]
        for i, value in enumerate(values):
            store[address + i] = int(value)
        self._pinned.update(
            a.name
            for a in self._animated
            if a.register_type is register_type and address <= a.address < address + len(values)
        )
        for point in self.driver.writable.values():
            offset = point.address - address
            hit = point.register_type is register_type and 0 <= offset < len(values)
            if hit and point.clears and values[offset]:
                self._reset(point.clears)
                store[point.address] = 0  # a reset coil or register clears itself

    def _reset(self, channels: Sequence[str]) -> None:
        """Clear latched channels (an alarm input after its reset coil was written)."""
        for name in channels:
            self.set_value(name, 0)
