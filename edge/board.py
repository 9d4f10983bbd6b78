"""Resolve the config's logical serial ports through its board profile (hardware/)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edge.config import AgentConfig
from hardware.profiles import ProfileError, load_profile, resolve_ports


def board_ports(config: AgentConfig, *, search: Sequence[Path] = ()) -> dict[str, str]:
    """OS device per RTU bus that names no port itself; empty when the config names no board.

    A port written in the config wins over the board's, so a USB dongle can stand in for a
    HAT. Raises ProfileError (unknown board, bus name the board lacks) with what to change.
    """
    unresolved = [
        bus.name
        for bus in config.buses
        if bus.modbus_rtu is not None and bus.modbus_rtu.port is None
    ]
    if config.board is None or not unresolved:
        return {}
    profile = load_profile(config.board, search)
    try:
        return resolve_ports(profile, unresolved)
    except ProfileError as exc:
        raise ProfileError(f"config board {config.board}: {exc}") from exc
