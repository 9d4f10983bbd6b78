"""Apply devices' config/reported messages to their config state and rollout progress."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.ota import DeviceConfig, Rollout, RolloutDevice
from fleet.domain.ingest.schemas import ConfigReportReceived

_CHUNK = 500
_WAITING = ("pending", "sent")


async def apply_reports(session: AsyncSession, reports: Sequence[ConfigReportReceived]) -> None:
    """Record each device's newest report in the caller's transaction (idempotent)."""
    latest = {r.device_id: r for r in reports}
    if not latest:
        return
    ids = sorted(latest)
    configs: dict[str, DeviceConfig] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = await session.scalars(select(DeviceConfig).where(DeviceConfig.device_id.in_(chunk)))
        configs.update({row.device_id: row for row in rows})
    for device_id, received in latest.items():
        row = configs.get(device_id)
        if row is None:
            continue  # a device the fleet never sent a config: nothing to match
        report = received.report
        row.reported_version = report.version
        row.reported_status = report.status
        row.reported_reason = report.reason
        row.reported_at = received.received_at
        if report.status == "applied" and report.version == row.desired_version:
            row.applied_version = row.desired_version
            row.applied_config = row.desired_config
    pairs = [(row.rollout_id, row.device_id) for row in configs.values() if row.rollout_id]
    if not pairs:
        return
    versions = dict(
        (
            await session.execute(
                select(Rollout.id, Rollout.version).where(Rollout.id.in_({p[0] for p in pairs}))
            )
        ).all()
    )
    by_rollout: dict[int, list[str]] = {}
    for rollout_id, device_id in pairs:
        by_rollout.setdefault(rollout_id, []).append(device_id)
    for rollout_id, device_ids in by_rollout.items():
        for start in range(0, len(device_ids), _CHUNK):
            members = await session.scalars(
                select(RolloutDevice).where(
                    RolloutDevice.rollout_id == rollout_id,
                    RolloutDevice.device_id.in_(device_ids[start : start + _CHUNK]),
                )
            )
            for device in members:
                _advance(device, latest[device.device_id], versions[rollout_id])


def _advance(device: RolloutDevice, received: ConfigReportReceived, version: int) -> None:
    """Move one rollout device along on a report about its version."""
    report, at = received.report, received.received_at
    if device.status == "reverting":
        if report.version == device.previous_version and report.status == "applied":
            device.status = "reverted"
            device.applied_at = at
        return
    if report.version != version:
        return
    if report.status == "applied" and device.status in _WAITING:
        device.status = "applied"
        device.applied_at = at
        device.reason = None
    elif report.status in ("rolled_back", "rejected") and device.status not in (
        "reverted",
        "cancelled",
    ):
        device.status = report.status
        device.reason = report.reason
        device.healthy_at = None
