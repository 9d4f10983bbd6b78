"""The alert worker: evaluates rules on new telemetry and on heartbeats, writes the alerts.

Telemetry is read incrementally (points with an id above a cursor, only the channels some rule
watches), so evaluation costs one indexed range scan and a dict lookup per matching point.
Health rules (offline, buffer, sensor_silent) run on the device table every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.principal import covers
from fleet.db.models import Device, TelemetryPoint
from fleet.db.operations import Alert, AlertRule
from fleet.db.provisioning import Pole
from fleet.domain.alerts.engine import AlertEngine, AlertKey, RuleSpec, Transition
from fleet.domain.alerts.notify import enqueue
from fleet.domain.health.status import effective_status

log = logging.getLogger("fleet.alerts")
SCAN_LIMIT = 50_000
SILENT_NEVER = 1e12
"""Age given to a sensor that never produced a reading."""


def spec_of(rule: AlertRule) -> RuleSpec:
    """The engine's view of a rule; health kinds map onto the same state machine."""
    if rule.kind == "offline":
        return RuleSpec(id=rule.id, op="true", threshold=0, min_duration_s=rule.threshold,
                        clear_hold_s=0.0)  # fmt: skip
    return RuleSpec(
        id=rule.id,
        op=rule.op if rule.op in (">", "<", "abs>", "true") else ">",  # type: ignore[arg-type]
        threshold=rule.threshold,
        hysteresis=rule.hysteresis,
        min_duration_s=rule.min_duration_s,
    )


@dataclass
class WorkerStats:
    """Counters for /metrics."""

    points_scanned: int = 0
    opened: int = 0
    resolved: int = 0
    steps: int = 0
    last_step_s: float = 0.0


