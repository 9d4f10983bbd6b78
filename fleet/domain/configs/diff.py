"""What a rollout would change: flattened config differences, summed up across devices."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

_SENSOR_RE = re.compile(r"^buses\[[^\]]+\]\.devices\[[^\]]+\]")


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf paths of a config; lists of named items are keyed by name (buses[rs485-1])."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(flatten(child, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list) and value and all(_named(item) for item in value):
        out = {}
        for item in value:
            out.update(flatten(item, f"{path}[{item['name']}]"))
        return out
    return {path: value}


def _named(item: Any) -> bool:
    return isinstance(item, dict) and "name" in item


def _sensors(flat: dict[str, Any]) -> set[str]:
    return {m.group(0) for key in flat if (m := _SENSOR_RE.match(key))}


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    return str(value)


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Readable changes of one device's config, e.g. 'health.interval 30s → 15s'."""
    before, after = flatten(old), flatten(new)
    old_sensors, new_sensors = _sensors(before), _sensors(after)
    out: list[str] = []
    added, removed = len(new_sensors - old_sensors), len(old_sensors - new_sensors)
    if added:
        out.append(f"+{added} sensor{'s' if added > 1 else ''}")
    if removed:
        out.append(f"-{removed} sensor{'s' if removed > 1 else ''}")
    skip = (new_sensors - old_sensors) | (old_sensors - new_sensors)
    for key in sorted(before.keys() | after.keys()):
        if key == "version" or any(key.startswith(s) for s in skip):
            continue
        if before.get(key) != after.get(key):
            out.append(f"{key} {_show(before.get(key))} → {_show(after.get(key))}")
    return out


def summarise(per_device: Iterable[list[str]]) -> tuple[list[str], int]:
    """Preview lines ('1,204 devices: poll 10s → 5s') and how many devices change at all."""
    counts: Counter[str] = Counter()
    unchanged = 0
    total = 0
    for device_changes in per_device:
        total += 1
        if not device_changes:
            unchanged += 1
        counts.update(set(device_changes))
    lines = [f"{n:,} device{'s' if n > 1 else ''}: {change}" for change, n in counts.most_common()]
    if unchanged:
        lines.append(f"{unchanged:,} device{'s' if unchanged > 1 else ''}: no change")
    return lines, total - unchanged
