"""Apply one desired config atomically: judge, stage, swap, health window, commit or revert.

The journal is edge/config_store.py; the health window is whatever `trial` does (the agent
supervisor runs the new config and watches it, tests pass a stand-in). A SIGKILL anywhere in
here leaves the old or the new config in force once `ConfigStore.recover()` has run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from edge.config import AgentConfig
from edge.config_guard import judge
from edge.config_store import ConfigStore, Outcome
from protocol.messages import ConfigReported

log = logging.getLogger(__name__)
LOCAL_VERSION = 0
"""The version of the gateway's own config, before any from the fleet."""
Trial = Callable[[AgentConfig], Awaitable[str | None]]
"""Run a config through its health window; None when healthy, else why not."""


async def apply_envelope(
    store: ConfigStore,
    envelope: bytes,
    *,
    keys: Mapping[str, bytes],
    device_id: str,
    trial: Trial,
    local: AgentConfig | None = None,
) -> Outcome | None:
    """Apply an envelope end to end; the outcome to report (None: nothing to say).

    `local` is the gateway's own config: a signed rollback to version 0 returns to it.
    """
    verdict = judge(envelope, keys=keys, state=store.state, device_id=device_id)
    if verdict.kind == "current":
        return None if store.state.trial else verdict.outcome
    if verdict.kind == "reject" or verdict.doc is None or verdict.config is None:
        if verdict.outcome is not None:
            log.warning("config v%d refused: %s", verdict.outcome.version, verdict.outcome.reason)
        return verdict.outcome
    doc, config = verdict.doc, verdict.config
    name: str | None
    if verdict.rollback and doc.version == LOCAL_VERSION and local is not None:
        # Back to before the fleet's first config: the gateway's own (bundle) config, which
        # the fleet never saw in full (a technician's scan may have added buses to it).
        name, config = None, local
    else:
        name = store.stage(doc)
    store.swap(name, doc)
    log.info("config v%d in force, on trial", doc.version)
    reason = await trial(config)
    if reason is None:
        log.info("config v%d passed its health window: committed", doc.version)
        return store.commit(doc.issued_at)
    log.warning("config v%d failed its health window (%s): rolling back", doc.version, reason)
    return store.revert(reason)


def to_message(outcome: Outcome) -> ConfigReported:
    """The config/reported message of an outcome."""
    return ConfigReported(version=outcome.version, status=outcome.status, reason=outcome.reason)


class ConfigChannel:
    """Between the uplink and the supervisor: desired envelopes in, outcomes and alarms out."""

    def __init__(self) -> None:
        self._desired: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        self._outcome: Outcome | None = None
        self.outcome_changed = asyncio.Event()
        self.alarms: list[str] = []

    def offer(self, envelope: bytes) -> None:
        """A config/desired message arrived; only the newest unprocessed one is kept."""
        if self._desired.full():
            self._desired.get_nowait()
        self._desired.put_nowait(envelope)

    async def next_desired(self) -> bytes:
        """Wait for the next desired-config envelope."""
        return await self._desired.get()

    def report(self, outcome: Outcome | None) -> None:
        """Set the outcome the uplink publishes (retained) on config/reported."""
        if outcome is None or outcome == self._outcome:
            return
        self._outcome = outcome
        self.outcome_changed.set()

    @property
    def outcome(self) -> Outcome | None:
        """The latest outcome to report."""
        return self._outcome

    def report_message(self) -> ConfigReported | None:
        """The latest outcome as the config/reported message."""
        return None if self._outcome is None else to_message(self._outcome)