@dataclass
class AlertWorker:
    """Owns the engine; `step` is one evaluation round (the loop calls it, tests too)."""

    sessions: async_sessionmaker[AsyncSession]
    health_every_s: float = 2.0
    engine: AlertEngine = field(default_factory=AlertEngine)
    stats: WorkerStats = field(default_factory=WorkerStats)
    _rules: dict[int, AlertRule] = field(default_factory=dict)
    _specs: dict[int, RuleSpec] = field(default_factory=dict)
    _groups: dict[str, str] = field(default_factory=dict)
    _cursor: int | None = None
    _last_health: float = 0.0

    async def run(self, *, interval_s: float = 0.5) -> None:
        """Evaluate until cancelled; a failed round is logged and retried."""
        while True:
            try:
                await self.step(datetime.now(UTC))
            except Exception:
                log.exception("alert evaluation round failed")
            await asyncio.sleep(interval_s)

    async def step(self, now: datetime) -> list[Transition]:
        """Refresh rules, read new telemetry, check hold times and health, write transitions."""
        started = time.perf_counter()
        async with self.sessions() as session:
            await self._refresh(session)
            transitions = await self._telemetry(session)
            transitions += self.engine.tick(self._specs, now.timestamp())
            if time.monotonic() - self._last_health >= self.health_every_s:
                self._last_health = time.monotonic()
                transitions += await self._health(session, now)
        if transitions:
            await self._apply(transitions, now)
        self.stats.steps += 1
        self.stats.last_step_s = time.perf_counter() - started
        return transitions

    async def _refresh(self, session: AsyncSession) -> None:
        rules = {r.id: r for r in await session.scalars(select(AlertRule).where(AlertRule.enabled))}
        for gone in self._rules.keys() - rules.keys():
            self.engine.forget_rule(gone)
        self._rules, self._specs = rules, {i: spec_of(r) for i, r in rules.items()}
        poles = await session.execute(select(Pole.device_id, Pole.group_path))
        self._groups = {device: group for device, group in poles.all() if device}
        active = await session.execute(
            select(Alert.rule_id, Alert.device_id, Alert.subject).where(
                Alert.active_key.is_not(None)
            )
        )
        in_db = {AlertKey(*row) for row in active.all()}
        for key, state in self.engine.states.items():
            if state.active and key not in in_db:
                self.engine.set_active(key, False)  # resolved by hand
        for key in in_db:
            if key.rule_id in rules:
                self.engine.set_active(key, True)
        if self._cursor is None:
            self._cursor = await session.scalar(select(func.max(TelemetryPoint.id))) or 0

    async def _telemetry(self, session: AsyncSession) -> list[Transition]:
        exact: dict[str, list[AlertRule]] = {}
        suffix: dict[str, list[AlertRule]] = {}
        for rule in self._rules.values():
            if rule.kind == "threshold" and rule.channel:
                table = exact if "/" in rule.channel else suffix
                table.setdefault(rule.channel, []).append(rule)
        if not exact and not suffix:
            self._cursor = None  # re-read the newest id once a rule appears
            return []
        watched: list[ColumnElement[bool]] = []
        if exact:
            watched.append(TelemetryPoint.channel.in_(list(exact)))
        watched += [TelemetryPoint.channel.endswith("/" + name) for name in suffix]
        rows = (
            await session.execute(
                select(
                    TelemetryPoint.id,
                    TelemetryPoint.device_id,
                    TelemetryPoint.channel,
                    TelemetryPoint.ts,
                    TelemetryPoint.value,
                    TelemetryPoint.bool_value,
                )
                .where(TelemetryPoint.id > (self._cursor or 0), or_(*watched))
                .order_by(TelemetryPoint.id)
                .limit(SCAN_LIMIT)
            )
        ).all()
        if rows:
            self._cursor = rows[-1][0]
        self.stats.points_scanned += len(rows)
        return self.evaluate(
            ((r[1], r[2], r[3], r[4], r[5]) for r in rows), exact=exact, suffix=suffix
        )

    def evaluate(
        self,
        points: Iterable[tuple[str, str, float, float | None, bool | None]],
        *,
        exact: dict[str, list[AlertRule]],
        suffix: dict[str, list[AlertRule]],
    ) -> list[Transition]:
        """Feed (device, channel, ts, value, bool_value) points to the rules watching them."""
        transitions = []
        observe, specs, groups = self.engine.observe, self._specs, self._groups
        for device, channel, ts, value, flag in points:
            rules = exact.get(channel) or suffix.get(channel.rpartition("/")[2])
            if not rules:
                continue
            number = value if value is not None else (1.0 if flag else 0.0)
            group = groups.get(device, "")
            for rule in rules:
                if rule.scope and not covers(rule.scope, group):
                    continue
                found = observe(specs[rule.id], AlertKey(rule.id, device, channel), number, ts)
                if found is not None:
                    transitions.append(found)
        return transitions

    async def _health(self, session: AsyncSession, now: datetime) -> list[Transition]:
        rules = [r for r in self._rules.values() if r.kind != "threshold"]
        if not rules:
            return []
        at, transitions = now.timestamp(), []
        for device in await session.scalars(select(Device)):
            group = self._groups.get(device.id, "")
            for rule in rules:
                if rule.scope and not covers(rule.scope, group):
                    continue
                for subject, value in _health_values(rule, device, now):
                    key = AlertKey(rule.id, device.id, subject)
                    found = self.engine.observe(self._specs[rule.id], key, value, at)
                    if found is not None:
                        transitions.append(found)
        return transitions

    async def _apply(self, transitions: list[Transition], now: datetime) -> None:
        async with self.sessions() as session, session.begin():
            for transition in transitions:
                rule = self._rules.get(transition.key.rule_id)
                if rule is None:
                    continue
                if transition.kind == "open":
                    await self._open(session, rule, transition, now)
                else:
                    await self._resolve(session, transition, now)

    async def _open(
        self, session: AsyncSession, rule: AlertRule, transition: Transition, now: datetime
    ) -> None:
        key = transition.key
        alert = Alert(
            rule_id=rule.id,
            device_id=key.device_id,
            subject=key.subject,
            group_path=self._groups.get(key.device_id, ""),
            status="open",
            active_key=f"{key.rule_id}:{key.device_id}:{key.subject}",
            severity=rule.severity,
            message=_message(rule, key.subject, transition.value)[:300],
            value=transition.value,
            opened_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(alert)
                await session.flush()
        except IntegrityError:
            return  # another replica (or an earlier round) opened it: dedup by key
        self.stats.opened += 1
        await enqueue(session, alert, "opened", now=now)

    async def _resolve(self, session: AsyncSession, transition: Transition, now: datetime) -> None:
        key = transition.key
        active_key = f"{key.rule_id}:{key.device_id}:{key.subject}"
        alert = await session.scalar(select(Alert).where(Alert.active_key == active_key))
        if alert is None:
            return
        await session.execute(
            update(Alert)
            .where(Alert.id == alert.id)
            .values(status="resolved", active_key=None, resolved_at=now, resolved_by="system")
        )
        await session.refresh(alert)
        self.stats.resolved += 1
        await enqueue(session, alert, "resolved", now=now)


def _health_values(rule: AlertRule, device: Device, now: datetime) -> list[tuple[str, float]]:
    health: dict[str, Any] = device.last_health or {}
    if rule.kind == "offline":
        status = effective_status(
            online=device.online,
            state_changed_at=device.state_changed_at,
            last_health_at=device.last_health_at,
            last_health=device.last_health,
            now=now,
        )
        return [("", 1.0 if status == "offline" else 0.0)]
    if rule.kind == "buffer":
        cap = health.get("buffer_max_bytes") or 0
        return [("buffer", 100.0 * float(health.get("buffer_bytes") or 0) / cap)] if cap else []
    since = (now - device.last_health_at).total_seconds() if device.last_health_at else 0.0
    values = []
    for sensor in health.get("devices") or []:
        name = str(sensor.get("name", ""))
        if rule.channel and rule.channel != name:
            continue
        age = sensor.get("last_reading_age_s")
        values.append((name, SILENT_NEVER if age is None else float(age) + since))
    return values


def _message(rule: AlertRule, subject: str, value: float) -> str:
    if rule.kind == "offline":
        return f"{rule.name}: gateway offline for more than {rule.threshold:g} s"
    if rule.kind == "buffer":
        return f"{rule.name}: buffer {value:.0f} % full (limit {rule.threshold:g} %)"
    if rule.kind == "sensor_silent":
        return f"{rule.name}: sensor {subject} silent for more than {rule.threshold:g} s"
    if rule.op == "true":
        return f"{rule.name}: {subject} is set"
    return f"{rule.name}: {subject} = {value:g} ({rule.op} {rule.threshold:g})"
