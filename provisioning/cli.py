"""`polekit provision`: claim a gateway, enroll its key with the fleet, write its bundle.

polekit provision --fleet URL --claim TOKEN --pole ID [--gps LAT,LON] [--street S]
                  [--district D] (--target DIR | --ssh USER@HOST:/PATH) [--board NAME]
                  [--config FILE]
polekit provision --resume
polekit provision --list-boards
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from hardware.profiles import ProfileError, available_profiles, describe, load_profile
from provisioning import pending
from provisioning.bundle import BundleWriteError, check_target
from provisioning.enroll import EnrollRequest, Pole
from provisioning.http import check_fleet_url
from provisioning.keys import generate_key
from provisioning.micro_target import WIFI_PASSWORD_ENV, MicroTarget, precheck, wifi_password
from provisioning.run import complete, worst
from provisioning.ssh import SshTarget


class UsageError(Exception):
    """Bad or missing options; the message says which."""


def register(parser: argparse.ArgumentParser) -> None:
    """Options of `polekit provision`."""
    parser.description = (
        "Turn an anonymous gateway into a fleet device: generate its key pair here, enroll "
        "the public key with a claim token, and write the bundle (identity, credentials, "
        "first config) to the gateway's boot partition, over SSH, or with the MicroPython "
        "agent to a controller's flash over USB serial. A fleet that cannot be "
        "reached is retried, then the claim is queued: finish it with --resume."
    )
    parser.add_argument("--fleet", metavar="URL", help="fleet URL, e.g. https://fleet.city.example")
    parser.add_argument("--claim", metavar="TOKEN", help="the claim token a fleet admin issued")
    parser.add_argument("--pole", metavar="ID", help="the pole's asset id")
    parser.add_argument("--gps", metavar="LAT,LON", help="the pole's position, e.g. 30.66,104.06")
    parser.add_argument("--street", metavar="S", help="street (administrative level)")
    parser.add_argument("--district", metavar="D", help="district (administrative level)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--target", type=Path, metavar="DIR", help="bundle directory, e.g. on the mounted boot "
        "partition: /media/$USER/bootfs/polekit",
    )  # fmt: skip
    where.add_argument(
        "--ssh", metavar="USER@HOST:/PATH", help="write the bundle on the gateway over SSH"
    )
    where.add_argument(
        "--serial", metavar="DEV", help="write the bundle and the MicroPython agent to a "
        "controller (ESP32) through its raw REPL, e.g. /dev/ttyUSB0; board default esp32-rs485",
    )  # fmt: skip
    parser.add_argument("--baud", type=int, default=115200, help="--serial: REPL baud rate")
    parser.add_argument("--wifi-ssid", metavar="SSID", help="--serial: the controller's Wi-Fi")
    parser.add_argument(
        "--wifi-password-file", type=Path, metavar="FILE",
        help=f"--serial: file holding the Wi-Fi passphrase (or ${WIFI_PASSWORD_ENV})",
    )  # fmt: skip
    parser.add_argument(
        "--board", metavar="NAME", help="board profile (see --list-boards); maps rs485-1... "
        "to the gateway's serial devices",
    )  # fmt: skip
    parser.add_argument(
        "--board-path", type=Path, action="append", default=[], metavar="DIR",
        help="also look for board profiles in DIR (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, metavar="FILE",
        help="local agent config (buses, sensors) to complete the fleet's initial config",
    )  # fmt: skip
    parser.add_argument(
        "--device-serial", metavar="SN", help="the gateway's hardware serial (default: derived "
        "from its new key)",
    )  # fmt: skip
    parser.add_argument("--key-type", choices=["ec-p256", "ed25519"], default="ec-p256")
    parser.add_argument(
        "--retries", type=int, default=4, metavar="N", help="enrollment attempts before queuing"
    )
    parser.add_argument(
        "--retry-delay", type=float, default=1.0, metavar="S", help="first backoff delay (s)"
    )
    parser.add_argument(
        "--pending-dir", type=Path, default=None, metavar="DIR",
        help="queued claims (default ~/.polekit/pending-claims)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true", help="complete the claims queued while offline"
    )
    parser.add_argument("--list-boards", action="store_true", help="list the board profiles")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Provision, resume or list boards; returns the exit code."""
    root = args.pending_dir or pending.default_root()
    if args.list_boards:
        print("\n".join(describe(available_profiles(args.board_path))))
        return 0
    try:
        if args.resume:
            return _resume(root, args)
        entry = _prepare(root, args)
    except (UsageError, BundleWriteError, ProfileError) as exc:
        print(f"provision: {exc}", file=sys.stderr)
        return 2
    return int(complete(entry, attempts=args.retries, delay=args.retry_delay, say=_say))


