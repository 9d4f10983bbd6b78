"""The verify checklist from fleet snapshots: what passes, what fails and what to check next."""

from __future__ import annotations

from typing import Any

from provisioning.verify import Sensor, Snapshot, Status, Verifier

NOW = 1_800_000_000.0
SENSORS = [Sensor(name="meter", bus="rs485-1", unit=1, max_age_s=40.0)]


def device(**changes: Any) -> dict[str, Any]:
    """A device record as GET /api/v1/devices/{id} returns it."""
    return {"id": "pole-1", "online": True, "last_health_at": "2027-01-15T08:00:00Z", **changes}


def point(ts: float, channel: str = "meter/voltage") -> dict[str, Any]:
    """One /latest point."""
    return {"channel": channel, "ts": ts, "value": 230.1, "unit": "V"}


def by_title(checks: list[Any]) -> dict[str, Any]:
    """Checks keyed by the start of their title."""
    return {check.title.split(" (")[0].split(":")[0]: check for check in checks}


def test_everything_in_order_passes() -> None:
    verifier = Verifier(device_id="pole-1", sensors=SENSORS)
    verifier.update(Snapshot(fleet_time=NOW, device=device(), latest=[point(NOW - 30)]))
    checks = verifier.update(Snapshot(fleet_time=NOW + 1, device=device(), latest=[point(NOW)]))
    assert [c.status for c in checks] == [Status.OK] * len(checks)
    assert "meter/voltage = 230.1 V" in by_title(checks)["sensor meter"].detail


def test_an_unknown_device_fails_with_what_to_check() -> None:
    verifier = Verifier(device_id="pole-1", sensors=SENSORS)
    (fleet, connected) = verifier.finish(verifier.update(Snapshot(fleet_time=NOW)))
    assert fleet.status is Status.OK
    assert connected.status is Status.FAIL
    assert "has not heard from pole-1" in connected.detail
    assert "powered" in connected.hint


def test_an_unreachable_fleet_is_the_only_line() -> None:
    verifier = Verifier(device_id="pole-1", sensors=SENSORS)
    checks = verifier.finish(verifier.update(Snapshot(fleet_time=NOW, fleet_error="refused")))
    assert [(c.title, c.status) for c in checks] == [("fleet reachable", Status.FAIL)]


def test_online_but_nothing_published_points_at_the_acl() -> None:
    verifier = Verifier(device_id="pole-1", sensors=SENSORS)
    snap = Snapshot(fleet_time=NOW, device=device(last_health_at=None))
    acl = by_title(verifier.finish(verifier.update(snap)))["ACL ok"]
    assert acl.status is Status.FAIL
    assert "pk/v1/<device_id>/#" in acl.hint


def test_a_silent_sensor_quotes_the_agent() -> None:
    sensor_health = {"bus": "rs485-1", "name": "meter", "online": False}
    sensor_health |= {"consecutive_failures": 4, "last_error": "unit 1 did not answer"}
    health = {"devices": [sensor_health]}
    verifier = Verifier(device_id="pole-1", sensors=SENSORS)
    checks = verifier.finish(
        verifier.update(Snapshot(fleet_time=NOW, device=device(last_health=health)))
    )
    sensor = by_title(checks)["sensor meter"]
    assert sensor.status is Status.FAIL
    assert "offline after 4 failed polls (unit 1 did not answer)" in sensor.detail
    assert "A/B swapped" in sensor.hint


def test_a_stale_sensor_fails() -> None:
    verifier = Verifier(device_id="pole-1", sensors=SENSORS)
    checks = verifier.finish(
        verifier.update(Snapshot(fleet_time=NOW, device=device(), latest=[point(NOW - 300)]))
    )
    assert "is 300 s old (limit 40 s)" in by_title(checks)["sensor meter"].detail


def test_clock_ahead_and_behind_are_caught() -> None:
    for skew, word in ((+60.0, "ahead"), (-60.0, "behind")):
        verifier = Verifier(device_id="pole-1", sensors=None)
        verifier.update(Snapshot(fleet_time=NOW, device=device(), latest=[]))
        snap = Snapshot(fleet_time=NOW + 1, device=device(), latest=[point(NOW + 1 + skew)])
        clock = by_title(verifier.finish(verifier.update(snap)))["clock in sync"]
        assert clock.status is Status.FAIL
        assert f"about 60 s {word}" in clock.detail
        assert "NTP" in clock.hint


def test_points_already_there_do_not_count_for_the_clock() -> None:
    verifier = Verifier(device_id="pole-1", sensors=None)
    snap = Snapshot(fleet_time=NOW, device=device(), latest=[point(NOW - 3600)])
    clock = by_title(verifier.update(snap))["clock in sync"]
    assert clock.status is Status.WAIT  # an hour-old point says nothing about the clock
