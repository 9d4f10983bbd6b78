"""Device API schemas (msgspec): Device, DeviceCreate, DeviceUpdate, DevicePage, Placement."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from fleet.domain.claims.schemas import GroupPath
from fleet.domain.health.status import Status
from protocol.ids import DEVICE_ID_PATTERN

DeviceId = Annotated[str, Meta(pattern=f"^{DEVICE_ID_PATTERN}$", examples=["pole-0042"])]
Description = Annotated[str, Meta(max_length=200)]
PoleId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", examples=["WH-07-0042"])]
Text = Annotated[str, Meta(max_length=200)]


class Device(msgspec.Struct, kw_only=True):
    """A gateway as the fleet sees it."""

    id: str
    registered: bool
    """False when the device published before anyone registered it."""
    description: str | None
    online: bool | None
    """From the device's retained state topic; None until one arrived."""
    status: Status
    """online, or offline on its last will, a clean disconnect or a missed-heartbeat timeout."""
    first_seen: datetime | None
    last_seen: datetime | None
    state_changed_at: datetime | None
    last_health_at: datetime | None
    last_health: dict[str, Any] | None
    """The agent's last heartbeat, as it sent it (see protocol.messages.Health)."""
    group: str | None = None
    """city/district/street path of its pole; None while unplaced."""
    pole_id: str | None = None
    district: str | None = None
    street: str | None = None
    lat: float | None = None
    lon: float | None = None


class DeviceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Register a device (or adopt one that already published)."""

    id: DeviceId
    description: Description | None = None


class DeviceUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Change a device; omitted fields stay as they are."""

    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    registered: bool | msgspec.UnsetType = msgspec.UNSET


class Placement(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Put a gateway on a pole of a city/district/street group (what enrollment also does)."""

    pole_id: PoleId
    group: GroupPath
    district: Text | None = None
    street: Text | None = None
    lat: Annotated[float, Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, Meta(ge=-180, le=180)] | None = None


class DevicePage(msgspec.Struct, kw_only=True):
    """One page of devices, ordered by id."""

    items: list[Device]
    total: int
    limit: int
    offset: int
