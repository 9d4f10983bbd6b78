"""Write a micro agent bundle (and optionally the agent itself) to a MicroPython board.

The board layout: /polekit/bundle.json + /polekit/drivers/*.pkd (the bundle),
/lib/protocol/core/*.py + /lib/edge/micro/*.py (the agent; parent packages get empty
__init__.py files so nothing CPython-only is imported) and /main.py, which starts it.
`install` is what `polekit micro install` calls; `polekit provision --serial` builds the
files in memory (provisioning/micro_bundle.py) and calls `remote_files` + `write_files`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from protocol.core.ids import is_valid_device_id
from provisioning.raw_repl import RawRepl

REPO = Path(__file__).resolve().parent.parent
BUNDLE_ROOT = "/polekit"
MAIN_PY = b'"""Start the polekit micro agent (written by polekit micro install)."""\n' + (
    b"from edge.micro.board import run\n\nrun()\n"
)
_REQUIRED = ("device_id", "wifi", "mqtt", "bus", "config")


class BundleError(ValueError):
    """A bundle directory that must not be written to a board."""


def bundle_files(bundle: Path) -> dict[str, bytes]:
    """Remote path -> bytes for a bundle directory, checked before anything is written."""
    files = {
        path.relative_to(bundle).as_posix(): path.read_bytes()
        for path in sorted(bundle.rglob("*"))
        if path.is_file()
    }
    return remote_files(files, str(bundle))


def remote_files(files: Mapping[str, bytes], where: str = "bundle") -> dict[str, bytes]:
    """Remote path -> bytes for bundle files (relative names); BundleError if incomplete."""
    try:
        settings = json.loads(files["bundle.json"])
    except (KeyError, ValueError) as exc:
        raise BundleError(f"{where}/bundle.json: {exc!r}") from None
    missing = [key for key in _REQUIRED if key not in settings]
    if missing:
        raise BundleError(f"{where}/bundle.json: missing {', '.join(missing)}")
    if not is_valid_device_id(settings["device_id"]):
        raise BundleError(f"{where}/bundle.json: device_id must match [a-z0-9-]{{1,64}}")
    drivers = {spec.get("driver") for spec in settings["config"].get("devices", [])}
    absent = sorted(d for d in drivers if f"drivers/{d}.pkd" not in files)
    if absent:
        raise BundleError(f"{where}: no compiled driver for {', '.join(absent)}")
    last = sorted(files, key=lambda name: name == "bundle.json")  # the manifest comes last
    return {f"{BUNDLE_ROOT}/{name}": files[name] for name in last}


def agent_files() -> dict[str, bytes]:
    """Remote path -> bytes of the agent's sources."""
    files = {"/lib/protocol/__init__.py": b"", "/lib/edge/__init__.py": b""}
    for package in ("protocol/core", "edge/micro"):
        for source in sorted((REPO / package).glob("*.py")):
            files[f"/lib/{package}/{source.name}"] = source.read_bytes()
    files["/main.py"] = MAIN_PY
    return files


def install(repl: RawRepl, bundle: Path, *, agent: bool = False) -> list[tuple[str, int]]:
    """Write the bundle (and the agent) through a raw REPL; returns (path, size) written."""
    return write_files(repl, bundle_files(bundle), agent=agent)


def write_files(
    repl: RawRepl, files: Mapping[str, bytes], *, agent: bool = False
) -> list[tuple[str, int]]:
    """Write checked remote files (and the agent first), each atomically; (path, size) written."""
    if agent:
        files = {**agent_files(), **files}
    folders = sorted({path.rsplit("/", 1)[0] for path in files} - {""})
    for folder in folders:
        repl.mkdirs(folder)
    written = []
    for path, data in files.items():
        repl.put_file(path, data)
        written.append((path, len(data)))
    return written
