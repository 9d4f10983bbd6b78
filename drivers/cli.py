"""`polekit driver ...`: list the catalogue, scaffold a driver, test it, run simulators."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from drivers.registry import BUILTIN_ROOT, DriverRegistry
from drivers.sdk.errors import DriverError


def register(parser: argparse.ArgumentParser) -> None:
    """Add the driver sub-verbs to the `polekit driver` parser."""
    verbs = parser.add_subparsers(dest="driver_verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", help="list built-in and third-party drivers")
    listing.add_argument("--channels", action="store_true", help="show each driver's channels")
    listing.add_argument("--driver-path", action="append", type=Path, default=[])
    listing.set_defaults(func=_list)

    new = verbs.add_parser(
        "new",
        help="scaffold a driver folder (manifest, golden case, protocol class for serial)",
        description="Create NAME/ in --into (default: the current directory).",
    )
    new.add_argument("name", help="driver name, e.g. acme_th20")
    kind = new.add_mutually_exclusive_group(required=True)
    kind.add_argument("--modbus", action="store_true", help="a Modbus register map (no Python)")
    kind.add_argument("--serial", action="store_true", help="a serial protocol (one class)")
    new.add_argument("--into", type=Path, default=Path(), metavar="DIR")
    new.set_defaults(func=_new)

    test = verbs.add_parser(
        "test",
        help="run a driver's golden cases against its simulator",
        description="PATH is a driver folder, or the name of an installed driver.",
    )
    test.add_argument("path", metavar="PATH")
    test.add_argument("--transport", choices=["tcp", "rtu", "serial"], help="only this transport")
    test.set_defaults(func=_test)

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
    registry = DriverRegistry(paths=(BUILTIN_ROOT, *args.driver_path))
    for info in registry.available():
        origin = "built-in" if info.source == "builtin" else f"third-party: {info.source}"
        buses = ",".join(info.buses)
        print(f"{info.name:20} {info.category:14} {buses:22} {info.vendor} {info.model} [{origin}]")
        if args.channels:
            driver = registry.load(info.name)
            for channel in driver.channels.values():
                where = (
                    "frame" if driver.is_serial else f"{channel.register_type} {channel.address}"
                )
                print(f"    {channel.name:24} {channel.unit:6} {where} {channel.poll}")
    return 0


def _new(args: argparse.Namespace) -> int:
    from drivers.scaffold import scaffold

    try:
        folder = scaffold(args.name, into=args.into, serial=args.serial)
    except DriverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {folder}; edit driver.yaml, then: polekit driver test {folder}")
    return 0


def _test(args: argparse.Namespace) -> int:
    # Imported here: the runner polls through the agent's scheduler and transports.
    from drivers.sdk.cases import case_folders, load_case
    from edge.case_runner import run_cases_sync, transports_for

    folder = Path(args.path)
    try:
        if (folder / "driver.yaml").is_file():
            registry = DriverRegistry(paths=(folder.resolve().parent, BUILTIN_ROOT))
            driver = registry.load(folder.resolve().name)
        else:
            registry = DriverRegistry()
            driver = registry.load(args.path)
            folder = driver.path or folder
        cases = [load_case(path) for path in case_folders(folder)]
    except DriverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not cases:
        print(f"error: {folder} has no cases/ (see drivers/README.md)", file=sys.stderr)
        return 2
    if args.transport and args.transport not in transports_for(driver):
        print(f"error: {driver.name} is not served over {args.transport}", file=sys.stderr)
        return 2
    # a failing case is reported below; the scheduler's "device is failing" log is noise here
    logging.getLogger("edge.scheduler").setLevel(logging.ERROR)
    results = run_cases_sync(driver, cases, loader=registry.load)
    failed = 0
    for result in results:
        if args.transport and result.transport != args.transport:
            continue
        print(f"{'ok  ' if result.ok else 'FAIL'} {driver.name}/{result.case} [{result.transport}]")
        for problem in result.problems:
            print(f"       {problem}")
        failed += not result.ok
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


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
