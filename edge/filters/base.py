"""The two kinds of filter step: gates decide pass/suppress, aggregators fold windows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TypeGuard, TypeVar

from edge.model import Reading

T = TypeVar("T")


def is_number(value: object) -> TypeGuard[float]:
    """True for int and float readings; bool is excluded although Python counts it as int."""
    kind = type(value)
    return kind is float or kind is int


def required(value: T | None, name: str) -> T:
    """The filter parameter a registry factory needs; config validation guarantees it."""
    if value is None:
        raise ValueError(f"filter step {name!r} needs a value")
    return value


class Gate(ABC):
    """Lets a reading through or suppresses it, relative to the last one it let through."""

    __slots__ = ()

    @abstractmethod
    def accept(self, reading: Reading) -> bool:
        """True to let the reading through (and remember it as the new reference)."""

    @abstractmethod
    def force(self, reading: Reading) -> None:
        """Remember a reading the heartbeat let through although this gate suppressed it."""


class Aggregator(ABC):
    """Absorbs numeric readings and emits one aggregate reading per closed window."""

    __slots__ = ()

    @abstractmethod
    def feed(self, reading: Reading) -> Reading | None:
        """Absorb a reading; returns the previous window's aggregate if this one closed it."""

    @abstractmethod
    def expire(self, now: float) -> Reading | None:
        """Close the current window if its end has passed; returns its aggregate."""
