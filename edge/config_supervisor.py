"""Run the agent on its active config and move it to new desired configs, one at a time.

Each config runs as one agent generation with its own boot id (so telemetry sequence numbers
never repeat under one boot id). A candidate config stops the running generation, is swapped
in on trial and watched for the health window by edge/health_gate.py; it is committed, or the
previous config comes back and `rolled_back` is reported with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping
from typing import Protocol

from edge.config import AgentConfig
from edge.config_apply import ConfigChannel, apply_envelope
from edge.config_guard import config_of
from edge.config_store import ConfigStore
from edge.health_gate import TrialSubject, watch

log = logging.getLogger(__name__)
NO_TRUST_ROOT = "no config trust root: desired configs are refused (provision with a bundle)"


class SupervisedAgent(TrialSubject, Protocol):
    """An agent generation the supervisor can run and watch."""

    async def run(self) -> None:
        """Run until cancelled."""
        ...


AgentFactory = Callable[[AgentConfig, ConfigChannel], SupervisedAgent]


class ConfigSupervisor:
    """Owns the agent's config lifecycle: start on the active config, apply desired ones."""

    def __init__(
        self,
        *,
        local: AgentConfig,
        store: ConfigStore,
        keys: Mapping[str, bytes],
        make_agent: AgentFactory,
        health_window: float,
    ) -> None:
        self._local = local
        self._store = store
        self._keys = dict(keys)
        self._make_agent = make_agent
        self._window = health_window
        self.channel = ConfigChannel()
        self._task: asyncio.Task[None] | None = None
        self.config = local

    def active_config(self) -> AgentConfig:
        """The config in force: the stored active document, else the local one."""
        doc = self._store.active()
        if doc is None:
            return self._local
        config = config_of(doc)
        if config is None or config.device_id != self._local.device_id:
            log.error("stored config v%d is unusable; running the local config", doc.version)
            return self._local
        return config

    async def run(self) -> None:
        """Run generations until cancelled."""
        recovered = self._store.recover()
        self.channel.report(recovered or self._store.state.outcome)
        if not self._keys:
            log.error("agent: %s", NO_TRUST_ROOT)
            self.channel.alarms.append(NO_TRUST_ROOT)
        self._start(self.active_config())
        try:
            while True:
                envelope = await self._next_envelope()
                outcome = await apply_envelope(
                    self._store,
                    envelope,
                    keys=self._keys,
                    device_id=self._local.device_id,
                    trial=self._trial,
                    local=self._local,
                )
                self.channel.report(outcome)
                if self._task is None or self._task.done():
                    self._start(self.active_config())
        finally:
            await self._stop()

    async def _next_envelope(self) -> bytes:
        """The next desired envelope; re-raises if the running generation failed."""
        assert self._task is not None
        getter = asyncio.ensure_future(self.channel.next_desired())
        try:
            await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        self._task.result()  # the generation ended on its own: surface why
        raise RuntimeError("the agent generation stopped unexpectedly")

    async def _trial(self, config: AgentConfig) -> str | None:
        """Restart on `config` and watch it; on failure leave no generation running."""
        await self._stop()
        agent = self._start(config)
        assert self._task is not None
        reason = await watch(agent, window=self._window, running=self._task)
        if reason is not None:
            await self._stop()
        return reason

    def _start(self, config: AgentConfig) -> SupervisedAgent:
        self.config = config
        agent = self._make_agent(config, self.channel)
        self._task = asyncio.create_task(agent.run(), name=f"agent-v{config.version}")
        return agent

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def run_until_signalled(supervisor: ConfigSupervisor) -> None:
    """Run the supervisor until SIGINT or SIGTERM, then stop the running generation cleanly."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await supervisor.run()
    except asyncio.CancelledError:
        log.info("agent %s stopped", supervisor.config.device_id)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
