"""`polekit driver ...`: list the driver catalogue and run simulators."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from drivers.registry import BUILTIN_ROOT, DriverRegistry
from drivers.sdk.errors import DriverError


def register(parser: argparse.ArgumentParser) -> None:
    """Add the driver sub-verbs to the `polekit driver` parser."""
    verbs = parser.add_subparsers(dest="driver_verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", help="list installed drivers")
    listing.add_argument("--channels", action="store_true", help="show each driver's channels")
    listing.set_defaults(func=_list)

    simulate = verbs.add_parser(
        "simulate",
        help="serve a simulated device over Modbus TCP or RTU on a pseudo-terminal",
        description="Serve NAME at each --unit (default 1); prints the TCP port or pty path.",
    )
    simulate.add_argument("name", help="driver name, e.g. eastron_sdm120")
    where = simulate.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=int, metavar="PORT", help="TCP port (0: any free port)")
    where.add_argument("--pty", action="store_true", help="RTU on a pseudo-terminal pair")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--unit", type=int, action="append", metavar="N", help="unit id")
    simulate.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="UNIT=FAULT",
        help="inject a fault: stuck, silent, exception or exception=N; e.g. 2=silent",
    )
    simulate.add_argument("--driver-path", action="append", type=Path, default=[])
    simulate.set_defaults(func=_simulate)


def _list(args: argparse.Namespace) -> int:
    registry = DriverRegistry()
    for info in registry.available():
        print(f"{info.name:20} {info.category:14} {info.vendor} {info.model} [{info.source}]")
        if args.channels:
            for channel in registry.load(info.name).channels.values():
                print(f"    {channel.name:24} {channel.unit:6} {channel.register_type}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    # Imported here: `polekit driver list` must not pay for pymodbus' server.
    from drivers.sim.runner import serve
    from drivers.sim.server import DeviceSpec

    faults = dict(item.split("=", 1) for item in args.fault if "=" in item)
    try:
        specs = []
        for unit in args.unit or [1]:
            fault = faults.get(str(unit))
            text = f"{args.name}:{unit}" + (f":{fault}" if fault else "")
            specs.append(DeviceSpec.parse(text))
        asyncio.run(
            serve(
                specs,
                tcp_port=args.tcp,
                pty=args.pty,
                host=args.host,
                driver_paths=[BUILTIN_ROOT, *args.driver_path],
            )
        )
    except DriverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
