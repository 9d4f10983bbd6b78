"""The filter registry: one explicit table from config name to the factory of a step.

A filter family lives in its own module and is added here by hand, never by an import
side effect. `heartbeat` is not a step but a property of the whole chain (see chain.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

from edge.accounting import Counts
from edge.config import FilterSpec
from edge.filters import change, deadband, window
from edge.filters.base import Aggregator, Gate
from edge.filters.chain import FilterChain

StepFactory = Callable[[FilterSpec], Gate | Aggregator]

FILTERS: Final[Mapping[str, StepFactory]] = MappingProxyType(
    {
        "deadband": deadband.absolute_from_spec,
        "deadband_percent": deadband.percent_from_spec,
        "on_change": change.from_spec,
        "window": window.from_spec,
    }
)
HEARTBEAT: Final = "heartbeat"


def step_name(spec: FilterSpec) -> str:
    """The registry name of the one field a filter step sets."""
    for name in (*FILTERS, HEARTBEAT):
        if getattr(spec, name) is not None:
            return name
    raise ValueError("a filter step sets none of the known filters")


def build_chain(specs: Iterable[FilterSpec], *, counts: Counts) -> FilterChain:
    """A fresh stateful chain for one channel; raises ValueError for an invalid list."""
    steps: list[Gate | Aggregator] = []
    heartbeat: float | None = None
    for spec in specs:
        name = step_name(spec)
        if name == HEARTBEAT:
            if heartbeat is not None:
                raise ValueError("a channel takes at most one heartbeat")
            heartbeat = float(spec.heartbeat or 0.0)
            if heartbeat <= 0:
                raise ValueError("a heartbeat needs a positive duration")
            continue
        steps.append(FILTERS[name](spec))
    return FilterChain(steps=tuple(steps), heartbeat=heartbeat, counts=counts)
