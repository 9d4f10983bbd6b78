"""Per-channel filters, with the CPython agent's semantics (edge/filters): deadband,
deadband_percent, on_change, and a heartbeat that reports a suppressed value once nothing
was reported for that long. Windows are not offered on the micro agent.

Filter steps are written as in the agent config: [{"deadband": 2}, {"heartbeat": 300}],
heartbeat in seconds (the compiler resolves "5m").
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def is_number(value: "Any") -> bool:
    """True for int and float; bool is no number here although Python counts it as int."""
    kind = type(value)
    return kind is float or kind is int


class Deadband:
    """Pass a number only when it moved at least `threshold` from the last one passed."""

    def __init__(self, threshold: float) -> None:
        if threshold < 0:
            raise ValueError("a deadband cannot be negative")
        self.threshold = threshold
        self.last: "Any" = None

    def accept(self, value: "Any") -> bool:
        """Pass when |value - last| >= threshold, and always for the first value."""
        if is_number(value):
            last = self.last
            if last is not None and abs(value - last) < self.threshold:
                return False
            self.last = value
        return True

    def force(self, value: "Any") -> None:
        """Take the heartbeat's value as the new reference."""
        if is_number(value):
            self.last = value


class PercentDeadband(Deadband):
    """Pass a number only when it moved at least `percent` % of the last one passed."""

    def __init__(self, percent: float) -> None:
        super().__init__(percent)
        self.fraction = percent / 100.0

    def accept(self, value: "Any") -> bool:
        """Pass when the value changed by at least percent of |last|; a repeat never passes."""
        if is_number(value):
            last = self.last
            if last is not None and (
                value == last or abs(value - last) < self.fraction * abs(last)
            ):
                return False
            self.last = value
        return True


_NOTHING = object()


class OnChange:
    """Pass a value (of any type) only when it differs from the last one passed."""

    def __init__(self) -> None:
        self.last: "Any" = _NOTHING

    def accept(self, value: "Any") -> bool:
        """Pass when value or type changed (1, 1.0 and True differ here)."""
        if value == self.last and type(value) is type(self.last):
            return False
        self.last = value
        return True

    def force(self, value: "Any") -> None:
        """Take the heartbeat's value as the new reference."""
        self.last = value


class Chain:
    """The gates of one channel plus its optional heartbeat (milliseconds)."""

    def __init__(self, gates: "list[Any]", heartbeat_ms: "int | None") -> None:
        self.gates = gates
        self.heartbeat_ms = heartbeat_ms
        self.last_out: "int | None" = None

    def accept(self, value: "Any", ts: int) -> bool:
        """True to report the reading; a suppressed one is reported if the heartbeat is due."""
        for gate in self.gates:
            if not gate.accept(value):
                heartbeat = self.heartbeat_ms
                last = self.last_out
                if heartbeat is None or (last is not None and ts - last < heartbeat):
                    return False
                gate.force(value)
        self.last_out = ts
        return True


def build_chain(steps: "list[dict[str, Any]]") -> "Chain | None":
    """The chain a filter list describes (None for an empty list); ValueError if invalid."""
    gates: "list[Any]" = []
    heartbeat_ms = None
    for step in steps:
        if len(step) != 1:
            raise ValueError("a filter step sets exactly one filter")
        for name in step:
            value = step[name]
            if name == "deadband":
                gates.append(Deadband(value))
            elif name == "deadband_percent":
                gates.append(PercentDeadband(value))
            elif name == "on_change":
                if value is not True:
                    raise ValueError("on_change: false is not a filter")
                gates.append(OnChange())
            elif name == "heartbeat":
                if heartbeat_ms is not None or not value > 0:
                    raise ValueError("one positive heartbeat per channel")
                heartbeat_ms = int(value * 1000)
            else:
                raise ValueError("unknown filter " + repr(name))
    if not gates and heartbeat_ms is None:
        return None
    return Chain(gates, heartbeat_ms)
