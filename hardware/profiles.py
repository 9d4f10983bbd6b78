"""Board profiles: which OS device and RS-485 direction line each logical port of a board has.

A profile is a declarative YAML file in `hardware/boards/` (or a folder given with a search
path). One agent config names logical ports (`rs485-1`); the board it runs on turns them into
OS devices, so the same config runs on a Raspberry Pi HAT, a 4-port gateway or an ESP32.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import yaml
from msgspec import Meta

BUILTIN_BOARDS = Path(__file__).resolve().parent / "boards"
ProfileName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Gpio = Annotated[int, Meta(ge=0, le=255)]


class ProfileError(Exception):
    """A board profile is unknown or invalid; the message says which and what exists."""


class Direction(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """How the RS-485 transceiver switches between sending and receiving."""

    mode: Literal["auto", "kernel", "gpio"]
    """auto: the transceiver does it; kernel: TIOCSRS485 drives `gpio`; gpio: the master does."""
    gpio: Gpio | None = None
    active_high: bool = True

    def __post_init__(self) -> None:
        if self.mode != "auto" and self.gpio is None:
            raise ValueError(f"direction mode {self.mode} needs the gpio of the DE line")


class UartPins(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """TX/RX pins of a microcontroller UART."""

    tx: Gpio
    rx: Gpio


class PortSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One logical port of a board."""

    name: ProfileName
    device: str
    """OS device (/dev/ttySC0) or, on a microcontroller, the UART (uart2)."""
    kind: Literal["rs485", "uart"] = "rs485"
    direction: Direction = msgspec.field(default_factory=lambda: Direction(mode="auto"))
    pins: UartPins | None = None


class Relay(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A relay output the board switches through a GPIO."""

    name: ProfileName
    gpio: Gpio


class Storage(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Where the bundle and the agent's data live on this board."""

    bundle: str
    data: str


class BoardProfile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A gateway model: its ports, relays, watchdog and storage."""

    name: ProfileName
    description: str
    runtime: Literal["linux", "micropython"]
    ports: tuple[PortSpec, ...]
    aliases: tuple[ProfileName, ...] = ()
    relays: tuple[Relay, ...] = ()
    watchdog: str | None = None
    storage: Storage | None = None

    def __post_init__(self) -> None:
        names = [port.name for port in self.ports]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"port names must be unique; repeated: {repeated}")

    def port(self, name: str) -> PortSpec:
        """The port called `name`; ProfileError naming the ports the board has otherwise."""
        for port in self.ports:
            if port.name == name:
                return port
        raise ProfileError(
            f"board {self.name} has no port {name!r}; its ports are "
            f"{', '.join(p.name for p in self.ports)}: rename the bus or choose another board"
        )


def load_profile_file(path: Path) -> BoardProfile:
    """Read and validate one profile file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"cannot read board profile {path}: {exc}") from exc
    try:
        return msgspec.convert(raw, BoardProfile)
    except msgspec.ValidationError as exc:
        raise ProfileError(f"board profile {path}: {exc}") from exc


def available_profiles(search: Sequence[Path] = ()) -> dict[str, BoardProfile]:
    """Every profile by name and alias; folders later in `search` win over the built-ins."""
    found: dict[str, BoardProfile] = {}
    for folder in (BUILTIN_BOARDS, *search):
        for path in sorted(Path(folder).glob("*.yaml")):
            profile = load_profile_file(path)
            for name in (profile.name, *profile.aliases):
                found[name] = profile
    return found


def load_profile(name: str, search: Sequence[Path] = ()) -> BoardProfile:
    """The profile called `name` (or an alias); ProfileError listing the known boards."""
    profiles = available_profiles(search)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ProfileError(
            f"unknown board {name!r}; known boards: {known} "
            "(add a profile file to hardware/boards/ or pass --board-path DIR)"
        )
    return profiles[name]


def resolve_ports(profile: BoardProfile, bus_names: Iterable[str]) -> dict[str, str]:
    """Map each logical bus name to the board's OS device (ProfileError for an unknown one)."""
    return {name: profile.port(name).device for name in bus_names}


def describe(profiles: Mapping[str, BoardProfile]) -> list[str]:
    """One line per distinct profile, for `--help` and error messages."""
    seen = {profile.name: profile for profile in profiles.values()}
    return [f"{name}: {seen[name].description}" for name in sorted(seen)]
