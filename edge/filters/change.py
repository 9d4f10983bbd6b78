"""The on_change gate: report a value only when it differs from the last reported one.

Unlike the deadbands it applies to every value type, so a status string or a switch
reports only its transitions. A NaN never equals anything, so it is always reported.
"""

from __future__ import annotations

from edge.config import FilterSpec
from edge.filters.base import Gate
from edge.model import Reading

_NOTHING = object()


class OnChange(Gate):
    """Suppress a reading whose value (and type) equals the last reported one."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: object = _NOTHING

    def accept(self, reading: Reading) -> bool:
        """Pass when the value changed; 1, 1.0 and True count as different types here."""
        value = reading.value
        last = self._last
        if value == last and type(value) is type(last):
            return False
        self._last = value
        return True

    def force(self, reading: Reading) -> None:
        """Take the heartbeat's reading as the new reference."""
        self._last = reading.value


def from_spec(spec: FilterSpec) -> OnChange:
    """Registry factory for {on_change: true}; {on_change: false} is refused when building."""
    if spec.on_change is not True:
        raise ValueError("on_change: false is not a filter; leave the step out instead")
    return OnChange()
