"""Merge reads of nearby registers into as few Modbus requests as the limits allow.

On a 9600-baud RS-485 line every request costs a turnaround of tens of milliseconds, so
reading a few unused registers between two channels is far cheaper than a second request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drivers.sdk.datatypes import MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ, RegisterType


@dataclass(frozen=True, kw_only=True, slots=True)
class Point:
    """Something to read: a channel's first address and width in registers (or bits)."""

    key: str
    register_type: RegisterType
    address: int
    size: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadRequest:
    """One Modbus read and the points it serves, in address order."""

    register_type: RegisterType
    address: int
    count: int
    points: tuple[Point, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadPlan:
    """The requests for one poll of one device."""

    requests: tuple[ReadRequest, ...]

    @property
    def points(self) -> int:
        """How many points the plan reads."""
        return sum(len(r.points) for r in self.requests)

    @property
    def saved(self) -> int:
        """Requests merging saved compared with one request per point."""
        return self.points - len(self.requests)


def plan_reads(
    points: Iterable[Point],
    *,
    max_gap: int = 10,
    max_registers: int = MAX_REGISTERS_PER_READ,
    max_bits: int = MAX_BITS_PER_READ,
) -> ReadPlan:
    """Group points per register type into requests spanning at most the read limit.

    Two neighbours share a request when at most max_gap unused registers (bits) separate
    them and the merged span still fits the limit; overlapping points always merge.
    """
    if max_gap < 0 or max_registers < 1 or max_bits < 1:
        raise ValueError("max_gap must be >= 0 and the read limits >= 1")
    by_type: dict[RegisterType, list[Point]] = {}
    for point in points:
        by_type.setdefault(point.register_type, []).append(point)
    requests: list[ReadRequest] = []
    for register_type in RegisterType:
        members = sorted(by_type.get(register_type, ()), key=lambda p: (p.address, p.size))
        limit = min(max_bits if register_type.is_bit else max_registers, register_type.read_limit)
        requests.extend(_merge(register_type, members, max_gap=max_gap, limit=limit))
    return ReadPlan(requests=tuple(requests))


def _merge(
    register_type: RegisterType, points: list[Point], *, max_gap: int, limit: int
) -> list[ReadRequest]:
    requests: list[ReadRequest] = []
    group: list[Point] = []
    start = end = 0
    for point in points:
        if point.size > limit:
            raise ValueError(f"{point.key} is {point.size} wide, more than one read ({limit})")
        point_end = point.address + point.size
        if group and point.address - end <= max_gap and max(end, point_end) - start <= limit:
            group.append(point)
            end = max(end, point_end)
            continue
        if group:
            requests.append(_request(register_type, group, start, end))
        group, start, end = [point], point.address, point_end
    if group:
        requests.append(_request(register_type, group, start, end))
    return requests


def _request(register_type: RegisterType, group: list[Point], start: int, end: int) -> ReadRequest:
    return ReadRequest(
        register_type=register_type, address=start, count=end - start, points=tuple(group)
    )
