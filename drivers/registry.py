"""Driver discovery: built-in folders under drivers/, extra folders, and entry points.

Nothing registers itself on import: a built-in is a folder holding driver.yaml, a
third-party driver is an entry point in the `polekit.drivers` group whose value is either
a module or package (its folder holds driver.yaml) or `module:attr` naming a Driver, a
Manifest, or a zero-argument callable returning a Driver.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.sdk.driver import Driver, DriverInfo, ProtocolFactory
from drivers.sdk.errors import ManifestError, UnknownDriverError
from drivers.sdk.manifest import Manifest, load_manifest
from drivers.sdk.serial import SerialProtocol

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "polekit.drivers"
BUILTIN_ROOT = Path(__file__).resolve().parent
MANIFEST_FILE = "driver.yaml"

log = logging.getLogger(__name__)


class DriverRegistry:
    """Finds drivers by name and loads each one once."""

    def __init__(
        self, *, paths: Sequence[Path] = (BUILTIN_ROOT,), use_entry_points: bool = True
    ) -> None:
        self._paths = tuple(Path(p) for p in paths)
        self._use_entry_points = use_entry_points
        self._cache: dict[str, Driver] = {}

    def _folders(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for root in self._paths:
            if not root.is_dir():
                continue
            for child in sorted(root.iterdir()):
                if (child / MANIFEST_FILE).is_file():
                    found.setdefault(child.name, child)
        return found

    def _entry_points(self) -> dict[str, EntryPoint]:
        if not self._use_entry_points:
            return {}
        # Imported on demand: a gateway with built-in drivers only never pays ~1 MB for it.
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}

    def names(self) -> list[str]:
        """Every installed driver name, sorted."""
        return sorted(set(self._folders()) | set(self._entry_points()))

    def load(self, name: str) -> Driver:
        """The driver called name; UnknownDriverError listing the installed ones otherwise."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        folder = self._folders().get(name)
        if folder is not None:
            builtin = folder.parent == BUILTIN_ROOT
            source = "builtin" if builtin else f"path {folder.parent}"
            package = f"drivers.{folder.name}" if builtin else None
            driver = _from_folder(folder, source=source, package=package)
        else:
            ep = self._entry_points().get(name)
            if ep is None:
                raise UnknownDriverError(
                    f"unknown driver {name!r}; installed: {', '.join(self.names()) or 'none'}"
                )
            driver = _from_entry_point(ep)
        if driver.name != name:
            raise ManifestError(f"driver {name!r} declares a different name {driver.name!r}")
        self._cache[name] = driver
        return driver

    def available(self) -> list[DriverInfo]:
        """Catalogue entries of every installed driver that loads."""
        infos = []
        for name in self.names():
            try:
                infos.append(self.load(name).info)
            except ManifestError as exc:
                log.warning("driver %s is broken and left out: %s", name, exc)
        return infos


def _from_folder(folder: Path, *, source: str, package: str | None) -> Driver:
    manifest = load_manifest(folder / MANIFEST_FILE)
    protocol = None
    if manifest.protocol is not None:
        protocol = _protocol_class(folder, manifest.protocol, package=package, source=source)
    return Driver.from_manifest(manifest, source=source, path=folder, protocol=protocol)


def _protocol_class(folder: Path, ref: str, *, package: str | None, source: str) -> ProtocolFactory:
    """The SerialProtocol subclass `module:Class` names, from the driver's own folder.

    A driver in an importable package is imported by its dotted name; a loose folder
    (--driver-path, a scaffold) is loaded from its file under a private module name.
    """
    module_name, _, attr = ref.partition(":")
    try:
        if package is not None:
            module = importlib.import_module(f"{package}.{module_name}")
        else:
            file = folder / f"{module_name}.py"
            private = f"polekit_driver_{folder.name}_{module_name}"
            spec = importlib.util.spec_from_file_location(private, file)
            if spec is None or spec.loader is None or not file.is_file():
                raise ManifestError(f"{source}: protocol module {file} does not exist")
            module = importlib.util.module_from_spec(spec)
            sys.modules[private] = module
            spec.loader.exec_module(module)
    except ImportError as exc:
        raise ManifestError(
            f"{source}: cannot import protocol module {module_name}: {exc}"
        ) from exc
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, SerialProtocol)):
        raise ManifestError(f"{source}: {ref} is not a SerialProtocol subclass")
    return cls


def _from_entry_point(ep: EntryPoint) -> Driver:
    source = f"entry point {ep.name} ({ep.value})"
    if ":" not in ep.value:
        spec = importlib.util.find_spec(ep.value)
        if spec is None:
            raise ManifestError(f"{source}: module {ep.value} is not installed")
        locations = list(spec.submodule_search_locations or [])
        folder = Path(locations[0]) if locations else Path(spec.origin or ".").parent
        package = ep.value if locations else ep.value.rpartition(".")[0] or None
        return _from_folder(folder, source=source, package=package)
    obj = ep.load()
    if isinstance(obj, Driver):
        return obj
    if isinstance(obj, Manifest):
        return Driver.from_manifest(obj, source=source)
    if callable(obj):
        made = obj()
        if isinstance(made, Driver):
            return made
    raise ManifestError(f"{source}: expected a Driver, a Manifest or a factory of a Driver")


@functools.cache
def default_registry() -> DriverRegistry:
    """The registry of built-ins and installed entry points, created on first use."""
    return DriverRegistry()


def load_driver(name: str) -> Driver:
    """Load a driver from the default registry (cached)."""
    return default_registry().load(name)


def available_drivers() -> list[DriverInfo]:
    """Catalogue of the default registry."""
    return default_registry().available()


DriverLoader = Callable[[str], Driver]
"""What edge/devices.py needs from a registry: a name-to-driver function."""
