"""Golden case folders (drivers/<name>/cases/<case>/), the Telegraf way: data in, readings out.

A case folder holds
- expected.yaml: `readings` (channel -> {value, unit}), `requests` (Modbus requests one
  poll takes; optional) and `error` (text the poll's error must contain, when it must fail);
- registers.yaml (Modbus drivers): raw registers per table, e.g. `input: {0x0000: 0x4366}`;
- frames.yaml (serial-protocol drivers): `frames: [hex, ...]` or `text: ["$GPGGA...\\r\\n"]`,
  the bytes the device sends for one reading, garbage included to test resynchronising;
- device.yaml (optional): the device's config fragment (channel overrides, poll_slow);
- sim.yaml (optional): `fault: exception=2` (or silent, stuck) for the simulated device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from drivers.sdk.datatypes import RegisterType
from drivers.sdk.errors import ManifestError

CASES_DIR = "cases"


class ExpectedReading(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One reading a case expects."""

    value: float | int | bool | str
    unit: str = ""


class Expected(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """expected.yaml."""

    readings: dict[str, ExpectedReading] = msgspec.field(default_factory=dict)
    requests: int | None = None
    error: str | None = None


class Frames(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """frames.yaml: binary frames as hex, or text frames (NMEA) as strings with escapes."""

    frames: list[str] = msgspec.field(default_factory=list)
    text: list[str] = msgspec.field(default_factory=list)


class SimSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """sim.yaml."""

    fault: str | None = None


class Case(msgspec.Struct, frozen=True, kw_only=True):
    """A loaded case folder."""

    name: str
    folder: str
    expected: Expected
    registers: dict[RegisterType, dict[int, int]] = msgspec.field(default_factory=dict)
    frames: list[bytes] = msgspec.field(default_factory=list)
    device: dict[str, Any] = msgspec.field(default_factory=dict)
    fault: str | None = None


def _yaml(path: Path, type_: Any) -> Any:
    try:
        return msgspec.yaml.decode(path.read_bytes(), type=type_)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def load_case(folder: Path) -> Case:
    """Read one case folder; ManifestError naming the file when something is malformed."""
    if not (folder / "expected.yaml").is_file():
        raise ManifestError(f"{folder}: a case needs expected.yaml")
    registers: dict[RegisterType, dict[int, int]] = {}
    if (folder / "registers.yaml").is_file():
        registers = _yaml(folder / "registers.yaml", dict[RegisterType, dict[int, int]]) or {}
    frames: list[bytes] = []
    if (folder / "frames.yaml").is_file():
        try:
            raw = _yaml(folder / "frames.yaml", Frames)
            frames = [bytes.fromhex(text) for text in raw.frames]
            frames += [text.encode("ascii") for text in raw.text]
        except ValueError as exc:
            raise ManifestError(f"{folder / 'frames.yaml'}: not hex or ASCII: {exc}") from exc
    device: dict[str, Any] = {}
    if (folder / "device.yaml").is_file():
        device = _yaml(folder / "device.yaml", dict[str, Any]) or {}
    fault = None
    if (folder / "sim.yaml").is_file():
        fault = _yaml(folder / "sim.yaml", SimSettings).fault
    return Case(
        name=folder.name,
        folder=str(folder),
        expected=_yaml(folder / "expected.yaml", Expected),
        registers=registers,
        frames=frames,
        device=device,
        fault=fault,
    )


def case_folders(driver_folder: Path) -> list[Path]:
    """The case folders of a driver folder, sorted by name."""
    root = driver_folder / CASES_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "expected.yaml").is_file())
