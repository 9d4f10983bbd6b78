"""Each driver's config fragment in the agent's JSON Schema: valid driver and channel names.

msgspec exports DeviceConfig with `driver: string` and `channels: {string: override}`.
This adds one `$defs` entry per installed driver listing its channels (with unit and
description, so an editor can complete and explain them) and an if/then per driver, so a
device naming driver X may only override X's channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drivers.sdk.driver import Driver


def _driver_def(driver: Driver) -> dict[str, Any]:
    channels = {
        channel.name: {
            "$ref": "#/$defs/ChannelOverride",
            "description": " ".join(
                part
                for part in (f"[{channel.unit}]" if channel.unit else "", channel.description)
                if part
            )
            or channel.name,
        }
        for channel in driver.channels.values()
    }
    info = driver.info
    return {
        "title": f"{info.vendor} {info.model}",
        "description": info.description or info.name,
        "properties": {
            "channels": {"type": "object", "properties": channels, "additionalProperties": False}
        },
    }


def add_driver_schemas(schema: dict[str, Any], drivers: Sequence[Driver]) -> dict[str, Any]:
    """The agent schema with per-driver device fragments; returns the same dict, changed."""
    defs = schema["$defs"]
    device = defs["DeviceConfig"]
    names = sorted(d.name for d in drivers)
    if not names:
        return schema
    device["properties"]["driver"] = {
        "type": "string",
        "enum": names,
        "description": "an installed driver (polekit driver list)",
    }
    rules = []
    for driver in sorted(drivers, key=lambda d: d.name):
        key = f"Driver_{driver.name}"
        defs[key] = _driver_def(driver)
        rules.append(
            {
                "if": {"properties": {"driver": {"const": driver.name}}, "required": ["driver"]},
                "then": {"$ref": f"#/$defs/{key}"},
            }
        )
    device["allOf"] = rules
    return schema
