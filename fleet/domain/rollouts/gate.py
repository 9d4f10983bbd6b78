"""Stage gating: promote devices that stayed healthy, then advance, pause or abort a stage.

A device counts for its stage once it reported `applied` and, a full health window later,
is online and has sent a heartbeat since applying that runs the rollout's version. Gating on
"still healthy" rather than "installed" is the point: a config that breaks a gateway a few
minutes in stops the rollout at the canary.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.models import Device
from fleet.db.ota import Rollout, RolloutDevice
from fleet.domain.configs import audit
from fleet.domain.rollouts import canary
from fleet.domain.rollouts.schemas import FAILED, Policy
from fleet.domain.rollouts.services import revert_devices

_SAMPLE = 500
_SLACK_S = 30.0
"""A restart counts when the agent has been up for less than (time since applied - slack)."""


async def promote_healthy(session: AsyncSession, rollout: Rollout, policy: Policy) -> int:
    """Mark applied devices whose health window passed cleanly as healthy; returns how many."""
    now = datetime.now(UTC)
    window = timedelta(seconds=policy.health_window_s)
    query = (
        select(RolloutDevice, Device.last_health)
        .outerjoin(Device, Device.id == RolloutDevice.device_id)
        .where(
            RolloutDevice.rollout_id == rollout.id,
            RolloutDevice.status == "applied",
            RolloutDevice.applied_at <= now - window,
        )
    )
    if policy.health_window_s > 0:
        # Filtered in SQL: only rows that can pass have their heartbeat JSON loaded.
        query = query.where(
            Device.last_health_at >= RolloutDevice.applied_at,
            or_(Device.online.is_(None), Device.online.is_(True)),
        )
    promoted = 0
    for device, health in (await session.execute(query)).all():
        if policy.health_window_s > 0 and (health or {}).get("config_version") != rollout.version:
            continue
        device.status = "healthy"
        device.healthy_at = now
        promoted += 1
    if promoted:
        await session.commit()
    return promoted


async def evaluate(
    session: AsyncSession, rollout: Rollout, policy: Policy, *, compare: bool = True
) -> str | None:
    """Advance, pause, abort or complete a running rollout; returns what it did, if anything.

    `compare`: also compare heartbeats with untouched devices (the engine does it every few
    seconds, not on every tick: it reads a thousand heartbeats).
    """
    stage = rollout.current_stage
    now = datetime.now(UTC)
    counts = Counter(
        dict(
            (
                await session.execute(
                    select(RolloutDevice.status, func.count())
                    .where(RolloutDevice.rollout_id == rollout.id, RolloutDevice.stage == stage)
                    .group_by(RolloutDevice.status)
                )
            ).all()
        )
    )
    total = sum(counts.values()) - counts["cancelled"] - counts["reverted"] - counts["reverting"]
    failed = sum(counts[s] for s in FAILED)
    if total > 0 and failed / total > policy.failure_threshold:
        reason = await _failure_reason(session, rollout, stage, failed, total)
        return await _stop(session, rollout, policy, reason)
    if compare and policy.canary_compare and stage < len(rollout.stages) - 1:
        worse = await _compare(session, rollout, now)
        if worse is not None:
            return await _stop(session, rollout, policy, f"stage {stage}: {worse}")
    stragglers = 0
    if policy.straggler_policy == "skip":
        stragglers = (
            await session.scalar(
                select(func.count()).where(
                    RolloutDevice.rollout_id == rollout.id,
                    RolloutDevice.stage == stage,
                    RolloutDevice.status == "sent",
                    RolloutDevice.sent_at < now - timedelta(seconds=policy.straggler_timeout_s),
                )
            )
            or 0
        )
    needed = math.ceil(policy.success_threshold * max(0, total - stragglers))
    if counts["healthy"] < needed or counts["pending"]:
        return None
    if stage + 1 < len(rollout.stages):
        rollout.current_stage = stage + 1
        rollout.stage_started_at = now
        action, detail = "rollout.stage", {"stage": stage + 1, "healthy": counts["healthy"]}
    else:
        rollout.state = "completed"
        rollout.finished_at = now
        action, detail = "rollout.complete", {"healthy": counts["healthy"]}
    rollout.updated_at = now
    audit.record(
        session, actor=audit.ENGINE, action=action, target=f"rollout/{rollout.id}", detail=detail
    )
    await session.commit()
    return action


async def _stop(session: AsyncSession, rollout: Rollout, policy: Policy, reason: str) -> str:
    """Pause or abort automatically, as the policy says."""
    now = datetime.now(UTC)
    rollout.state = "paused" if policy.on_failure == "pause" else "aborted"
    rollout.reason = reason
    rollout.updated_at = now
    if rollout.state == "aborted":
        rollout.finished_at = now
        await revert_devices(session, rollout.id, None)
    action = f"rollout.auto_{policy.on_failure}"
    audit.record(
        session,
        actor=audit.ENGINE,
        action=action,
        target=f"rollout/{rollout.id}",
        detail={"reason": reason},
    )
    await session.commit()
    return action


async def _failure_reason(
    session: AsyncSession, rollout: Rollout, stage: int, failed: int, total: int
) -> str:
    reasons = await session.scalars(
        select(RolloutDevice.reason)
        .where(
            RolloutDevice.rollout_id == rollout.id,
            RolloutDevice.stage == stage,
            RolloutDevice.status.in_(FAILED),
        )
        .limit(50)
    )
    common = Counter(r or "no reason given" for r in reasons).most_common(1)
    example = f"; most common: {common[0][0]}" if common else ""
    return f"stage {stage}: {failed} of {total} devices failed ({failed / total:.0%}){example}"


async def _compare(session: AsyncSession, rollout: Rollout, now: datetime) -> str | None:
    """Heartbeats of the rollout's updated devices against its not-yet-touched ones."""
    updated = (
        await session.execute(
            select(Device.last_health, RolloutDevice.applied_at)
            .join(Device, Device.id == RolloutDevice.device_id)
            .where(
                RolloutDevice.rollout_id == rollout.id,
                RolloutDevice.status.in_(("applied", "healthy")),
                Device.last_health_at > RolloutDevice.applied_at,
            )
            .limit(_SAMPLE)
        )
    ).all()
    updated_rows = list(updated)
    if len(updated_rows) < canary.MIN_DEVICES:
        return None
    since = {id(h): (now - at).total_seconds() - _SLACK_S for h, at in updated_rows if at}
    horizon = sorted(since.values())[len(since) // 2] if since else 0.0
    control_rows = await session.scalars(
        select(Device.last_health)
        .join(RolloutDevice, Device.id == RolloutDevice.device_id)
        .where(RolloutDevice.rollout_id == rollout.id, RolloutDevice.status == "pending")
        .limit(_SAMPLE)
    )
    updated_signals = [canary.signals(h, horizon_s=since.get(id(h), 0.0)) for h, _ in updated_rows]
    control_signals = [canary.signals(h, horizon_s=horizon) for h in control_rows]
    return canary.compare(
        [s for s in updated_signals if s is not None],
        [s for s in control_signals if s is not None],
    )


def policy_of(rollout: Rollout) -> Policy:
    """The rollout's stored policy as a typed struct."""
    return msgspec.convert(rollout.policy, Policy)
