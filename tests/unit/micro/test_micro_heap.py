"""The micro agent's heap budget, measured on the MicroPython interpreter."""

from __future__ import annotations

from tests.bench.bench_micro_heap import LIMIT_BYTES, measure


def test_encoding_and_buffering_a_batch_stays_within_48_kib() -> None:
    result = measure()
    assert result["interpreter"].startswith("micropython")
    assert 0 < result["cycle_peak_bound_bytes"] <= LIMIT_BYTES, result
    assert 0 < result["cycle_peak_bound_bytes_float32_path"] <= LIMIT_BYTES, result