def _resume(root: Path, args: argparse.Namespace) -> int:
    entries = pending.load_all(root)
    if not entries:
        print(f"provision: nothing to resume (no queued claims in {root})")
        return 0
    outcomes = []
    for entry in entries:
        _say(f"resuming pole {entry.claim.request.pole.pole_id} -> {entry.claim.target}")
        outcomes.append(complete(entry, attempts=args.retries, delay=args.retry_delay, say=_say))
    return int(worst(outcomes))


def _prepare(root: Path, args: argparse.Namespace) -> pending.QueuedClaim:
    """Check every option before contacting the fleet, then queue the claim with its key."""
    missing = [opt for opt in ("fleet", "claim", "pole") if not getattr(args, opt)]
    where = args.target or args.ssh or args.serial
    if missing or not where:
        names = [f"--{opt}" for opt in missing] + ([] if where else ["--target"])
        raise UsageError(
            f"missing {', '.join(names)}: polekit provision --fleet URL --claim TOKEN "
            "--pole ID --target DIR (or --ssh USER@HOST:/PATH, or --serial DEV for a "
            "MicroPython controller; --resume for queued claims)"
        )
    try:
        fleet_url = check_fleet_url(args.fleet)
        ssh = SshTarget.parse(args.ssh) if args.ssh else None
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.target is not None:
        check_target(args.target.absolute())
    if args.board is not None:
        load_profile(args.board, args.board_path)
    overlay = _overlay(args.config)
    micro = _micro(args, overlay)
    request = EnrollRequest(claim_token=args.claim, serial="", public_key="", pole=_pole(args))
    found = pending.find(root, fleet_url=fleet_url, claim_token=args.claim, pole_id=args.pole)
    key = found.key if found else generate_key(args.key_type)
    if found:
        _say(f"reusing the key of the queued claim for pole {args.pole} ({key.fingerprint})")
        request.serial = found.claim.request.serial
    request.serial = args.device_serial or request.serial or f"pk-{key.fingerprint}"
    request.public_key = key.public_pem
    claim = pending.PendingClaim(
        fleet_url=fleet_url,
        request=request,
        target_dir=str(args.target.absolute()) if args.target else None,
        target_ssh=str(ssh) if ssh else None,
        target_micro=micro,
        board=args.board,
        overlay=overlay,
    )
    return pending.queue(root, claim, key)


def _micro(args: argparse.Namespace, overlay: dict[str, Any] | None) -> MicroTarget | None:
    """With --serial: the controller target, its config and port checked before enrolling."""
    if not args.serial:
        return None
    if not args.wifi_ssid:
        raise UsageError("--serial needs --wifi-ssid SSID (the network the controller joins)")
    target = MicroTarget(
        port=args.serial,
        baud=args.baud,
        wifi_ssid=args.wifi_ssid,
        wifi_psk=wifi_password(args.wifi_password_file),
        board_path=[str(path.absolute()) for path in args.board_path],
    )
    precheck(target, board=args.board, overlay=overlay)
    return target


def _pole(args: argparse.Namespace) -> Pole:
    lat = lon = None
    if args.gps:
        try:
            lat_text, lon_text = args.gps.split(",")
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            raise UsageError(f"--gps {args.gps!r} must be LAT,LON, e.g. 30.6586,104.0648") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise UsageError(f"--gps {args.gps!r} is off the globe (latitude first)")
    return Pole(pole_id=args.pole, lat=lat, lon=lon, street=args.street, district=args.district)


def _overlay(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read --config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise UsageError(f"--config {path} must be a mapping (an agent config)")
    return raw


def _say(message: str) -> None:
    print(f"provision: {message}", flush=True)
