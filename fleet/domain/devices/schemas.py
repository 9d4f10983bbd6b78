"""Device API schemas (msgspec): Device, DeviceCreate, DeviceUpdate, DevicePage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from protocol.ids import DEVICE_ID_PATTERN

DeviceId = Annotated[str, Meta(pattern=f"^{DEVICE_ID_PATTERN}$", examples=["pole-0042"])]
Description = Annotated[str, Meta(max_length=200)]


class Device(msgspec.Struct, kw_only=True):
    """A gateway as the fleet sees it."""

    id: str
    registered: bool
    """False when the device published before anyone registered it."""
    description: str | None
    online: bool | None
    """From the device's retained state topic; None until one arrived."""
    first_seen: datetime | None
    last_seen: datetime | None
    state_changed_at: datetime | None
    last_health_at: datetime | None
    last_health: dict[str, Any] | None
    """The agent's last heartbeat, as it sent it (see protocol.messages.Health)."""


class DeviceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Register a device (or adopt one that already published)."""

    id: DeviceId
    description: Description | None = None


class DeviceUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Change a device; omitted fields stay as they are."""

    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    registered: bool | msgspec.UnsetType = msgspec.UNSET


class DevicePage(msgspec.Struct, kw_only=True):
    """One page of devices, ordered by id."""

    items: list[Device]
    total: int
    limit: int
    offset: int
