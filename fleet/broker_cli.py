"""`polekit fleet broker-init`: write the broker's first dynamic-security.json.

It holds the fleet's two broker accounts: `polekit-admin` (manages device accounts over
$CONTROL/dynamic-security/v1) and `polekit-fleet` (the bridge: reads every device topic,
publishes acks, desired configs and command requests). Default access denies everything.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

from fleet.bridge.dynsec_acl import initial_config


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `broker-init` to `polekit fleet`."""
    parser = verbs.add_parser(
        "broker-init",
        help="write a Mosquitto dynamic-security.json with the fleet's accounts",
        description="Write the initial dynamic-security.json for Mosquitto's dynamic-security "
        "plugin. Passwords come from $POLEKIT_BROKER_ADMIN_PASSWORD and "
        "$POLEKIT_BROKER_FLEET_PASSWORD, or are generated and printed once (the file keeps "
        "only salted hashes).",
    )
    parser.add_argument("--out", type=Path, required=True, help="the file to create")
    parser.add_argument("--admin-user", default="polekit-admin", help="(default: %(default)s)")
    parser.add_argument("--fleet-user", default="polekit-fleet", help="(default: %(default)s)")
    parser.set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    if args.out.exists():
        print(f"error: {args.out} exists; the broker owns it now (edit it with mosquitto_ctrl)",
              file=sys.stderr)  # fmt: skip
        return 2
    admin_pw = os.environ.get("POLEKIT_BROKER_ADMIN_PASSWORD") or secrets.token_urlsafe(24)
    fleet_pw = os.environ.get("POLEKIT_BROKER_FLEET_PASSWORD") or secrets.token_urlsafe(24)
    document = initial_config(admin=(args.admin_user, admin_pw), fleet=(args.fleet_user, fleet_pw))
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(document, out, indent=2)
    print(f"wrote {args.out}; give it to mosquitto with plugin_opt_config_file")
    if "POLEKIT_BROKER_ADMIN_PASSWORD" not in os.environ:
        print(f"--broker-admin mqtt://{args.admin_user}:{admin_pw}@BROKER:1883")
    if "POLEKIT_BROKER_FLEET_PASSWORD" not in os.environ:
        print(f"--mqtt         mqtt://{args.fleet_user}:{fleet_pw}@BROKER:1883")
    return 0
