"""The verify checklist: what the fleet must see before a technician may leave the pole.

`Verifier.update` turns one snapshot of the fleet API (device record, latest values, the
fleet's clock) into checks that are ok, still waiting, or failed; `finish` marks what is
still waiting at the deadline as failed, each with what to check next.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from edge.config import AgentConfig


class Status(enum.Enum):
    """Where a check stands."""

    OK = "ok"
    WAIT = "wait"
    FAIL = "FAIL"


@dataclass(frozen=True, kw_only=True)
class Check:
    """One line of the checklist."""

    title: str
    status: Status
    detail: str = ""
    hint: str = ""


@dataclass(frozen=True, kw_only=True)
class Sensor:
    """A sensor the gateway's config polls, and how stale its newest reading may be."""

    name: str
    bus: str
    unit: int | None = None
    max_age_s: float = 60.0

    @property
    def title(self) -> str:
        """`sensor env (bus rs485-1, unit 2)`."""
        unit = f", unit {self.unit}" if self.unit is not None else ""
        return f"sensor {self.name} (bus {self.bus}{unit})"


def sensors_of(config: AgentConfig, *, tolerance_s: float) -> list[Sensor]:
    """The sensors of a config; a reading may be three polls (at least 30 s) old."""
    batch = float(config.uplink.batch_interval)
    return [
        Sensor(
            name=device.name,
            bus=bus.name,
            unit=device.unit,
            max_age_s=max(3 * float(device.poll), 30.0) + batch + tolerance_s,
        )
        for bus in config.buses
        for device in bus.devices
    ]


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """What the fleet API said at one moment (device/latest None: 404, not seen yet)."""

    fleet_time: float
    fleet_error: str | None = None
    denied: bool = False
    """The fleet refused our API key (401/403): waiting will not help."""
    device: dict[str, Any] | None = None
    latest: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Verifier:
    """Accumulates snapshots into the checklist (clock samples need several)."""

    device_id: str
    sensors: list[Sensor] | None
    """None: take the sensor list from the agent's heartbeat."""
    tolerance_s: float = 5.0
    delivery_s: float = 3.0
    """How late a fresh reading may show up (batch interval + our polling + Date rounding)."""
    _seen: dict[str, float] = field(default_factory=dict)
    _best_offset: float | None = None
    _looks: int = 0

    def update(self, snap: Snapshot) -> list[Check]:
        """The checklist for this snapshot."""
        checks = [self._fleet(snap)]
        if snap.fleet_error is not None:
            return checks
        checks += self._device(snap)
        if snap.device is None or snap.device.get("online") is not True:
            return checks
        self._sample_clock(snap)
        checks += [self._sensor(sensor, snap) for sensor in self._sensors(snap)]
        checks.append(self._clock())
        return checks

    def finish(self, checks: Sequence[Check]) -> list[Check]:
        """At the deadline: everything still waiting has failed."""
        return [
            replace(check, status=Status.FAIL) if check.status is Status.WAIT else check
            for check in checks
        ]

    def _fleet(self, snap: Snapshot) -> Check:
        if snap.fleet_error is None:
            return Check(title="fleet reachable", status=Status.OK)
        if snap.denied:
            return Check(
                title="fleet reachable",
                status=Status.FAIL,
                detail=snap.fleet_error,
                hint="the fleet wants an API key that may read this device: put a viewer key "
                "for your district in $POLEKIT_API_KEY or a file given with --api-key-file "
                "(a fleet admin issues it)",
            )
        return Check(
            title="fleet reachable",
            status=Status.WAIT,
            detail=snap.fleet_error,
            hint="check this laptop's network and the --fleet URL",
        )

    def _device(self, snap: Snapshot) -> list[Check]:
        device = snap.device
        if device is None:
            return [
                Check(
                    title="connected",
                    status=Status.WAIT,
                    detail=f"the fleet has not heard from {self.device_id} yet",
                    hint="check that the gateway is powered and has network, that the bundle "
                    "is on its boot partition, and the agent's log (journalctl -u polekit)",
                )
            ]
        online = device.get("online")
        connected = Check(
            title="connected",
            status=Status.OK if online is True else Status.WAIT,
            detail="online" if online is True else ("offline" if online is False else "no state"),
            hint="the gateway connected and dropped off: check its power and network, and "
            "the agent's log for broker errors (bad credentials, TLS)",
        )
        heard = device.get("last_health_at") is not None or bool(snap.latest)
        acl = Check(
            title="ACL ok: the fleet receives the device's own publishes",
            status=Status.OK if heard else Status.WAIT,
            detail="health and telemetry arrive" if heard else "no health or telemetry yet",
            hint="the broker accepts the connection but drops its publishes: the broker "
            "account's ACL must allow pk/v1/<device_id>/#; ask a fleet admin to check it",
        )
        return [connected, acl] if online is True else [connected]

    def _sensors(self, snap: Snapshot) -> list[Sensor]:
        if self.sensors is not None:
            return self.sensors
        health = (snap.device or {}).get("last_health") or {}
        return [
            Sensor(name=str(item.get("name")), bus=str(item.get("bus")))
            for item in health.get("devices", [])
        ]

    def _sensor(self, sensor: Sensor, snap: Snapshot) -> Check:
        prefix = f"{sensor.name}/"
        points = [p for p in snap.latest if str(p.get("channel", "")).startswith(prefix)]
        hint = (
            f"check {sensor.name}'s power and wiring (A/B swapped? termination?), its unit id "
            f"and the baud rate/parity of bus {sensor.bus}; `polekit probe` reads it directly"
        )
        reported = self._reported(sensor, snap)
        if not points:
            detail = "no reading has reached the fleet"
            if reported:
                detail += f"; the agent says: {reported}"
            return Check(title=sensor.title, status=Status.WAIT, detail=detail, hint=hint)
        newest = max(points, key=lambda p: float(p.get("ts", 0.0)))
        age = snap.fleet_time - float(newest["ts"])
        shown = _value(newest)
        if age > sensor.max_age_s:
            detail = f"newest reading {shown} is {age:.0f} s old (limit {sensor.max_age_s:.0f} s)"
            if reported:
                detail += f"; the agent says: {reported}"
            return Check(title=sensor.title, status=Status.WAIT, detail=detail, hint=hint)
        return Check(
            title=sensor.title, status=Status.OK, detail=f"{shown}, {max(age, 0):.0f} s old"
        )

    def _reported(self, sensor: Sensor, snap: Snapshot) -> str:
        """What the agent's heartbeat says about an unhealthy sensor ('' when nothing)."""
        health = (snap.device or {}).get("last_health") or {}
        for item in health.get("devices", []):
            if item.get("name") == sensor.name and item.get("bus") == sensor.bus:
                if item.get("online"):
                    return ""
                error = item.get("last_error") or "no answer"
                return f"offline after {item.get('consecutive_failures', 0)} failed polls ({error})"
        return ""

    def _sample_clock(self, snap: Snapshot) -> None:
        """Each new point gives offset = its time - the fleet's clock (late ones lower)."""
        self._looks += 1
        for point in snap.latest:
            channel, ts = str(point.get("channel")), float(point.get("ts", 0.0))
            if self._seen.get(channel) == ts:
                continue
            first_look = channel not in self._seen
            self._seen[channel] = ts
            if first_look and self._looks == 1:
                continue  # there before we looked, maybe long ago: only what arrives is fresh
            offset = ts - snap.fleet_time
            if self._best_offset is None or offset > self._best_offset:
                self._best_offset = offset

    def _clock(self) -> Check:
        title = f"clock in sync (within {self.tolerance_s:.0f} s of the fleet)"
        hint = "set the gateway's clock: check NTP (timedatectl; the firewall must allow UDP 123)"
        offset = self._best_offset
        if offset is None:
            return Check(
                title=title, status=Status.WAIT, detail="waiting for new readings", hint=hint
            )
        # A fresh reading reaches the fleet up to delivery_s late, and the Date header rounds down.
        if offset > self.tolerance_s + 1.0:
            detail = f"the gateway's clock is about {offset:.0f} s ahead"
            return Check(title=title, status=Status.WAIT, detail=detail, hint=hint)
        if offset < -(self.tolerance_s + self.delivery_s):
            detail = (
                f"the gateway's clock is about {-offset:.0f} s behind (or readings arrive late)"
            )
            return Check(title=title, status=Status.WAIT, detail=detail, hint=hint)
        return Check(title=title, status=Status.OK, detail=f"offset {offset:+.1f} s")


def _value(point: dict[str, Any]) -> str:
    channel = point.get("channel")
    for key in ("value", "string_value", "bool_value"):
        if point.get(key) is not None:
            value = point[key]
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            unit = f" {point['unit']}" if point.get("unit") else ""
            return f"{channel} = {shown}{unit}"
    return str(channel)
