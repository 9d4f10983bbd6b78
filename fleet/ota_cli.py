"""`polekit fleet config|rollout ...`: the config and rollout API from the command line.

Talks HTTP to a running fleet (stdlib only): --fleet URL (or $POLEKIT_FLEET_URL), and the
key from $POLEKIT_API_KEY (or $POLEKIT_ADMIN_KEY), never from argv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `config` and `rollout` to `polekit fleet`."""
    config = verbs.add_parser("config", help="config layers, explain, effective config")
    sub = config.add_subparsers(dest="config_verb", metavar="COMMAND", required=True)
    layer = _cmd(sub, "set-layer", "add a layer revision from a YAML/JSON file", _set_layer)
    layer.add_argument("--scope", choices=["fleet", "group", "device"], required=True)
    layer.add_argument("--target", default="", help="group path or device id")
    layer.add_argument("--note")
    layer.add_argument("file", type=Path, help="partial agent config (null removes a key)")
    layers = _cmd(sub, "layers", "list layer revisions", _layers)
    layers.add_argument("--scope")
    layers.add_argument("--target")
    explain = _cmd(sub, "explain", "which layer a device's key comes from", _explain)
    explain.add_argument("device")
    explain.add_argument("key", help="e.g. health.interval or buses[rs485-1].devices[meter].poll")
    effective = _cmd(sub, "effective", "the config a device would get now", _effective)
    effective.add_argument("device")

    rollout = verbs.add_parser("rollout", help="staged, health-gated config rollouts")
    sub = rollout.add_subparsers(dest="rollout_verb", metavar="COMMAND", required=True)
    preview = _cmd(sub, "preview", "what a rollout to a target would change", _preview)
    _target(preview)
    create = _cmd(sub, "create", "start a rollout of the current layers", _create)
    _target(create)
    create.add_argument("--name", required=True)
    create.add_argument("--stages", default="1,10,50,100", help="cumulative percentages")
    create.add_argument("--window", type=float, default=60.0, help="health window, seconds")
    create.add_argument("--success", type=float, default=0.95, help="success threshold")
    create.add_argument("--failure", type=float, default=0.1, help="failure threshold")
    create.add_argument("--on-failure", choices=["pause", "abort"], default="pause")
    create.add_argument("--straggler-timeout", type=float, default=600.0)
    create.add_argument("--straggler-policy", choices=["wait", "skip"], default="skip")
    create.add_argument("--no-canary-compare", action="store_true")
    _cmd(sub, "list", "recent rollouts with progress", _list)
    for verb, text in (
        ("show", "one rollout's per-stage counts"),
        ("pause", "start no further stages"),
        ("resume", "continue a paused rollout"),
        ("abort", "stop and roll every touched device back"),
    ):
        parser = _cmd(sub, verb, text, _action)
        parser.add_argument("id", type=int)
    cancel = _cmd(sub, "cancel", "take one device out of a rollout", _cancel)
    cancel.add_argument("id", type=int)
    cancel.add_argument("device")


def _cmd(sub: Any, name: str, text: str, func: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=text, description=text)
    parser.add_argument(
        "--fleet",
        default=os.environ.get("POLEKIT_FLEET_URL", "http://127.0.0.1:8080"),
        help="fleet API URL (default: $POLEKIT_FLEET_URL or %(default)s)",
    )
    parser.set_defaults(func=func)
    return parser


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", action="append", default=[], help="group subtree (repeat)")
    parser.add_argument("--tag", action="append", default=[], help="device tag (repeat)")
    parser.add_argument("--device", action="append", default=[], help="device id (repeat)")


def _target_of(args: argparse.Namespace) -> dict[str, list[str]]:
    return {"groups": args.group, "tags": args.tag, "devices": args.device}


def call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    """One API request; prints the fleet's error and exits 1 on failure."""
    key = os.environ.get("POLEKIT_API_KEY") or os.environ.get("POLEKIT_ADMIN_KEY") or ""
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's fleet
        args.fleet.rstrip("/") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            data = response.read()
    except urllib.error.HTTPError as exc:
        print(f"error {exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        print(f"cannot reach the fleet at {args.fleet}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    return json.loads(data) if data else None


def _show(value: Any) -> int:
    print(json.dumps(value, indent=2, ensure_ascii=False))
    return 0


def _set_layer(args: argparse.Namespace) -> int:
    config = yaml.safe_load(args.file.read_text(encoding="utf-8")) or {}
    body = {"scope": args.scope, "target": args.target, "config": config, "note": args.note}
    return _show(call(args, "POST", "/api/v1/configs/layers", body))


def _layers(args: argparse.Namespace) -> int:
    query = {k: v for k, v in (("scope", args.scope), ("target", args.target)) if v}
    suffix = "?" + urllib.parse.urlencode(query) if query else ""
    return _show(call(args, "GET", "/api/v1/configs/layers" + suffix))


def _explain(args: argparse.Namespace) -> int:
    query = urllib.parse.urlencode({"key": args.key})
    return _show(call(args, "GET", f"/api/v1/configs/devices/{args.device}/explain?{query}"))


def _effective(args: argparse.Namespace) -> int:
    return _show(call(args, "GET", f"/api/v1/configs/devices/{args.device}/effective"))


def _preview(args: argparse.Namespace) -> int:
    result = call(args, "POST", "/api/v1/rollouts/preview", {"target": _target_of(args)})
    print(f"{result['devices']:,} devices targeted, {result['changed']:,} would change:")
    for line in result["lines"]:
        print(f"  {line}")
    return 0


def _create(args: argparse.Namespace) -> int:
    body = {
        "name": args.name,
        "target": _target_of(args),
        "stages": [float(p) for p in args.stages.split(",")],
        "policy": {
            "health_window_s": args.window,
            "success_threshold": args.success,
            "failure_threshold": args.failure,
            "on_failure": args.on_failure,
            "straggler_timeout_s": args.straggler_timeout,
            "straggler_policy": args.straggler_policy,
            "canary_compare": not args.no_canary_compare,
        },
    }
    return _show(call(args, "POST", "/api/v1/rollouts", body))


def _list(args: argparse.Namespace) -> int:
    return _show(call(args, "GET", "/api/v1/rollouts"))


def _action(args: argparse.Namespace) -> int:
    verb = args.rollout_verb
    if verb == "show":
        return _show(call(args, "GET", f"/api/v1/rollouts/{args.id}"))
    return _show(call(args, "POST", f"/api/v1/rollouts/{args.id}/{verb}"))


def _cancel(args: argparse.Namespace) -> int:
    call(args, "POST", f"/api/v1/rollouts/{args.id}/devices/{args.device}/cancel")
    print(f"{args.device} taken out of rollout {args.id}")
    return 0
