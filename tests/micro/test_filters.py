"""Filters and the pipeline: the CPython agent's semantics (tests/unit/edge_pipeline) on the
micro agent, and the counters balancing."""

from edge.micro.accounting import Counts
from edge.micro.filters import Deadband, OnChange, PercentDeadband, build_chain
from edge.micro.pipeline import Pipeline
from protocol.core import cbor
from tests.micro.support import raises

BOOT = "00112233aabbccdd"


def _passed(chain: object, values: list[object], step_ms: int = 1000) -> list[object]:
    out = []
    for index, value in enumerate(values):
        if chain.accept(value, index * step_ms):  # type: ignore[attr-defined]
            out.append(value)
    return out


def test_deadband_reports_moves_of_at_least_the_threshold() -> None:
    gate = Deadband(2.0)
    assert [v for v in (10.0, 11.0, 12.0, 13.5, 9.9, "x", 10) if gate.accept(v)] == [
        10.0,
        12.0,
        9.9,
        "x",
    ]


def test_percent_deadband_and_zero() -> None:
    gate = PercentDeadband(10.0)
    assert [v for v in (100.0, 105.0, 111.0, 0.0, 0.0, 0.5) if gate.accept(v)] == [
        100.0,
        111.0,
        0.0,
        0.5,
    ]


def test_on_change_tells_types_apart() -> None:
    gate = OnChange()
    assert [v for v in (1, 1, 1.0, True, True, "on", "on") if gate.accept(v)] == [
        1,
        1.0,
        True,
        "on",
    ]


def test_nan_is_never_suppressed() -> None:
    nan = float("nan")
    assert Deadband(1.0).accept(nan)
    gate = OnChange()
    assert gate.accept(nan)
    assert gate.accept(nan)


def test_heartbeat_reports_a_suppressed_value_when_due() -> None:
    chain = build_chain([{"deadband": 5}, {"heartbeat": 3}])
    # One reading a second; nothing moves, so only the heartbeat reports (every 3 s).
    assert _passed(chain, [20.0] * 8) == [20.0, 20.0, 20.0]


def test_heartbeat_restarts_after_a_real_change() -> None:
    chain = build_chain([{"on_change": True}, {"heartbeat": 2}])
    assert _passed(chain, [1, 1, 2, 2, 2, 2]) == [1, 2, 2]


def test_build_chain_refuses_bad_lists() -> None:
    assert build_chain([]) is None
    raises(ValueError, build_chain, [{"deadband": -1}])
    raises(ValueError, build_chain, [{"heartbeat": 0}])
    raises(ValueError, build_chain, [{"heartbeat": 1}, {"heartbeat": 2}])
    raises(ValueError, build_chain, [{"on_change": False}])
    raises(ValueError, build_chain, [{"window": 60}])
    raises(ValueError, build_chain, [{"deadband": 1, "heartbeat": 1}])


class _Sink:
    def __init__(self) -> None:
        self.batches: list[tuple[bytes, str, int, int]] = []

    def append(self, payload: bytes, boot_id: str, seq: int, readings: int) -> None:
        self.batches.append((payload, boot_id, seq, readings))


def test_pipeline_range_filters_and_batches() -> None:
    sink = _Sink()
    counts = Counts()
    pipeline = Pipeline(sink, counts, BOOT, 3, 5000)  # type: ignore[arg-type]
    pipeline.set_policy("env/pm2_5", 0, 1000, build_chain([{"deadband": 2}]))
    readings = [
        ("env/pm2_5", 1000, 35, "ug/m3"),
        ("env/pm2_5", 2000, 36, "ug/m3"),  # filtered
        ("env/pm2_5", 3000, 1500, "ug/m3"),  # out of range
        ("env/pm2_5", 4000, float("nan"), "ug/m3"),  # out of range
        ("env/door", 4000, True, ""),
        ("env/noise", 5000, float("inf"), "dB"),  # non-finite on any channel
        ("env/pm2_5", 6000, 40, "ug/m3"),  # closes the batch at 3
        ("env/pm2_5", 7000, 50, "ug/m3"),
    ]
    for name, ts, value, unit in readings:
        pipeline.submit(name, ts, value, unit)
    assert [(seq, n) for _, _, seq, n in sink.batches] == [(0, 3)]
    pack = cbor.loads(sink.batches[0][0])
    assert pack[0]["bid"] == BOOT
    assert pack[0]["seq"] == 0
    assert pack[0][-3] == 1.0
    assert [item[0] for item in pack] == ["env/pm2_5", "env/door", "env/pm2_5"]
    assert [item.get(6) for item in pack] == [None, 3.0, 5.0]
    pipeline.tick(11999)
    assert len(sink.batches) == 1
    pipeline.tick(12000)  # open since 7000: 5 s later it closes
    assert [(seq, n) for _, _, seq, n in sink.batches] == [(0, 3), (1, 1)]
    assert (counts.read, counts.filtered, counts.out_of_range) == (8, 1, 3)
    assert counts.read - counts.filtered - counts.out_of_range == 4


def test_pipeline_closes_when_the_clock_steps_back() -> None:
    sink = _Sink()
    pipeline = Pipeline(sink, Counts(), BOOT, 50, 5000)  # type: ignore[arg-type]
    pipeline.submit("a/b", 10000, 1.0, "")
    pipeline.tick(9000)
    assert len(sink.batches) == 1


def test_pipeline_refuses_inverted_range() -> None:
    pipeline = Pipeline(_Sink(), Counts(), BOOT)  # type: ignore[arg-type]
    raises(ValueError, pipeline.set_policy, "a/b", 5, 1, None)
