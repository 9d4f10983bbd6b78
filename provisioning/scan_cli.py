"""`polekit scan --port DEV --baud 9600,19200 --ids 1-247 [--first]`: what is on this line?"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO

from drivers.registry import DriverRegistry
from drivers.sdk.errors import DriverError
from edge.transport.modbus import PortUnavailable
from edge.units import Duration
from provisioning.scan import Found, Progress, parse_bauds, parse_ids, scan


def register(parser: argparse.ArgumentParser) -> None:
    """Add the scan options to `polekit scan`."""
    parser.add_argument("--port", required=True, metavar="DEV", help="e.g. /dev/ttyUSB0")
    parser.add_argument(
        "--baud", default="9600", metavar="RATES", help="comma-separated, e.g. 9600,19200"
    )
    parser.add_argument("--ids", default="1-247", metavar="IDS", help="e.g. 1-247 or 1,2,10-20")
    parser.add_argument("--parity", default="N", choices=["N", "E", "O"])
    parser.add_argument("--stopbits", type=int, default=1, choices=[1, 2])
    parser.add_argument(
        "--timeout", default="100ms", help="wait per unit id (default 100ms; slow lines: 300ms)"
    )
    parser.add_argument("--first", action="store_true", help="stop at the first device found")
    parser.add_argument(
        "--no-fingerprint", action="store_true", help="do not match devices to the catalogue"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)


class _ProgressLine:
    """Progress on stderr: one rewritten line on a terminal, a line per baud otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._baud: int | None = None

    def __call__(self, progress: Progress) -> None:
        text = (
            f"scanning {progress.baud} baud: id {progress.unit} "
            f"({progress.done}/{progress.total}), {progress.found} found"
        )
        if self._tty:
            self._stream.write("\r" + text.ljust(60))
        elif progress.baud != self._baud:
            self._stream.write(f"scanning at {progress.baud} baud ...\n")
        self._baud = progress.baud
        self._stream.flush()

    def found(self, hit: Found) -> None:
        best = hit.candidates[0].driver if hit.candidates else "unknown"
        prefix = "\r" if self._tty else ""
        self._stream.write(f"{prefix}found id {hit.unit} at {hit.baud} baud: {best}\n".ljust(60))
        self._stream.flush()

    def done(self) -> None:
        if self._tty:
            self._stream.write("\n")


def _run(args: argparse.Namespace) -> int:
    try:
        bauds, ids = parse_bauds(args.baud), parse_ids(args.ids)
        timeout = float(Duration.parse(args.timeout))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    registry = DriverRegistry()
    drivers = [] if args.no_fingerprint else [registry.load(i.name) for i in registry.available()]
    progress = _ProgressLine(sys.stderr)
    try:
        found = asyncio.run(
            scan(
                port=args.port,
                bauds=bauds,
                ids=ids,
                drivers=drivers,
                parity=args.parity,
                stopbits=args.stopbits,
                wait=timeout,
                first=args.first,
                on_progress=progress,
                on_found=progress.found,
            )
        )
    except (PortUnavailable, DriverError) as exc:
        progress.done()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    progress.done()
    if args.json:
        print(json.dumps([_as_json(hit) for hit in found], indent=2))
    else:
        _print_table(found)
    return 0 if found else 1


def _as_json(hit: Found) -> dict[str, object]:
    return {
        "baud": hit.baud,
        "unit": hit.unit,
        "answer": hit.answer,
        "candidates": [
            {"driver": c.driver, "score": c.score, "plausible": c.plausible, "ranged": c.ranged}
            for c in hit.candidates
        ],
    }


def _print_table(found: list[Found]) -> None:
    if not found:
        print("no devices answered")
        return
    print(f"{'baud':>6}  {'id':>3}  {'answer':26}  likely driver (score)")
    for hit in found:
        guesses = ", ".join(f"{c.driver} ({c.score:.2f})" for c in hit.candidates[:3])
        print(f"{hit.baud:>6}  {hit.unit:>3}  {hit.answer:26}  {guesses or 'no catalogue match'}")
