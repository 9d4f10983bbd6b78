"""Per-channel policy: the range check and the filter list, built from the agent config."""

from __future__ import annotations

import math
from collections.abc import Iterable

import msgspec

from edge.accounting import Counts
from edge.config import BusConfig, ChannelOverride, FilterSpec
from edge.filters.registry import build_chain

ChannelKey = tuple[str, str]
"""(device name, channel name)."""


class ChannelPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What happens to one channel's readings before they are batched."""

    range: tuple[float, float] | None = None
    """Numeric readings outside [low, high] are dropped and counted as out_of_range."""
    filters: tuple[FilterSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.range is not None:
            low, high = self.range
            if math.isnan(low) or math.isnan(high) or low > high:
                raise ValueError(f"range must be [low, high] with low <= high, got {self.range}")
        # Building a throwaway chain validates the filter list once, at the boundary.
        build_chain(self.filters, counts=Counts())

    @classmethod
    def from_override(cls, override: ChannelOverride) -> ChannelPolicy:
        """The policy a config channel override describes."""
        return cls(range=override.range, filters=tuple(override.filters))

    def is_passthrough(self) -> bool:
        """True when the policy neither checks a range nor filters."""
        return self.range is None and not self.filters


def policies_from_config(buses: Iterable[BusConfig]) -> dict[ChannelKey, ChannelPolicy]:
    """Policies for every channel override in the config; other channels pass unfiltered."""
    policies: dict[ChannelKey, ChannelPolicy] = {}
    for bus in buses:
        for device in bus.devices:
            for channel, override in device.channels.items():
                policy = ChannelPolicy.from_override(override)
                if not policy.is_passthrough():
                    policies[(device.name, channel)] = policy
    return policies
