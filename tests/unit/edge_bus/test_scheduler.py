"""Scheduling arithmetic: next-due slots never drift and never burst after a stall."""

from __future__ import annotations

import pytest

from edge.scheduler import BusScheduler, DeviceHealth, _next_slot
from edge.transport.modbus import TcpTransport


def test_next_slot_keeps_the_grid() -> None:
    # a poll that took 0.3 s of a 1 s interval does not push the next one later
    assert _next_slot(10.0, 1.0, now=10.3) == 11.0
    # after 1000 polls the schedule is still on the grid: no accumulated drift
    due = 0.0
    for _ in range(1000):
        due = _next_slot(due, 0.1, now=due + 0.05)
    assert due == pytest.approx(100.0)


def test_next_slot_skips_missed_slots_instead_of_bursting() -> None:
    assert _next_slot(10.0, 1.0, now=13.5) == 14.0
    assert _next_slot(10.0, 1.0, now=11.0) == 12.0


def test_flat_out_interval() -> None:
    assert _next_slot(10.0, 0.0, now=10.2) == 10.2


def test_stale_after_two_intervals() -> None:
    health = DeviceHealth(name="env", unit=1, poll=10.0)
    assert health.stale(now=1000.0)
    health.last_reading_ts = 1000.0
    assert not health.stale(now=1020.0)
    assert health.stale(now=1022.0)


async def test_constructor_checks_arguments() -> None:
    transport = TcpTransport(host="127.0.0.1", port=1502)
    with pytest.raises(ValueError, match="offline_after"):
        BusScheduler(name="b", transport=transport, devices=[], sink=print, offline_after=0)
    with pytest.raises(ValueError, match="retries"):
        BusScheduler(name="b", transport=transport, devices=[], sink=print, retries=-1)
