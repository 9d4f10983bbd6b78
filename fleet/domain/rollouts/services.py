"""Rollout service: preview, create (validated, staged), progress, pause/resume/abort/cancel.

Only state changes happen here; the engine (engine.py) signs, publishes and gates stages.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.ota import DeviceConfig, Rollout, RolloutDevice
from fleet.domain.configs import audit, diff, layers
from fleet.domain.configs.services import ConfigService, select_targets
from fleet.domain.errors import ConflictError, InvalidInputError, NotFoundError
from fleet.domain.rollouts import schemas
from fleet.domain.rollouts.schemas import TOUCHED, Preview, RolloutCreate, StageProgress, Target

ACTIVE = ("running", "paused")
_CHUNK = 1000


class RolloutService:
    """Rollouts in one database session."""

    def __init__(self, session: AsyncSession, configs: ConfigService) -> None:
        self._session = session
        self._configs = configs

    async def _plan(self, target: Target) -> list[tuple[str, dict[str, Any], int, dict[str, Any]]]:
        """(device, new config, current version, current config) for every targeted device."""
        members = await self._configs.memberships()
        ids = select_targets(
            members, groups=target.groups, tags=target.tags, devices=target.devices
        )
        if not ids:
            raise InvalidInputError("the target matches no device (set memberships first)")
        latest = await self._configs.latest_layers()
        current = await _current(self._session, ids)
        plan = []
        for device_id in ids:
            group = members.get(device_id, (None, []))[0]
            chain = layers.chain(device_id=device_id, group_path=group, latest=latest)
            base = self._configs.base(device_id)
            config = layers.effective(base, chain, device_id)
            layers.validate(config, device_id=device_id)
            version, old = current.get(device_id, (0, base))
            plan.append((device_id, config, version, old))
        return plan

    async def preview(self, target: Target) -> Preview:
        """What rolling the current layers out to `target` would change."""
        plan = await self._plan(target)
        lines, changed = diff.summarise(diff.changes(old, new) for _, new, _, old in plan)
        return Preview(devices=len(plan), changed=changed, lines=lines)

    async def create(self, data: RolloutCreate, *, actor: str) -> schemas.Rollout:
        """Validate every device's config, assign stages, and start the rollout."""
        _check_stages(data.stages)
        plan = await self._plan(data.target)
        ids = [device_id for device_id, *_ in plan]
        busy = await self._busy(ids)
        if busy:
            raise ConflictError(
                f"{len(busy)} of these devices are in rollout(s) {sorted(set(busy.values()))} "
                "still running or paused: let it finish or abort it first"
            )
        now = datetime.now(UTC)
        version = await self._next_version()
        rollout = Rollout(
            name=data.name,
            version=version,
            state="running",
            target=msgspec.to_builtins(data.target),
            stages=list(data.stages),
            policy=msgspec.to_builtins(data.policy),
            current_stage=0,
            stage_started_at=now,
            reason=None,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        self._session.add(rollout)
        try:
            await self._session.flush()
        except IntegrityError:
            await self._session.rollback()
            raise ConflictError("another rollout was created meanwhile; try again") from None
        stage_of = assign_stages(ids, data.stages, salt=str(version))
        rows = [
            {
                "rollout_id": rollout.id,
                "device_id": device_id,
                "stage": stage_of[device_id],
                "status": "pending",
                "config": config,
                "previous_version": old_version,
                "previous_config": old,
            }
            for device_id, config, old_version, old in plan
        ]
        for start in range(0, len(rows), _CHUNK):
            await self._session.execute(insert(RolloutDevice), rows[start : start + _CHUNK])
        audit.record(
            self._session,
            actor=actor,
            action="rollout.create",
            target=f"rollout/{rollout.id}",
            detail={"version": version, "devices": len(rows), "stages": data.stages},
        )
        await self._session.commit()
        return await self.get(rollout.id)

    async def get(self, rollout_id: int) -> schemas.Rollout:
        """A rollout with per-stage counts by status."""
        row = await self._load(rollout_id)
        counts = await self._session.execute(
            select(RolloutDevice.stage, RolloutDevice.status, func.count())
            .where(RolloutDevice.rollout_id == rollout_id)
            .group_by(RolloutDevice.stage, RolloutDevice.status)
        )
        policy = msgspec.convert(row.policy, schemas.Policy)
        stages = [StageProgress(index=i, percent=p, devices=0) for i, p in enumerate(row.stages)]
        for stage, status, n in counts.all():
            stages[stage].devices += n
            setattr(stages[stage], status, getattr(stages[stage], status) + n)
        cutoff = datetime.now(UTC) - timedelta(seconds=policy.straggler_timeout_s)
        stragglers = await self._session.execute(
            select(RolloutDevice.stage, func.count())
            .where(
                RolloutDevice.rollout_id == rollout_id,
                RolloutDevice.status == "sent",
                RolloutDevice.sent_at < cutoff,
            )
            .group_by(RolloutDevice.stage)
        )
        for stage, n in stragglers.all():
            stages[stage].stragglers = n
        return _view(row, stages, policy)

    async def list_rollouts(self, *, limit: int, offset: int) -> list[schemas.Rollout]:
        """Newest rollouts first, with progress."""
        ids = await self._session.scalars(
            select(Rollout.id).order_by(Rollout.id.desc()).limit(limit).offset(offset)
        )
        return [await self.get(rollout_id) for rollout_id in list(ids)]

    async def devices(
        self, rollout_id: int, *, status: str | None, limit: int, offset: int
    ) -> list[schemas.DeviceProgress]:
        """The devices of a rollout, optionally of one status."""
        await self._load(rollout_id)
        query = select(RolloutDevice).where(RolloutDevice.rollout_id == rollout_id)
        if status is not None:
            query = query.where(RolloutDevice.status == status)
        rows = await self._session.scalars(
            query.order_by(RolloutDevice.stage, RolloutDevice.device_id).limit(limit).offset(offset)
        )
        return [
            schemas.DeviceProgress(
                device_id=r.device_id,
                stage=r.stage,
                status=r.status,
                previous_version=r.previous_version,
                reason=r.reason,
                applied_at=r.applied_at,
                healthy_at=r.healthy_at,
            )
            for r in rows
        ]

    async def pause(self, rollout_id: int, *, actor: str, reason: str | None) -> schemas.Rollout:
        """Stop starting new stages (devices already sent keep their config)."""
        row = await self._transition(rollout_id, ("running",), "paused")
        row.reason = reason or f"paused by {actor}"
        return await self._done(row, actor, "rollout.pause", {"reason": row.reason})

    async def resume(self, rollout_id: int, *, actor: str) -> schemas.Rollout:
        """Go on from where the rollout was paused."""
        row = await self._transition(rollout_id, ("paused",), "running")
        row.reason = None
        return await self._done(row, actor, "rollout.resume", None)

    async def abort(self, rollout_id: int, *, actor: str, reason: str | None) -> schemas.Rollout:
        """Stop, and return every device the rollout touched to its previous config."""
        row = await self._transition(rollout_id, ACTIVE, "aborted")
        row.reason = reason or f"aborted by {actor}"
        row.finished_at = datetime.now(UTC)
        await revert_devices(self._session, rollout_id, None)
        return await self._done(row, actor, "rollout.abort", {"reason": row.reason})

    async def cancel_device(self, rollout_id: int, device_id: str, *, actor: str) -> None:
        """Take one device out of a rollout, returning it to its previous config if touched."""
        row = await self._load(rollout_id)
        if row.state not in ACTIVE:
            raise ConflictError(f"rollout {rollout_id} is {row.state}: nothing to cancel")
        device = await self._session.get(RolloutDevice, (rollout_id, device_id))
        if device is None:
            raise NotFoundError(f"device {device_id!r} is not in rollout {rollout_id}")
        if device.status not in ("pending", *TOUCHED):
            raise ConflictError(f"device {device_id!r} is already {device.status}")
        await revert_devices(self._session, rollout_id, [device_id])
        audit.record(
            self._session,
            actor=actor,
            action="rollout.cancel_device",
            target=f"rollout/{rollout_id}",
            detail={"device": device_id, "was": device.status},
        )
        await self._session.commit()

    async def _busy(self, ids: Sequence[str]) -> dict[str, int]:
        busy: dict[str, int] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = await self._session.execute(
                select(RolloutDevice.device_id, RolloutDevice.rollout_id)
                .join(Rollout, Rollout.id == RolloutDevice.rollout_id)
                .where(
                    Rollout.state.in_(ACTIVE),
                    RolloutDevice.device_id.in_(ids[start : start + _CHUNK]),
                    RolloutDevice.status.not_in(("cancelled", "reverted")),
                )
            )
            busy.update(dict(rows.all()))
        return busy

    async def _next_version(self) -> int:
        rollouts = await self._session.scalar(select(func.max(Rollout.version)))
        desired = await self._session.scalar(select(func.max(DeviceConfig.desired_version)))
        return max(rollouts or 0, desired or 0) + 1

    async def _load(self, rollout_id: int) -> Rollout:
        row = await self._session.get(Rollout, rollout_id)
        if row is None:
            raise NotFoundError(f"no rollout {rollout_id}")
        return row

    async def _transition(self, rollout_id: int, sources: Sequence[str], state: str) -> Rollout:
        row = await self._load(rollout_id)
        if row.state not in sources:
            raise ConflictError(f"rollout {rollout_id} is {row.state}, cannot become {state}")
        row.state = state
        row.updated_at = datetime.now(UTC)
        return row

    async def _done(
        self, row: Rollout, actor: str, action: str, detail: dict[str, Any] | None
    ) -> schemas.Rollout:
        audit.record(
            self._session, actor=actor, action=action, target=f"rollout/{row.id}", detail=detail
        )
        await self._session.commit()
        return await self.get(row.id)


async def revert_devices(
    session: AsyncSession, rollout_id: int, device_ids: Sequence[str] | None
) -> None:
    """Mark touched devices for a signed rollback (the engine sends it), untouched cancelled."""
    scope = [RolloutDevice.rollout_id == rollout_id]
    if device_ids is not None:
        scope.append(RolloutDevice.device_id.in_(device_ids))
    await session.execute(
        update(RolloutDevice)
        .where(*scope, RolloutDevice.status.in_(TOUCHED))
        .values(status="reverting", sent_at=None, published_at=None)
    )
    await session.execute(
        update(RolloutDevice)
        .where(*scope, RolloutDevice.status == "pending")
        .values(status="cancelled")
    )


def assign_stages(ids: Sequence[str], stages: Sequence[float], *, salt: str) -> dict[str, int]:
    """Spread devices over cumulative percentage stages in a stable pseudo-random order."""
    order = sorted(ids, key=lambda d: hashlib.sha256(f"{salt}:{d}".encode()).digest())
    n = len(order)
    bounds = [max(1, math.ceil(n * p / 100)) for p in stages]
    result: dict[str, int] = {}
    stage = 0
    for index, device_id in enumerate(order):
        while index >= bounds[stage]:
            stage += 1
        result[device_id] = stage
    return result


async def _current(session: AsyncSession, ids: Sequence[str]) -> dict[str, tuple[int, Any]]:
    found: dict[str, tuple[int, Any]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(
                DeviceConfig.device_id, DeviceConfig.applied_version, DeviceConfig.applied_config
            ).where(DeviceConfig.device_id.in_(ids[start : start + _CHUNK]))
        )
        for device_id, version, config in rows.all():
            if config is not None:
                found[device_id] = (version, config)
    return found


def _check_stages(stages: Sequence[float]) -> None:
    if any(not 0 < p <= 100 for p in stages) or list(stages) != sorted(set(stages)):
        raise InvalidInputError("stages are increasing cumulative percentages in (0, 100]")
    if stages[-1] != 100:
        raise InvalidInputError("the last stage must be 100 (every targeted device)")


def _view(row: Rollout, stages: list[StageProgress], policy: schemas.Policy) -> schemas.Rollout:
    return schemas.Rollout(
        id=row.id,
        name=row.name,
        version=row.version,
        state=row.state,
        reason=row.reason,
        target=msgspec.convert(row.target, Target),
        policy=policy,
        current_stage=row.current_stage,
        stages=stages,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )
