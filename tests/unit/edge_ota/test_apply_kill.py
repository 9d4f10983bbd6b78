"""SIGKILL during apply: after 100 kills at journal steps and random moments, every restart ends
on exactly the old or the new config, and the agent can start on it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import shutil
import signal
import time
from pathlib import Path

from edge.config_apply import apply_envelope
from edge.config_guard import config_of
from edge.config_store import KILL_ENV, ConfigStore, checkpoint_from_env
from tests.unit.edge_ota.signing import DEVICE, Signer, config

OLD, NEW = config(poll="10s"), config(poll="5s", interval="15s")
N_KILLS = 100
_fork = multiprocessing.get_context("fork")


def _child(directory: str, envelope: bytes, keys: dict[str, bytes], trial_s: float) -> None:
    async def trial(_config: object) -> str | None:
        await asyncio.sleep(trial_s)
        return None

    store = ConfigStore(directory, checkpoint=checkpoint_from_env())
    store.recover()
    asyncio.run(apply_envelope(store, envelope, keys=keys, device_id=DEVICE, trial=trial))


def _run_child(
    directory: Path, envelope: bytes, keys: dict[str, bytes], *, kill_at: str | None, delay: float
) -> int:
    if kill_at is None:
        os.environ.pop(KILL_ENV, None)
    else:
        os.environ[KILL_ENV] = kill_at
    try:
        process = _fork.Process(target=_child, args=(str(directory), envelope, keys, 0.01))
        process.start()
    finally:
        os.environ.pop(KILL_ENV, None)
    if delay:
        time.sleep(delay)
        if process.pid is not None and process.is_alive():
            os.kill(process.pid, signal.SIGKILL)
    process.join(10)
    assert process.exitcode is not None
    return process.exitcode


def _effective(directory: Path) -> dict[str, object]:
    """What a restarted agent runs: recover, then the active document (or the local config)."""
    store = ConfigStore(directory)
    store.recover()
    doc = store.active()
    assert doc is not None, "the old config was committed before the test, so a doc is active"
    assert config_of(doc) is not None, "the agent must be able to start on it"
    assert not store.state.trial
    return doc.config


def _count_steps(template: Path, envelope: bytes, keys: dict[str, bytes], work: Path) -> int:
    shutil.copytree(template, work)
    steps: list[str] = []
    store = ConfigStore(work, checkpoint=steps.append)

    async def ok(_config: object) -> str | None:
        return None

    asyncio.run(apply_envelope(store, envelope, keys=keys, device_id=DEVICE, trial=ok))
    assert store.state.active_version == 2
    return len(steps)


def test_kill_at_every_step_and_at_random_moments(tmp_path: Path) -> None:
    signer = Signer()
    template = tmp_path / "template"

    async def ok(_config: object) -> str | None:
        return None

    asyncio.run(
        apply_envelope(
            ConfigStore(template), signer.envelope(1, OLD), keys=signer.keys, device_id=DEVICE,
            trial=ok,
        )
    )  # fmt: skip
    envelope = signer.envelope(2, NEW)
    steps = _count_steps(template, envelope, signer.keys, tmp_path / "count")
    assert steps >= 8
    rng = random.Random(42)
    outcomes = {"old": 0, "new": 0}
    killed = 0
    for i in range(N_KILLS):
        work = tmp_path / f"run-{i}"
        shutil.copytree(template, work)
        if i < 2 * steps:
            code = _run_child(work, envelope, signer.keys, kill_at=str(i % steps + 1), delay=0.0)
        else:
            code = _run_child(
                work, envelope, signer.keys, kill_at=None, delay=rng.uniform(0.0, 0.03)
            )
        killed += code == -signal.SIGKILL
        effective = _effective(work)
        assert effective in (OLD, NEW), f"run {i}: a mix of configs"
        outcomes["old" if effective == OLD else "new"] += 1
        shutil.rmtree(work)
    assert killed >= 2 * steps
    assert outcomes["old"] > 0
    assert outcomes["new"] > 0
