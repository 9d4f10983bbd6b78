"""The read planner: merge nearby registers, respect max_gap and the Modbus limits."""

from __future__ import annotations

import random

import pytest

from drivers.sdk.datatypes import RegisterType
from edge.planner import Point, plan_reads

H, IR, C = RegisterType.HOLDING, RegisterType.INPUT, RegisterType.COIL


def points(addresses: list[int], register_type: RegisterType = H, size: int = 1) -> list[Point]:
    return [
        Point(key=f"p{a}", register_type=register_type, address=a, size=size) for a in addresses
    ]


def test_twenty_scattered_registers_over_sixty_are_one_request() -> None:
    # 20 registers at 0, 3, 6 ... 57: every gap is 2 unused registers, the span is 58
    addresses = list(range(0, 60, 3))
    assert len(addresses) == 20
    shuffled = random.Random(4).sample(addresses, len(addresses))
    plan = plan_reads(points(shuffled), max_gap=10)
    [request] = plan.requests
    assert (request.address, request.count) == (0, 58)
    assert [p.address for p in request.points] == addresses
    assert plan.saved == 19


def test_twenty_registers_with_gaps_of_exactly_max_gap_merge() -> None:
    addresses = [i * 3 for i in range(20)]  # 0..57, gaps of 2 (< 10)
    wide = [0, 11, 22, 33, 44, 55]  # gaps of exactly 10
    assert len(plan_reads(points(addresses)).requests) == 1
    assert len(plan_reads(points(wide), max_gap=10).requests) == 1


def test_max_gap_boundary() -> None:
    # registers 0 and 11 leave 10 unused between them; 0 and 12 leave 11
    assert len(plan_reads(points([0, 11]), max_gap=10).requests) == 1
    assert len(plan_reads(points([0, 12]), max_gap=10).requests) == 2
    assert len(plan_reads(points([0, 1]), max_gap=0).requests) == 1
    assert len(plan_reads(points([0, 2]), max_gap=0).requests) == 2


def test_gap_counts_from_the_end_of_a_wide_value() -> None:
    # a float at 0-1 ends at 2; a register at 12 is 10 away from the end, not 12 from the start
    plan = plan_reads([*points([0], size=2), *points([12])], max_gap=10)
    [request] = plan.requests
    assert request.count == 13


def test_register_limit_of_125() -> None:
    plan = plan_reads(points(list(range(130))), max_gap=10)
    assert [(r.address, r.count) for r in plan.requests] == [(0, 125), (125, 5)]
    exact = plan_reads(points([0, 124]), max_gap=200)
    assert [(r.address, r.count) for r in exact.requests] == [(0, 125)]
    split = plan_reads(points([0, 125]), max_gap=200)
    assert len(split.requests) == 2


def test_device_limit_below_125() -> None:
    plan = plan_reads(points(list(range(0, 80, 2)), size=2), max_registers=40)
    assert [r.count for r in plan.requests] == [40, 40]


def test_wide_value_is_never_split() -> None:
    plan = plan_reads(points([0, 123], size=4), max_gap=200)
    assert [(r.address, r.count) for r in plan.requests] == [(0, 4), (123, 4)]


def test_register_types_never_mix() -> None:
    plan = plan_reads([*points([0, 1], H), *points([0, 1], IR), *points([0, 5], C)])
    assert [(r.register_type, r.count) for r in plan.requests] == [(C, 6), (IR, 2), (H, 2)]


def test_bits_limit_is_2000() -> None:
    plan = plan_reads(points(list(range(0, 2100, 5)), C), max_gap=10)
    # points every 5 bits: the first request ends with the bit at 1995, inside 2000
    assert [r.count for r in plan.requests] == [1996, 96]  # 2000..2095


def test_overlapping_points_share_a_request() -> None:
    plan = plan_reads([*points([10], size=2), *points([11])], max_gap=0)
    [request] = plan.requests
    assert (request.address, request.count, len(request.points)) == (10, 2, 2)


def test_empty_and_invalid() -> None:
    assert plan_reads([]).requests == ()
    with pytest.raises(ValueError, match="max_gap"):
        plan_reads(points([0]), max_gap=-1)
    with pytest.raises(ValueError, match="wide"):
        plan_reads(points([0], size=126))
