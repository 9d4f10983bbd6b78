"""The health window of a config on trial: the buses read, the uplink is up, the fleet acks.

A config passes only if, by the end of the window, the uplink is connected, every bus with
devices completed at least one poll, and (when telemetry was published) the fleet acked some
of it: an ack proves the whole path to the database, which a broker PUBACK does not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence, Sized
from typing import Protocol

from edge.uplink import UplinkStats


class BusCounters(Protocol):
    """The part of a bus scheduler's stats the gate reads."""

    @property
    def name(self) -> str: ...

    @property
    def polls_ok(self) -> int: ...

    @property
    def devices(self) -> Sized: ...


class TrialSubject(Protocol):
    """What the gate watches: a running agent's live counters (None until built)."""

    @property
    def uplink_stats(self) -> UplinkStats | None: ...

    @property
    def bus_stats(self) -> Sequence[BusCounters]: ...


async def watch(subject: TrialSubject, *, window: float, running: asyncio.Task[None]) -> str | None:
    """Watch for `window` seconds; None when healthy, else the reason it is not."""
    deadline = time.monotonic() + window
    while (remaining := deadline - time.monotonic()) > 0:
        if running.done():
            return _stopped(running)
        await asyncio.wait({running}, timeout=min(remaining, 0.5))
    if running.done():
        return _stopped(running)
    return verdict(subject, window)


def verdict(subject: TrialSubject, window: float) -> str | None:
    """Judge the counters at the end of the window."""
    uplink = subject.uplink_stats
    if uplink is None or not uplink.connected:
        last = f" (last error: {uplink.last_error})" if uplink and uplink.last_error else ""
        return f"uplink not connected to the broker after {window:g} s{last}"
    for bus in subject.bus_stats:
        if bus.devices and bus.polls_ok == 0:
            return f"bus {bus.name}: no successful poll in {window:g} s"
    if uplink.published_batches and not uplink.acked_batches:
        return (
            f"the fleet acknowledged none of {uplink.published_batches} telemetry batches "
            f"in {window:g} s"
        )
    return None


def _stopped(running: asyncio.Task[None]) -> str:
    if running.cancelled():
        return "the agent was stopped during the health window"
    exc = running.exception()
    return f"the agent stopped: {exc}" if exc else "the agent stopped during the health window"
