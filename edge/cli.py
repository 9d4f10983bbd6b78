"""`polekit agent ...`: run the agent, check a config, export its schema, show status."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.registry import BUILTIN_ROOT, DriverLoader, DriverRegistry, load_driver
from edge.config import AgentConfig
from edge.config_file import ConfigError, json_schema, load_config, locate
from edge.devices import DeviceConfigError, check_against_drivers

if TYPE_CHECKING:
    from edge.agent import Agent


def _add_driver_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--driver-path",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="also look for driver folders in DIR (repeatable; tests and benchmarks)",
    )


def _loader(args: argparse.Namespace) -> DriverLoader:
    """The default registry, or one that also searches the --driver-path folders."""
    paths = getattr(args, "driver_path", [])
    if not paths:
        return load_driver
    return DriverRegistry(paths=(BUILTIN_ROOT, *paths)).load


def register(parser: argparse.ArgumentParser) -> None:
    """Add the agent's sub-verbs to `polekit agent`."""
    verbs = parser.add_subparsers(dest="agent_verb", metavar="ACTION", required=True)

    run = verbs.add_parser(
        "run",
        help="run the agent: poll the buses, buffer on disk, deliver to the fleet",
        description="Run the edge agent in the foreground until Ctrl-C or SIGTERM. "
        "Readings keep flowing into the on-disk buffer while the broker is unreachable.",
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="FILE", help="agent config (YAML/TOML)")
    source.add_argument(
        "--bundle",
        metavar="DIR",
        help="provisioning bundle (identity, credentials, config) written by `polekit provision`",
    )
    run.add_argument(
        "--board-path",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="also look for board profiles in DIR (repeatable)",
    )
    run.add_argument(
        "--health-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --bundle: how long a new config from the fleet must stay healthy before it "
        "is committed; otherwise the previous config comes back (default: %(default)s)",
    )
    run.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="with --bundle: where applied configs and their journal live (default: BUNDLE/state)",
    )
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    _add_driver_path(run)
    run.set_defaults(func=_run)

    check = verbs.add_parser(
        "check-config",
        help="validate a config file without running anything",
        description="Validate a config file: types, ranges, drivers and channel names. "
        "Exits 0 when valid, 1 with the field and line of the first problem otherwise.",
    )
    check.add_argument("file", metavar="FILE")
    _add_driver_path(check)
    check.set_defaults(func=_check_config)

    schema = verbs.add_parser(
        "schema",
        help="print the config's JSON Schema (for editors and the fleet)",
        description="Print the JSON Schema of the agent config document on stdout.",
    )
    schema.set_defaults(func=_schema)

    status = verbs.add_parser(
        "status",
        help="show where every reading went, buffer depth and bus state",
        description="Read the agent's buffer database and status file (works while the agent "
        "runs, and after it stopped) and print the reading accounting.",
    )
    status.add_argument("--config", required=True, metavar="FILE", help="the agent's config")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _add_driver_path(status)
    status.set_defaults(func=_status)


def _load_checked(path: str, loader: DriverLoader = load_driver) -> AgentConfig | None:
    """The validated config, or None after printing what is wrong and where."""
    try:
        config = load_config(path)
        check_against_drivers(config, loader=loader)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return None
    except DeviceConfigError as exc:  # unknown driver or channel: found after parsing
        where = ConfigError(exc.message, file=path, field=exc.field, line=locate(path, exc.field))
        print(f"config error: {where}", file=sys.stderr)
        return None
    except ValueError as exc:
        print(f"config error: {path}: {exc}", file=sys.stderr)
        return None
    return config


def _check_config(args: argparse.Namespace) -> int:
    result = _load_checked(args.file, _loader(args))
    if result is None:
        return 1
    devices = sum(len(bus.devices) for bus in result.buses)
    print(f"{args.file}: OK ({len(result.buses)} bus(es), {devices} device(s))")
    return 0


def _schema(_args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    loader = _loader(args)
    if args.bundle is not None:
        return _run_bundle(args, loader)
    result = _load_checked(args.config, loader)
    if result is None:
        return 1
    from edge.agent import Agent

    return _run_agent(Agent(config=result, loader=loader, board_paths=args.board_path))


def _run_bundle(args: argparse.Namespace, loader: DriverLoader) -> int:
    """Run with the identity and config of a provisioning bundle."""
    from edge.agent import Agent
    from edge.bundle import BundleError, read_bundle
    from edge.config_apply import ConfigChannel
    from edge.config_guard import trust_keys
    from edge.config_store import ConfigStore, checkpoint_from_env
    from edge.config_supervisor import ConfigSupervisor, run_until_signalled
    from edge.transport.mqtt import Credentials

    try:
        bundle = read_bundle(args.bundle)
    except BundleError as exc:
        print(f"bundle error: {exc}", file=sys.stderr)
        return 1
    try:
        check_against_drivers(bundle.config, loader=loader)
    except ValueError as exc:
        print(f"bundle error: {args.bundle}/{bundle.manifest.files.config}: {exc}", file=sys.stderr)
        return 1
    credentials = None
    if bundle.username is not None:
        credentials = Credentials(username=bundle.username, password=bundle.password)
    client_cert = None
    if bundle.cert_file is not None:
        client_cert = (str(bundle.cert_file), str(bundle.key_file))

    def make_agent(config: AgentConfig, channel: ConfigChannel) -> Agent:
        return Agent(
            config=config,
            credentials=credentials,
            loader=loader,
            ca_file=str(bundle.ca_file) if bundle.ca_file else None,
            client_cert=client_cert,
            board_paths=args.board_path,
            control=channel,
            alarms=channel.alarms,
        )

    signing = bundle.manifest.config_signing_public_key
    supervisor = ConfigSupervisor(
        local=bundle.config,
        store=ConfigStore(
            args.state_dir or bundle.root / "state", checkpoint=checkpoint_from_env()
        ),
        keys=trust_keys(signing.kid, signing.ed25519_b64),
        make_agent=make_agent,
        health_window=args.health_window,
    )
    from edge.agent import AgentStartError

    try:
        asyncio.run(run_until_signalled(supervisor))
    except AgentStartError as exc:
        print(f"agent cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _run_agent(agent: Agent) -> int:
    from edge.agent import AgentStartError

    try:
        asyncio.run(agent.run_until_signalled())
    except AgentStartError as exc:
        print(f"agent cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    result = _load_checked(args.config, _loader(args))
    if result is None:
        return 1
    from edge.status import format_status, read_status

    report = read_status(result)
    print(json.dumps(report, indent=2) if args.json else format_status(report))
    return 0
