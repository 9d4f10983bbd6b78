"""`python -m drivers.sim --tcp 0 --device eastron_sdm120:1 --device rs485_env:2`.

Prints {"tcp_host": ..., "tcp_port": N, "units": [...]} (or {"pty": PATH, ...}) on one
stdout line once serving, then serves until SIGTERM. Benchmarks start it as a separate
process so the simulator's CPU is not counted against the agent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from drivers.sdk.errors import DriverError
from drivers.sim.runner import serve
from drivers.sim.server import DeviceSpec


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m drivers.sim", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve Modbus TCP (0: any port)")
    where.add_argument(
        "--pty", action="store_true", help="serve Modbus RTU (and serial protocols) on a pty"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--device",
        action="append",
        required=True,
        metavar="NAME:UNIT[:OPTION...]",
        help="a device to host (repeatable); OPTION is a fault (stuck, silent, exception[=N]), "
        "baud=N (the only rate it answers at on a pty) or period=S (serial stream interval)",
    )
    parser.add_argument("--driver-path", action="append", type=Path, default=[])
    args = parser.parse_args(argv)
    try:
        specs = [DeviceSpec.parse(text) for text in args.device]
        asyncio.run(
            serve(
                specs,
                tcp_port=args.tcp,
                pty=args.pty,
                host=args.host,
                driver_paths=args.driver_path,
            )
        )
    except DriverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
