"""`polekit micro ...`: compile drivers for the micro agent and install it on a board."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    """Add the micro sub-verbs to the `polekit micro` parser."""
    verbs = parser.add_subparsers(dest="micro_verb", metavar="VERB", required=True)
    compile_ = verbs.add_parser(
        "compile-driver", help="compile a driver's register map into NAME.pkd for the board"
    )
    compile_.add_argument("name", help="driver name, e.g. rs485_env")
    compile_.add_argument("--out", type=Path, default=Path("."), help="folder (default: .)")
    compile_.set_defaults(func=_compile)

    install = verbs.add_parser(
        "install", help="write a bundle (and the agent) to a MicroPython board over its REPL"
    )
    install.add_argument("--serial", required=True, metavar="DEV", help="e.g. /dev/ttyUSB0")
    install.add_argument("--bundle", required=True, type=Path, metavar="DIR")
    install.add_argument("--agent", action="store_true", help="also write the agent sources")
    install.add_argument("--baud", type=int, default=115200)
    install.add_argument("--soft-reset", action="store_true", help="soft reset when done")
    install.set_defaults(func=_install)


def _compile(args: argparse.Namespace) -> int:
    from drivers.registry import load_driver
    from drivers.sdk.errors import DriverError
    from edge.micro_compile import write_compiled

    try:
        path = write_compiled(load_driver(args.name), args.out)
    except (DriverError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _install(args: argparse.Namespace) -> int:
    import serial

    from provisioning.micro_install import BundleError, install
    from provisioning.raw_repl import RawRepl, RawReplError

    try:
        with (
            serial.Serial(args.serial, args.baud, timeout=0.2) as port,
            RawRepl(port) as repl,
        ):
            written = install(repl, args.bundle, agent=args.agent)
            if args.soft_reset:
                repl.enter(soft_reset=True)
    except (BundleError, RawReplError, serial.SerialException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, size in written:
        print(f"{size:8d}  {path}")
    print(f"installed {len(written)} files on {args.serial}")
    return 0
