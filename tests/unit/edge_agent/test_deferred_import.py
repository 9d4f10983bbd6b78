"""edge.deferred_import: a deferred module runs once, on first use, and then is a plain module."""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.deferred_import import defer


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    """A fresh importable package `deferpkg_<id>`; removed from sys.modules afterwards."""
    name = f"deferpkg_{id(tmp_path)}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("RUNS = []\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield root
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m.split(".")[0] == name]:
            del sys.modules[module]


def _write(package: Path, module: str, body: str) -> str:
    (package / f"{module}.py").write_text(
        f"import {package.name}\n{package.name}.RUNS.append({module!r})\n{body}"
    )
    return f"{package.name}.{module}"


def test_runs_on_first_attribute_not_on_import(package: Path) -> None:
    name = _write(package, "heavy", "VALUE = 42\ndef double(x):\n    return 2 * x\n")
    parent = __import__(package.name)
    defer(name)
    imported = importlib.import_module(name)  # what `import a.b` does
    assert parent.RUNS == []
    assert imported.double(imported.VALUE) == 84
    assert parent.RUNS == ["heavy"]
    assert type(imported) is types.ModuleType
    assert parent.heavy is imported is sys.modules[name]
    assert imported.VALUE == 42
    assert parent.RUNS == ["heavy"]


def test_from_import_and_missing_attributes(package: Path) -> None:
    name = _write(package, "things", "THING = 'x'\n")
    defer(name)
    namespace: dict[str, object] = {}
    exec(f"from {name} import THING", namespace)
    assert namespace["THING"] == "x"
    with pytest.raises(AttributeError):
        _ = sys.modules[name].nothing_here


def test_a_failing_module_raises_and_leaves_nothing_behind(package: Path) -> None:
    name = _write(package, "broken", "raise RuntimeError('no')\n")
    defer(name)
    with pytest.raises(RuntimeError, match="no"):
        _ = sys.modules[name].anything
    assert name not in sys.modules


def test_other_threads_wait_for_the_module_to_finish(package: Path) -> None:
    flag = f"{package.name}_started"
    name = _write(
        package,
        "slow",
        f"import sys, time\nsys.modules['builtins'].{flag}.set()\ntime.sleep(0.2)\nDONE = True\n",
    )
    started = threading.Event()
    setattr(sys.modules["builtins"], flag, started)
    defer(name)
    module = sys.modules[name]
    seen: list[object] = []
    first = threading.Thread(target=lambda: seen.append(module.DONE))
    try:
        first.start()
        assert started.wait(5)
        seen.append(module.DONE)  # while `first` still runs the module
        first.join(5)
    finally:
        delattr(sys.modules["builtins"], flag)
    assert seen == [True, True]


def test_imported_modules_are_left_alone() -> None:
    before = sys.modules["json"]
    defer("json")
    defer("no_such_module_anywhere")
    assert sys.modules["json"] is before
    assert "no_such_module_anywhere" not in sys.modules
