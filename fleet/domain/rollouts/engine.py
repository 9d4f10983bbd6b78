"""The rollout engine: a loop that signs, publishes and gates every active rollout.

All its state is in the database, so a restarted fleet picks up where it stopped. It runs
beside the bridge in `fleet serve` (fleet.runner) and publishes through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.db.ota import Rollout, RolloutDevice
from fleet.domain.rollouts import dispatch, gate
from fleet.domain.rollouts.dispatch import Publisher
from fleet.domain.rollouts.signing import DocSigner

log = logging.getLogger("fleet.rollouts")
COMPARE_EVERY_S = 5.0
"""How often a running rollout's updated devices are compared with untouched ones."""


class RolloutEngine:
    """Drives rollouts forward every `tick_s` seconds (and as soon as it is kicked)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        signer: DocSigner,
        publisher: Publisher,
        tick_s: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._publisher = publisher
        self._tick_s = tick_s
        self._online: set[str] = set()
        self._wake = asyncio.Event()
        self._compared: dict[int, float] = {}

    def devices_online(self, device_ids: Iterable[str]) -> None:
        """Devices (re)connected: send their desired config again if they do not run it."""
        self._online.update(device_ids)
        self._wake.set()

    def kick(self) -> None:
        """Run a tick now (a rollout was created or changed)."""
        self._wake.set()

    async def run(self) -> None:
        """Tick until cancelled; an error in one tick is logged and retried on the next."""
        while True:
            self._wake.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("rollout engine tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick_s)

    async def tick(self) -> None:
        """One pass over the active rollouts and the reconnected devices."""
        async with self._sessions() as session:
            ids = list(
                await session.scalars(
                    select(Rollout.id).where(Rollout.state.in_(("running", "paused")))
                )
            )
            ids += [
                i
                for i in await session.scalars(
                    select(RolloutDevice.rollout_id)
                    .where(
                        RolloutDevice.status == "reverting",
                        RolloutDevice.published_at.is_(None),
                    )
                    .distinct()
                )
                if i not in ids
            ]
        for rollout_id in ids:
            async with self._sessions() as session:
                await self._advance(session, rollout_id)
        if self._online:
            online, self._online = sorted(self._online), set()
            async with self._sessions() as session:
                sent = await dispatch.republish(session, online, self._publisher)
            if sent:
                log.info("sent the desired config again to %d reconnected device(s)", sent)

    async def _advance(self, session: AsyncSession, rollout_id: int) -> None:
        rollout = await session.get(Rollout, rollout_id)
        if rollout is None:
            return
        # A chunk at a time, so the first gateways apply while later ones are still signed.
        published = await dispatch.publish_unpublished(session, rollout.id, self._publisher)
        while signed := await dispatch.sign_pending(session, rollout, self._signer):
            published += await dispatch.publish_unpublished(session, rollout.id, self._publisher)
            log.info("rollout %d: signed %d, published %d", rollout.id, signed, published)
        if rollout.state not in ("running", "paused"):
            return
        policy = gate.policy_of(rollout)
        await gate.promote_healthy(session, rollout, policy)
        if rollout.state == "running":
            now = time.monotonic()
            compare = now - self._compared.get(rollout.id, 0.0) >= COMPARE_EVERY_S
            if compare:
                self._compared[rollout.id] = now
            action = await gate.evaluate(session, rollout, policy, compare=compare)
            if action is not None:
                log.info("rollout %d: %s (%s)", rollout.id, action, rollout.reason or "")
                self._wake.set()
