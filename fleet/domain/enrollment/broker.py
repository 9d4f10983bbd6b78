"""What enrollment needs from the broker: per-device accounts it can issue and remove.

fleet/bridge/dynsec.py implements it on Mosquitto's dynamic-security plugin.
"""

from __future__ import annotations

from typing import Protocol


class BrokerAccountError(Exception):
    """The broker did not confirm an account change; the message never holds a secret."""


class BrokerAccounts(Protocol):
    """Device accounts on the broker, each limited to the device's own topics."""

    async def issue(self, device_id: str, password: str) -> None:
        """Create or replace the device's account; kicks any session of the old one."""

    async def remove(self, device_id: str) -> None:
        """Delete the device's account (if any) and kick its live session."""
