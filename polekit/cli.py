"""The `polekit` command: one verb per area, each area's CLI imported only when used.

Lazy import keeps `polekit agent ...` on a gateway free of Litestar and SQLAlchemy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# verb -> (module that owns it, one-line help). The module exposes
# `register(parser: argparse.ArgumentParser) -> None`; the parser's `func` default runs the verb.
AREAS: dict[str, tuple[str, str]] = {
    "agent": ("edge.cli", "run and inspect the edge agent on a gateway"),
    "fleet": ("fleet.cli", "run the fleet service (API + MQTT bridge)"),
    "driver": ("drivers.cli", "list, test and simulate sensor drivers"),
    "micro": ("provisioning.micro_cli", "compile drivers for and install the MicroPython agent"),
    "demo": ("polekit.demo", "run a broker, the fleet and simulated poles on this machine"),
    "scan": ("provisioning.scan_cli", "find the Modbus devices on an RS-485 line"),
    "probe": ("provisioning.probe_cli", "read every channel of one device once"),
    "provision": ("provisioning.cli", "turn an anonymous gateway into a trusted fleet device"),
    "verify": ("provisioning.verify_cli", "check a provisioned gateway end to end"),
    "sim": ("fleet.sim.cli", "simulated gateways at scale; rehearse a rollout policy"),
}


def build_parser(verb: str | None) -> argparse.ArgumentParser:
    """The top-level parser; only the chosen verb's module is imported."""
    parser = argparse.ArgumentParser(
        prog="polekit",
        description="polekit: smart-pole edge agent and fleet service. "
        "Run `polekit VERB --help` for the options of each verb.",
    )
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name, (module_name, help_text) in AREAS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == verb:
            importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    verb = next((arg for arg in args_list if not arg.startswith("-")), None)
    parser = build_parser(verb if verb in AREAS else None)
    args = parser.parse_args(args_list)
    func = getattr(args, "func", None)
    if func is None:
        parser.parse_args([*args_list, "--help"])
        return 2
    try:
        result = func(args)
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
