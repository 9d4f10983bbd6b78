"""Modules that third-party code imports at its top but rarely uses, run on first use instead.

`defer("urllib.request")` puts a placeholder module in sys.modules: `import urllib.request`
binds it as usual, and the module's code runs when an attribute it does not have yet is
first looked up (`urllib.request.getproxies`, `from urllib.request import Request`). Until
then the module and what it imports cost no memory. The agent defers what paho imports but
uses only for features the agent does not need (see edge/transport/mqtt.py).

importlib.util.LazyLoader cannot do this on Python 3.11: the next `import` statement of the
module reads its __spec__, and that alone makes LazyLoader run the module.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_running = threading.RLock()


class _Deferred(types.ModuleType):
    """A module whose code has not run yet."""

    def __getattr__(self, attr: str) -> Any:
        with _running:
            if type(self) is _Deferred:
                _run(self)
        return types.ModuleType.__getattribute__(self, attr)


class _Running(types.ModuleType):
    """A module whose code is running: other threads wait for it, as for a normal import."""

    def __getattr__(self, attr: str) -> Any:
        with _running:  # the importing thread itself re-enters and sees a partial module
            pass
        return types.ModuleType.__getattribute__(self, attr)


def _run(module: types.ModuleType) -> None:
    spec = module.__spec__
    assert spec is not None
    assert spec.loader is not None
    module.__class__ = _Running
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module.__name__, None)  # as a failed import leaves it
        raise
    finally:
        module.__class__ = types.ModuleType


def defer(name: str) -> None:
    """Register `name` to run on first use; no-op when it is imported already or missing."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
