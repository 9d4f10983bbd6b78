"""The MicroPython sources compile with mpy-cross and type-check against MicroPython's stubs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import files
from pathlib import Path

import pytest

from tests.unit.micro.wasm import REPO

MICRO_SOURCES = sorted([*REPO.glob("edge/micro/*.py"), *REPO.glob("protocol/core/*.py")])


@pytest.mark.parametrize("source", MICRO_SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_compiles_with_mpy_cross(source: Path, tmp_path: Path) -> None:
    out = tmp_path / source.with_suffix(".mpy").name
    result = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-march=xtensawin", "-o", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:2] == b"M\x06"  # .mpy format version 6


def _esp32_stubs(target: Path) -> Path:
    """Copy the ESP32 port stubs to a folder mypy accepts on its path (not site-packages)."""
    for entry in files("micropython-esp32-stubs") or []:
        if entry.suffix == ".pyi":
            destination = target / Path(str(entry))
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(entry.locate(), destination)
    return target


def test_type_checks_against_micropython_stubs(tmp_path: Path) -> None:
    stubs = _esp32_stubs(tmp_path / "stubs")
    assert (stubs / "machine.pyi").is_file()
    # micropython-stdlib-stubs installs a typeshed-shaped `stdlib/` into site-packages.
    typeshed = Path(sysconfig.get_paths()["purelib"])
    assert (typeshed / "stdlib" / "VERSIONS").is_file()
    result = subprocess.run(
        [
            sys.executable, "-m", "mypy",
            "--config-file", "edge/micro/mypy.ini",
            "--custom-typeshed-dir", str(typeshed),
            "--cache-dir", str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in" in result.stdout
