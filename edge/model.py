"""Values that flow through the agent: one Reading per channel per poll."""

from __future__ import annotations

import msgspec


class Reading(msgspec.Struct, frozen=True, gc=False):
    """One decoded value of one channel of one device, stamped with wall-clock time."""

    device: str
    """Device name from the config (unique per gateway), e.g. "meter"."""
    channel: str
    """Channel name from the driver, e.g. "voltage"."""
    value: float | int | bool | str
    ts: float
    """Unix time in seconds when the value was read."""
    unit: str = ""
    """SenML unit name, e.g. "V", "Cel", "%RH"; empty when the channel has no unit."""
