"""Where every reading went: named counters and the invariant that ties them to the buffer.

Every reading the buses produce is counted once as ``read`` and then ends up in exactly one
place, so at any instant::

    read - out_of_range - filtered + aggregated_out
        == dropped_buffer_full + delivered + buffered + pending

- ``out_of_range``: dropped by the channel's range check (or not a finite number).
- ``filtered``: suppressed by a filter, or absorbed into a window aggregate.
- ``aggregated_out``: aggregate readings a window produced (they re-enter the flow, so they
  are added on the left; an aggregate a later filter suppresses counts as ``filtered`` too).
- ``dropped_buffer_full``: in a batch the buffer deleted to stay under its size bound.
- ``delivered``: in a batch the fleet acknowledged.
- ``buffered`` (derived): in a batch committed to the buffer and not yet acknowledged.
- ``pending`` (derived): in the batcher or queued for the buffer, not yet committed.

The counters are persisted in the buffer database in the same transaction as the batches
they describe, so after a crash the stored counters balance with ``pending == 0``: readings
lost with the process were never durably counted as read.
"""

from __future__ import annotations

from typing import Final

import msgspec

from protocol.messages import ReadingCounts

COUNTER_NAMES: Final = (
    "read",
    "out_of_range",
    "filtered",
    "aggregated_out",
    "dropped_buffer_full",
    "delivered",
)


class Counts:
    """Mutable reading counters; the hot path bumps attributes, the buffer persists them."""

    __slots__ = COUNTER_NAMES

    def __init__(self) -> None:
        self.read = 0
        self.out_of_range = 0
        self.filtered = 0
        self.aggregated_out = 0
        self.dropped_buffer_full = 0
        self.delivered = 0

    @classmethod
    def of(cls, values: dict[str, int]) -> Counts:
        """Counts from a name -> value mapping (unknown names are ignored)."""
        counts = cls()
        for name in COUNTER_NAMES:
            setattr(counts, name, int(values.get(name, 0)))
        return counts

    def items(self) -> list[tuple[str, int]]:
        """(name, value) pairs in a fixed order, for SQL parameters and reports."""
        return [(name, getattr(self, name)) for name in COUNTER_NAMES]

    def add(self, other: Counts) -> None:
        """Add another set of counts into this one."""
        for name in COUNTER_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def copy(self) -> Counts:
        """An independent copy."""
        clone = Counts()
        clone.add(self)
        return clone

    def take(self) -> Counts:
        """Return the current counts and reset these to zero (a delta handed to the buffer)."""
        taken = self.copy()
        for name in COUNTER_NAMES:
            setattr(self, name, 0)
        return taken

    def is_zero(self) -> bool:
        """True when no counter moved."""
        return not any(getattr(self, name) for name in COUNTER_NAMES)

    def entered_batches(self) -> int:
        """Readings these counts send into batches: read - out_of_range - filtered + aggregated."""
        return self.read - self.out_of_range - self.filtered + self.aggregated_out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Counts) and self.items() == other.items()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value}" for name, value in self.items())
        return f"Counts({inner})"


class AccountingSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """All counters at one instant, plus the derived buffered and pending readings."""

    read: int = 0
    out_of_range: int = 0
    filtered: int = 0
    aggregated_out: int = 0
    dropped_buffer_full: int = 0
    delivered: int = 0
    buffered: int = 0
    pending: int = 0

    @classmethod
    def of(cls, counts: Counts, *, buffered: int, pending: int) -> AccountingSnapshot:
        """A snapshot from persisted-plus-live counts and the derived quantities."""
        return cls(**dict(counts.items()), buffered=buffered, pending=pending)

    def imbalance(self) -> int:
        """Left side minus right side of the accounting equation; 0 when nothing is lost."""
        produced = self.read - self.out_of_range - self.filtered + self.aggregated_out
        accounted = self.dropped_buffer_full + self.delivered + self.buffered + self.pending
        return produced - accounted

    def is_balanced(self) -> bool:
        """True when every reading is delivered, buffered, pending or in a named drop counter."""
        return self.imbalance() == 0

    def to_message(self) -> ReadingCounts:
        """The protocol's health-message form of these counts."""
        return ReadingCounts(**msgspec.structs.asdict(self))
