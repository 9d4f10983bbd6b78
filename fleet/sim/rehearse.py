"""`polekit sim rehearse`: try a rollout policy on simulated gateways before the real fleet.

An in-process fleet (a throwaway SQLite database and signing key) on the given broker, N
simulated gateways of which a share fail their health window and a share is offline, and one
rollout with the policy under test. Prints each stage change and how it ended, e.g. "paused
at stage 0 after 9 s: 2 of 2 devices failed", so a policy's thresholds can be checked first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from fleet.domain.configs.schemas import LayerCreate, Membership
from fleet.domain.configs.services import ConfigService
from fleet.domain.rollouts.schemas import Policy, RolloutCreate, Target
from fleet.domain.rollouts.services import RolloutService
from fleet.runner import run_fleet
from fleet.security.keys import FleetKeys
from fleet.settings import (
    DatabaseSettings,
    FleetSettings,
    ProvisioningSettings,
    normalise_db_url,
    parse_mqtt_url,
)
from fleet.sim.fleet import FleetSim, SimOptions

ACTOR = "rehearsal"


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add `rehearse` to `polekit sim`."""
    parser = verbs.add_parser(
        "rehearse",
        help="dry-run a rollout policy against simulated gateways",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(parser)
    parser.add_argument("--offline-share", type=float, default=0.0)
    parser.add_argument("--stages", default="1,10,50,100", help="cumulative percentages")
    parser.add_argument("--window", type=float, default=10.0, help="health window, seconds")
    parser.add_argument("--success", type=float, default=0.95, help="success threshold")
    parser.add_argument("--failure", type=float, default=0.1, help="failure threshold")
    parser.add_argument("--on-failure", choices=["pause", "abort"], default="pause")
    parser.add_argument("--straggler-timeout", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after, seconds")
    parser.set_defaults(func=_rehearse)


def _rehearse(args: argparse.Namespace) -> int:
    policy = Policy(
        health_window_s=args.window,
        success_threshold=args.success,
        failure_threshold=args.failure,
        on_failure=args.on_failure,
        straggler_timeout_s=args.straggler_timeout,
    )
    stages = [float(p) for p in args.stages.split(",")]
    summary = asyncio.run(rehearse(args, stages, policy))
    print(json.dumps(summary))
    return 0 if summary["state"] == "completed" else 1


async def rehearse(args: argparse.Namespace, stages: list[float], policy: Policy) -> dict[str, Any]:
    """Run the rehearsal; the final summary."""
    from fleet.sim.cli import failing_ids

    work = Path(tempfile.mkdtemp(prefix="pk-rehearse-"))
    settings = FleetSettings(
        db=DatabaseSettings(url=normalise_db_url(str(work / "fleet.db"))),
        mqtt=parse_mqtt_url(
            args.mqtt + ("&" if "?" in args.mqtt else "?") + f"client_id=rh-{secrets.token_hex(4)}"
        ),
        provisioning=ProvisioningSettings(
            admin_key=secrets.token_urlsafe(24), keys_dir=str(work / "keys")
        ),
    )
    token = secrets.token_hex(3)
    ids = [f"rh{token}-{i:05d}" for i in range(args.devices)]
    offline = set(ids[:: max(1, round(1 / args.offline_share))]) if args.offline_share else set()
    keys = FleetKeys.load_or_create(work / "keys")
    async with run_fleet(settings, http=False) as fleet:
        assert fleet.bridge is not None
        assert fleet.rollout_engine is not None
        await asyncio.wait_for(fleet.bridge.subscribed.wait(), 30)
        sim = FleetSim(
            host=settings.mqtt.host,
            port=settings.mqtt.port,
            device_ids=ids,
            keys={keys.kid: keys.public_key_raw},
            options=SimOptions(heartbeat_s=args.heartbeat, telemetry_s=args.telemetry),
            failing=failing_ids(ids, args.fail_share),
        )
        await sim.start(timeout=max(60.0, args.devices / 100))
        for device_id in offline:
            await sim.devices[device_id].go_offline()
        try:
            async with fleet.sessions() as session:
                configs = ConfigService(session)
                members = [Membership(device_id=d, group="rehearsal/all") for d in ids]
                await configs.set_memberships(members, actor=ACTOR)
                change = {"health": {"interval": "15s"}}
                await configs.add_layer(LayerCreate(scope="fleet", config=change), actor=ACTOR)
                created = await RolloutService(session, configs).create(
                    RolloutCreate(
                        name="rehearsal",
                        target=Target(groups=["rehearsal"]),
                        stages=stages,
                        policy=policy,
                    ),
                    actor=ACTOR,
                )
            fleet.rollout_engine.kick()
            return await _watch(fleet.sessions, created.id, args.timeout, len(offline))
        finally:
            await sim.stop()


async def _watch(
    sessions: Any,
    rollout_id: int,
    timeout: float,  # noqa: ASYNC109 - a deadline that ends in a summary, not an exception
    offline: int,
) -> dict[str, Any]:
    began = time.monotonic()
    seen: tuple[str, int] | None = None
    rollout = None
    while time.monotonic() - began < timeout:
        async with sessions() as session:
            rollout = await RolloutService(session, ConfigService(session)).get(rollout_id)
        now = (rollout.state, rollout.current_stage)
        if now != seen:
            seen = now
            line = {"t_s": round(time.monotonic() - began, 1), "state": rollout.state}
            line |= {"stage": rollout.current_stage, "reason": rollout.reason}
            print(json.dumps(line), flush=True)
        if rollout.state != "running":
            break
        await asyncio.sleep(1.0)
    assert rollout is not None
    return {
        "state": rollout.state,
        "reason": rollout.reason,
        "elapsed_s": round(time.monotonic() - began, 1),
        "offline_devices": offline,
        "stages": [msgspec.to_builtins(stage) for stage in rollout.stages],
    }
