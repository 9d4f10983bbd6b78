"""`polekit verify DEVICE --fleet URL`: wait until the fleet sees the gateway working end to end.

Exit 0 with "you can leave the pole" when it is connected, its publishes get through the
broker's ACL, every configured sensor has a fresh reading at the fleet and its clock agrees
with the fleet's; exit 1 with the checklist and what to check next otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote

from edge.bundle import BundleError, read_bundle
from edge.config_file import ConfigError, load_config
from provisioning.http import FleetUnreachable, check_fleet_url, request
from provisioning.verify import Check, Sensor, Snapshot, Status, Verifier, sensors_of

_DEVICE_ID = re.compile(r"^[a-z0-9-]{1,64}$")
_PROGRESS_EVERY_S = 5.0


def register(parser: argparse.ArgumentParser) -> None:
    """Options of `polekit verify`."""
    parser.description = (
        "Wait until the fleet sees DEVICE online with fresh readings from each configured "
        "sensor and a clock in sync, then print the checklist. Exits non-zero, saying what "
        "to check next, when something is still missing at the timeout."
    )
    parser.add_argument("device", metavar="DEVICE", help="the device id provisioning printed")
    parser.add_argument("--fleet", metavar="URL", help="fleet URL (default: the bundle's)")
    parser.add_argument(
        "--bundle", type=Path, metavar="DIR", help="the bundle written by provision: its "
        "config names the sensors to expect (default: those the agent reports)",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="agent config naming the sensors to expect"
    )
    parser.add_argument(
        "--api-key-file", type=Path, metavar="FILE", help="file holding a fleet API key "
        "(viewer role is enough; default: $POLEKIT_API_KEY)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S", help="default 60")
    parser.add_argument(
        "--tolerance", type=float, default=5.0, metavar="S", help="clock tolerance (default 5)"
    )
    parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Poll the fleet until everything checks out or the timeout passes."""
    try:
        fleet_url, sensors = _inputs(args)
        api_key = _api_key(args.api_key_file)
    except ValueError as exc:
        print(f"verify: {exc}", file=sys.stderr)
        return 2
    verifier = Verifier(device_id=args.device, sensors=sensors, tolerance_s=args.tolerance)
    print(
        f"verify: waiting up to {args.timeout:.0f} s for {args.device} at {fleet_url}", flush=True
    )
    started = time.monotonic()
    shown: set[str] = set()
    next_progress = started + _PROGRESS_EVERY_S
    while True:
        snapshot = _snapshot(fleet_url, args.device, api_key)
        checks = verifier.update(snapshot)
        for check in checks:
            if check.status is Status.OK and check.title not in shown:
                shown.add(check.title)
                print(f"  [ok] {check.title}" + (f": {check.detail}" if check.detail else ""))
        if _complete(checks) or snapshot.denied:
            break
        now = time.monotonic()
        if now - started >= args.timeout:
            checks = verifier.finish(checks)
            break
        if now >= next_progress:
            waiting = [c.title for c in checks if c.status is not Status.OK]
            print(f"  ... {now - started:.0f} s: waiting for {'; '.join(waiting)}", flush=True)
            next_progress = now + _PROGRESS_EVERY_S
        time.sleep(args.interval)
    return _report(args.device, checks, time.monotonic() - started)


def _inputs(args: argparse.Namespace) -> tuple[str, list[Sensor] | None]:
    if not _DEVICE_ID.match(args.device):
        raise ValueError(f"{args.device!r} is not a device id (lower-case letters, digits, -)")
    fleet = args.fleet
    sensors = None
    if args.bundle is not None:
        try:
            bundle = read_bundle(args.bundle)
        except BundleError as exc:
            raise ValueError(str(exc)) from exc
        if bundle.config.device_id != args.device:
            raise ValueError(f"{args.bundle} is the bundle of {bundle.config.device_id}")
        fleet = fleet or bundle.manifest.fleet_url
        sensors = sensors_of(bundle.config, tolerance_s=args.tolerance)
    elif args.config is not None:
        try:
            sensors = sensors_of(load_config(args.config), tolerance_s=args.tolerance)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
    if not fleet:
        raise ValueError("pass --fleet URL (or --bundle DIR, whose fleet is used)")
    return check_fleet_url(fleet), sensors


def _api_key(path: Path | None) -> str | None:
    """The API key from --api-key-file, else $POLEKIT_API_KEY (never from argv)."""
    if path is None:
        return os.environ.get("POLEKIT_API_KEY", "").strip() or None
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise ValueError(f"cannot read --api-key-file {path}: {exc.strerror}") from exc


def _snapshot(fleet_url: str, device_id: str, api_key: str | None) -> Snapshot:
    base = f"{fleet_url}/api/v1/devices/{quote(device_id)}"
    try:
        answer = request("GET", base, timeout=5.0, api_key=api_key)
        if answer.status == 404:
            return Snapshot(fleet_time=answer.fleet_time)
        if answer.status in (401, 403):
            what = "no API key was sent" if api_key is None else "the API key was refused"
            return Snapshot(
                fleet_time=answer.fleet_time,
                fleet_error=f"HTTP {answer.status}: {what}",
                denied=True,
            )
        if answer.status != 200 or not isinstance(answer.body, dict):
            return Snapshot(fleet_time=answer.fleet_time, fleet_error=f"HTTP {answer.status}")
        latest = request("GET", base + "/latest", timeout=5.0, api_key=api_key)
    except FleetUnreachable as exc:
        return Snapshot(fleet_time=time.time(), fleet_error=str(exc))
    channels = latest.body.get("channels", []) if isinstance(latest.body, dict) else []
    return Snapshot(fleet_time=latest.fleet_time, device=answer.body, latest=channels)


def _complete(checks: list[Check]) -> bool:
    """All ok, and far enough to have judged the clock (the last check once online)."""
    return all(c.status is Status.OK for c in checks) and checks[-1].title.startswith("clock")


def _report(device_id: str, checks: list[Check], elapsed: float) -> int:
    print(f"\npolekit verify {device_id} ({elapsed:.1f} s):")
    for check in checks:
        mark = "[ok]  " if check.status is Status.OK else "[FAIL]"
        print(f"  {mark} {check.title}" + (f": {check.detail}" if check.detail else ""))
        if check.status is not Status.OK and check.hint:
            print(f"         -> {check.hint}")
    failed = [c for c in checks if c.status is not Status.OK]
    if failed:
        print(
            f"\nNOT verified: {len(failed)} check(s) failed; "
            "fix the first one and run verify again."
        )
        return 1
    print(f"\nverified: {device_id} is online and reporting; you can leave the pole.")
    return 0
