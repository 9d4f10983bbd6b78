"""Per-channel filters (deadband, on_change, heartbeat, windows) and the range check.

The registry in `edge.filters.registry` is the one table of filter names.
"""

from __future__ import annotations

from edge.filters.chain import FilterChain
from edge.filters.policy import ChannelKey, ChannelPolicy, policies_from_config
from edge.filters.registry import FILTERS, build_chain

__all__ = [
    "FILTERS",
    "ChannelKey",
    "ChannelPolicy",
    "FilterChain",
    "build_chain",
    "policies_from_config",
]
