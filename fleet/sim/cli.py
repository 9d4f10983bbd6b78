"""`polekit sim fleet|rehearse`: simulated gateways against a real broker, and a dry run of a
rollout policy (stages, thresholds, windows) against failing and offline gateways."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import sys
import time
from pathlib import Path

from fleet.settings import parse_mqtt_url
from fleet.sim.fleet import FleetSim, SimOptions


def register(parser: argparse.ArgumentParser) -> None:
    """Add `fleet` and `rehearse` to `polekit sim`."""
    verbs = parser.add_subparsers(dest="sim_verb", metavar="COMMAND", required=True)
    fleet = verbs.add_parser(
        "fleet",
        help="run N simulated gateways against a broker",
        description="N protocol-level gateways in this process, each with its own MQTT "
        "connection and client id: state, heartbeats, telemetry, signed config apply and "
        "report, reconnects. Prints a JSON status line every --every seconds.",
    )
    _common(fleet)
    fleet.add_argument("--prefix", default="sim", help="device ids are PREFIX-00001 ...")
    fleet.add_argument("--duration", type=float, default=0.0, help="seconds; 0: until Ctrl-C")
    fleet.add_argument("--every", type=float, default=5.0, help="status line interval")
    fleet.add_argument("--keys-dir", type=Path, help="the fleet's keys directory (trust root)")
    fleet.add_argument("--trust", metavar="KID=BASE64", help="the fleet's config-signing key")
    fleet.set_defaults(func=_run_fleet)

    from fleet.sim import rehearse

    rehearse.register(verbs, _common)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="broker URL")
    parser.add_argument("--devices", type=int, default=100, help="how many gateways")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="seconds between heartbeats")
    parser.add_argument("--telemetry", type=float, default=0.0, help="seconds between batches")
    parser.add_argument(
        "--fail-share", type=float, default=0.0, help="share of gateways whose applies fail"
    )
    parser.add_argument("--log-level", default="warning")


def trust_root(args: argparse.Namespace) -> dict[str, bytes]:
    """{kid: public key} from --trust or --keys-dir; empty (every config refused) otherwise."""
    if args.trust:
        kid, _, b64 = args.trust.partition("=")
        return {kid: base64.b64decode(b64)}
    if args.keys_dir:
        from fleet.security.keys import FleetKeys

        keys = FleetKeys.load_or_create(args.keys_dir)
        return {keys.kid: keys.public_key_raw}
    return {}


def failing_ids(ids: list[str], share: float) -> set[str]:
    """Every k-th device, so `share` of them fail (spread across groups and stages)."""
    if share <= 0:
        return set()
    step = max(1, round(1 / share))
    return {device_id for index, device_id in enumerate(ids) if index % step == 0}


def _run_fleet(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper())
    mqtt = parse_mqtt_url(args.mqtt)
    ids = [f"{args.prefix}-{i:05d}" for i in range(args.devices)]
    keys = trust_root(args)
    if not keys:
        print(
            "warning: no trust root (--keys-dir or --trust): every config is refused",
            file=sys.stderr,
        )

    async def main() -> None:
        sim = FleetSim(
            host=mqtt.host,
            port=mqtt.port,
            device_ids=ids,
            keys=keys,
            options=SimOptions(heartbeat_s=args.heartbeat, telemetry_s=args.telemetry),
            failing=failing_ids(ids, args.fail_share),
        )
        connect_s = await sim.start(timeout=max(60.0, args.devices / 100))
        print(json.dumps({"connected": len(sim.connected), "connect_s": round(connect_s, 1)}))
        began = time.monotonic()
        try:
            while not args.duration or time.monotonic() - began < args.duration:
                await asyncio.sleep(args.every)
                versions: dict[int, int] = {}
                for device in sim.devices.values():
                    version = device.guard.applied_version
                    versions[version] = versions.get(version, 0) + 1
                print(json.dumps({"connected": len(sim.connected), "running": versions}))
        finally:
            await sim.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        return 130
    return 0
