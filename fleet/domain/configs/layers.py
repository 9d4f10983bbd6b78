"""Pure layering logic: merge fleet -> group (shallow to deep) -> device, explain, validate.

Dicts merge key by key; any other value (lists included) replaces what is below it, and an
explicit null removes the key. Validation is the agent's own: edge.config_file.convert_config.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from edge.config_file import ConfigError, convert_config
from fleet.domain.errors import InvalidInputError

SCOPES = ("fleet", "group", "device")
_KEY_PART_RE = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


class ConfigInvalidError(InvalidInputError):
    """A config the agent would refuse; the message names the device and the field path."""

    code = "invalid_config"

    def __init__(self, message: str, *, field: str | None, device_id: str | None = None) -> None:
        where = f"device {device_id}: " if device_id else ""
        super().__init__(f"{where}{field or '$'}: {message}")
        self.field = field
        self.device_id = device_id


class LayerRef(msgspec.Struct, frozen=True, kw_only=True):
    """Which layer revision a value came from."""

    scope: str
    target: str
    revision: int


class Layer(msgspec.Struct, frozen=True, kw_only=True):
    """One layer revision with its partial config body."""

    ref: LayerRef
    body: dict[str, Any]


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, without changing either."""
    result = copy.deepcopy(base)
    for key, value in over.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def group_prefixes(group_path: str | None) -> list[str]:
    """city/district/street -> [city, city/district, city/district/street]."""
    if not group_path:
        return []
    parts = group_path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def chain(
    *, device_id: str, group_path: str | None, latest: dict[tuple[str, str], Layer]
) -> list[Layer]:
    """The layers that apply to one device, lowest priority first."""
    keys = [("fleet", "")] + [("group", g) for g in group_prefixes(group_path)]
    keys.append(("device", device_id))
    return [latest[key] for key in keys if key in latest]


def effective(base: dict[str, Any], layers: Sequence[Layer], device_id: str) -> dict[str, Any]:
    """The merged config of one device; device_id always comes from the fleet."""
    result = base
    for layer in layers:
        result = merge(result, layer.body)
    result["device_id"] = device_id
    return result


def validate(config: dict[str, Any], *, device_id: str | None = None) -> None:
    """Raise ConfigInvalidError when the agent would refuse this config."""
    try:
        convert_config(config, file="<fleet>")
    except ConfigError as exc:
        raise ConfigInvalidError(exc.message, field=exc.field, device_id=device_id) from None


def key_parts(key: str) -> list[str | int]:
    """`buses[0].devices[meter].poll` -> ['buses', 0, 'devices', 'meter', 'poll']."""
    parts: list[str | int] = []
    for name, index in _KEY_PART_RE.findall(key):
        parts.append(name if name else (int(index) if index.isdigit() else index))
    if not parts:
        raise InvalidInputError(f"invalid key {key!r}: use a dotted path such as health.interval")
    return parts


_MISSING = object()


def lookup(document: Any, parts: Sequence[str | int]) -> Any:
    """The value at a key path, or _MISSING; list items match by index or by `name`."""
    node = document
    for part in parts:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part, _MISSING)
        elif isinstance(node, list) and isinstance(part, int):
            node = node[part] if part < len(node) else _MISSING
        elif isinstance(node, list):
            named = (item for item in node if isinstance(item, dict) and item.get("name") == part)
            node = next(named, _MISSING)
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def setter_of(
    layers: Sequence[Layer], parts: Sequence[str | int]
) -> tuple[Layer | None, list[Layer]]:
    """The layer whose value wins for a key path, and the lower layers it overrides."""
    setters = [layer for layer in layers if _sets(layer.body, parts)]
    if not setters:
        return None, []
    return setters[-1], setters[:-1]


def _sets(body: dict[str, Any], parts: Sequence[str | int]) -> bool:
    """True if the layer sets the key itself or replaces an ancestor of it wholesale."""
    node: Any = body
    for part in parts:
        if not isinstance(node, dict):
            return True
        if not isinstance(part, str) or part not in node:
            return False
        node = node[part]
    return True


def is_missing(value: Any) -> bool:
    """True for the sentinel `lookup` returns when a key is absent."""
    return value is _MISSING
