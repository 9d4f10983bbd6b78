"""Pure functions of the fleet: URL handling, ack ranges, backoff, cursors (no services)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.bridge.acks import acks_by_device, seq_ranges
from fleet.bridge.connection import Backoff
from fleet.domain.errors import InvalidQueryError
from fleet.domain.ingest.schemas import BatchKey
from fleet.domain.telemetry.services import decode_cursor, encode_cursor
from fleet.settings import normalise_db_url, parse_mqtt_url


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("postgresql://u@h:5/db", "postgresql+asyncpg://u@h:5/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/fleet.db", "sqlite+aiosqlite:///var/fleet.db"),
        ("sqlite:////abs/fleet.db", "sqlite+aiosqlite:////abs/fleet.db"),
        ("fleet.db", "sqlite+aiosqlite:///fleet.db"),
    ],
)
def test_database_urls_are_normalised(given_url: str, expected: str) -> None:
    assert normalise_db_url(given_url) == expected


def test_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme"):
        normalise_db_url("mysql://h/db")


def test_mqtt_url_parts() -> None:
    settings = parse_mqtt_url("mqtts://fleet:s%40cret@broker.example?version=3.1.1&client_id=f1")
    assert (settings.host, settings.port, settings.tls) == ("broker.example", 8883, True)
    assert (settings.username, settings.password) == ("fleet", "s@cret")
    assert (settings.version, settings.client_id) == ("3.1.1", "f1")
    assert parse_mqtt_url("mqtt://127.0.0.1:1884").version == "5"


@pytest.mark.parametrize("url", ["http://x", "mqtt://h?version=4", "mqtt://h?qos=2"])
def test_bad_mqtt_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="MQTT"):
        parse_mqtt_url(url)


def test_seq_ranges_examples() -> None:
    assert seq_ranges([]) == []
    assert seq_ranges([7, 1, 3, 2, 2]) == [(1, 3), (7, 7)]


@given(st.sets(st.integers(min_value=0, max_value=10_000), max_size=200))
def test_seq_ranges_cover_exactly_the_seqs(seqs: set[int]) -> None:
    ranges = seq_ranges(seqs)
    covered = [s for first, last in ranges for s in range(first, last + 1)]
    assert covered == sorted(seqs)
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(ranges))


def test_one_ack_per_device_with_one_entry_per_boot() -> None:
    acks = acks_by_device(
        [
            BatchKey("a", "b2", 5),
            BatchKey("a", "b1", 1),
            BatchKey("b", "b1", 9),
            BatchKey("a", "b1", 2),
        ]
    )
    assert [(e.boot_id, e.ranges) for e in acks["a"].entries] == [
        ("b1", [(1, 2)]),
        ("b2", [(5, 5)]),
    ]
    assert [(e.boot_id, e.ranges) for e in acks["b"].entries] == [("b1", [(9, 9)])]


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(base_s=0.5, cap_s=60.0)
    delays = [backoff.next_delay() for _ in range(40)]
    assert all(0.25 <= d <= 60.0 for d in delays)
    backoff.reset()
    assert backoff.next_delay() <= 0.5


@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(0, 2**62))
def test_cursor_round_trip(ts: float, row_id: int) -> None:
    assert decode_cursor(encode_cursor(ts, row_id)) == (ts, row_id)


@pytest.mark.parametrize("cursor", ["", "abc", "!!!!", "A" * 40])
def test_foreign_cursors_are_invalid_queries(cursor: str) -> None:
    with pytest.raises(InvalidQueryError):
        decode_cursor(cursor)
