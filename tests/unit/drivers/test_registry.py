"""Driver discovery: folders by name, extra paths, entry points; never import side effects."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from drivers.registry import BUILTIN_ROOT, DriverRegistry, available_drivers, load_driver
from drivers.sdk.errors import ManifestError, UnknownDriverError

MINIMAL = (
    "name: {name}\nvendor: Acme\nmodel: X1\ncategory: test\n"
    "channels:\n  - {{name: level, address: 0}}\n"
)


def write_driver(root: Path, name: str, declared: str | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "driver.yaml").write_text(MINIMAL.format(name=declared or name))
    return folder


def test_builtins_are_found_by_folder() -> None:
    names = [info.name for info in available_drivers()]
    assert {"eastron_sdm120", "rs485_env"} <= set(names)
    assert load_driver("rs485_env") is load_driver("rs485_env")  # cached


def test_unknown_driver_lists_installed() -> None:
    with pytest.raises(UnknownDriverError, match=r"installed: .*rs485_env"):
        DriverRegistry().load("no_such_meter")


def test_extra_path(tmp_path: Path) -> None:
    write_driver(tmp_path, "acme_x1")
    registry = DriverRegistry(paths=(BUILTIN_ROOT, tmp_path), use_entry_points=False)
    driver = registry.load("acme_x1")
    assert driver.info.source == f"path {tmp_path}"
    assert driver.path == tmp_path / "acme_x1"


def test_folder_and_declared_name_must_agree(tmp_path: Path) -> None:
    write_driver(tmp_path, "acme_x1", declared="acme_x2")
    registry = DriverRegistry(paths=(tmp_path,), use_entry_points=False)
    with pytest.raises(ManifestError, match="different name"):
        registry.load("acme_x1")


def test_broken_driver_is_left_out_of_the_catalogue(tmp_path: Path) -> None:
    folder = write_driver(tmp_path, "acme_bad")
    (folder / "driver.yaml").write_text("name: acme_bad\n")
    write_driver(tmp_path, "acme_ok")
    registry = DriverRegistry(paths=(tmp_path,), use_entry_points=False)
    assert [info.name for info in registry.available()] == ["acme_ok"]


def test_entry_point_module_with_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a real installed distribution as importlib.metadata sees one: dist-info + package
    package = write_driver(tmp_path, "acme_pkg")
    (package / "__init__.py").write_text("")
    dist = tmp_path / "acme_drivers-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-drivers\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[polekit.drivers]\nacme_pkg = acme_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = DriverRegistry(paths=())
    assert "acme_pkg" in registry.names()
    driver = registry.load("acme_pkg")
    assert driver.info.source == "entry point acme_pkg (acme_pkg)"
    assert "acme_pkg" not in sys.modules  # found through its spec, not imported
