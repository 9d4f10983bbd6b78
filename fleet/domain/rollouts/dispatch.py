"""Sign and publish desired configs: forward documents for a stage, signed rollbacks, catch-up.

The database is written first (DeviceConfig holds the envelope, RolloutDevice.sent_at says it
is signed) and published second (published_at), so a fleet killed in between publishes on
its next tick: nothing is lost and a duplicate publish is harmless (the agent ignores a
document it already runs).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.ota import DeviceConfig, Rollout, RolloutDevice
from fleet.domain.rollouts.signing import DocSigner, envelope

_CHUNK = 1000


class Publisher(Protocol):
    """Publishes retained QoS 1 desired configs (the bridge)."""

    async def publish_desired(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Publish (device id, envelope) pairs; raises when the broker is unreachable."""
        ...


async def sign_pending(
    session: AsyncSession, rollout: Rollout, signer: DocSigner, *, limit: int = _CHUNK
) -> int:
    """Sign up to `limit` forward documents of started stages and pending rollbacks."""
    now = datetime.now(UTC)
    issued_at = time.time()
    query = select(RolloutDevice).where(RolloutDevice.rollout_id == rollout.id)
    forward = rollout.state == "running"
    if forward:
        query = query.where(
            ((RolloutDevice.status == "pending") & (RolloutDevice.stage <= rollout.current_stage))
            | ((RolloutDevice.status == "reverting") & RolloutDevice.sent_at.is_(None))
        )
    else:
        query = query.where((RolloutDevice.status == "reverting") & RolloutDevice.sent_at.is_(None))
    devices = list(await session.scalars(query.limit(limit)))
    if not devices:
        return 0
    configs = await _configs(session, [d.device_id for d in devices])
    for device in devices:
        rollback = device.status == "reverting"
        version = device.previous_version if rollback else rollout.version
        config = device.previous_config if rollback else device.config
        signed_doc = envelope(
            signer, version=version, config=config, rollback=rollback, issued_at=issued_at
        )
        row = configs.get(device.device_id)
        if row is None:
            row = DeviceConfig(
                device_id=device.device_id,
                applied_version=device.previous_version,
                applied_config=device.previous_config,
            )
            session.add(row)
        row.desired_version = version
        row.desired_config = config
        row.desired_envelope = signed_doc
        row.desired_rollback = rollback
        row.desired_at = now
        row.rollout_id = rollout.id
        if not rollback:
            device.status = "sent"
        device.sent_at = now
        device.published_at = None
    await session.commit()
    return len(devices)


async def publish_unpublished(session: AsyncSession, rollout_id: int, publisher: Publisher) -> int:
    """Publish signed documents not yet confirmed by the broker; returns how many."""
    ids = list(
        await session.scalars(
            select(RolloutDevice.device_id).where(
                RolloutDevice.rollout_id == rollout_id,
                RolloutDevice.status.in_(("sent", "reverting")),
                RolloutDevice.sent_at.is_not(None),
                RolloutDevice.published_at.is_(None),
            )
        )
    )
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        configs = await _configs(session, chunk)
        await publisher.publish_desired(
            [(device_id, configs[device_id].desired_envelope) for device_id in chunk]
        )
        rows = await session.scalars(
            select(RolloutDevice).where(
                RolloutDevice.rollout_id == rollout_id, RolloutDevice.device_id.in_(chunk)
            )
        )
        now = datetime.now(UTC)
        for row in rows:
            row.published_at = now
        await session.commit()
    return len(ids)


async def republish(session: AsyncSession, device_ids: Sequence[str], publisher: Publisher) -> int:
    """Publish the desired config again to reconnected devices that do not run it yet."""
    items: list[tuple[str, bytes]] = []
    for start in range(0, len(device_ids), _CHUNK):
        configs = await _configs(session, device_ids[start : start + _CHUNK])
        items += [
            (row.device_id, row.desired_envelope)
            for row in configs.values()
            if row.reported_version != row.desired_version
        ]
    if items:
        await publisher.publish_desired(items)
    return len(items)


async def _configs(session: AsyncSession, ids: Sequence[str]) -> dict[str, DeviceConfig]:
    found: dict[str, DeviceConfig] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.scalars(
            select(DeviceConfig).where(DeviceConfig.device_id.in_(ids[start : start + _CHUNK]))
        )
        found.update({row.device_id: row for row in rows})
    return found
