"""The alert state machine, pure and in memory: hysteresis, minimum duration, one alert per key.

A condition must hold for `min_duration_s` before an alert opens, and its opposite (past the
threshold by the hysteresis) must hold as long before it resolves: values dancing around the
threshold neither open a second alert nor resolve the first one.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Op = Literal[">", "<", "abs>", "true"]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    "abs>": lambda value, limit: abs(value) > limit,
}


class AlertKey(NamedTuple):
    """Dedup key: one active alert per rule, device and subject (channel or sensor)."""

    rule_id: int
    device_id: str
    subject: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleSpec:
    """What the engine needs of a rule."""

    id: int
    op: Op
    threshold: float
    hysteresis: float = 0.0
    min_duration_s: float = 0.0
    clear_hold_s: float | None = None
    """How long the clear condition must hold; None: as long as min_duration_s."""

    def breached(self, value: float) -> bool:
        """The raise condition."""
        if self.op == "true":
            return value != 0
        return _COMPARE[self.op](value, self.threshold)

    def cleared(self, value: float) -> bool:
        """The clear condition: back past the threshold by the hysteresis."""
        if self.op == "true":
            return value == 0
        if self.op == ">":
            return value < self.threshold - self.hysteresis
        if self.op == "<":
            return value > self.threshold + self.hysteresis
        return abs(value) < self.threshold - self.hysteresis


@dataclass(slots=True)
class _State:
    active: bool = False
    since: float | None = None
    """When the condition that would flip `active` started to hold (None: it does not)."""
    value: float = 0.0


class Transition(NamedTuple):
    """An alert to open or resolve."""

    kind: Literal["open", "resolve"]
    key: AlertKey
    value: float
    at: float


@dataclass
class AlertEngine:
    """Feeds samples through the per-key state machines and reports transitions."""

    states: dict[AlertKey, _State] = field(default_factory=dict)
    evaluations: int = 0

    def observe(self, rule: RuleSpec, key: AlertKey, value: float, at: float) -> Transition | None:
        """One sample of `key` at time `at` (unix seconds); a transition when one is due."""
        self.evaluations += 1
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = _State()
        state.value = value
        flips = rule.cleared(value) if state.active else rule.breached(value)
        if not flips:
            state.since = None
            return None
        if state.since is None:
            state.since = at
        return self._due(rule, key, state, at)

    def tick(self, rules: dict[int, RuleSpec], now: float) -> list[Transition]:
        """Transitions whose hold time has passed with no newer sample (edges send on change)."""
        due = []
        for key, state in self.states.items():
            rule = rules.get(key.rule_id)
            if rule is not None and state.since is not None:
                transition = self._due(rule, key, state, now)
                if transition is not None:
                    due.append(transition)
        return due

    def set_active(self, key: AlertKey, active: bool) -> None:
        """Align with the database (an alert resolved by hand, or open before a restart)."""
        state = self.states.setdefault(key, _State())
        if state.active != active:
            state.active, state.since = active, None

    def forget_rule(self, rule_id: int) -> None:
        """Drop the state of a deleted rule."""
        for key in [k for k in self.states if k.rule_id == rule_id]:
            del self.states[key]

    @staticmethod
    def _due(rule: RuleSpec, key: AlertKey, state: _State, at: float) -> Transition | None:
        assert state.since is not None
        hold = rule.min_duration_s
        if state.active and rule.clear_hold_s is not None:
            hold = rule.clear_hold_s
        if at - state.since < hold:
            return None
        state.active, state.since = not state.active, None
        return Transition("open" if state.active else "resolve", key, state.value, at)
