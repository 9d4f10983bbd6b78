"""Config API schemas (msgspec): layers, memberships, effective config, explain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from fleet.domain.claims.schemas import GROUP_PATTERN

DeviceIdStr = Annotated[str, Meta(pattern=r"^[a-z0-9-]{1,64}$")]
GroupStr = Annotated[str, Meta(pattern=GROUP_PATTERN, max_length=200)]
TagStr = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$")]
Scope = Literal["fleet", "group", "device"]


class LayerCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new revision of one layer; `config` is a partial agent config (null removes a key)."""

    scope: Scope
    target: str = ""
    """'' for fleet, a group path for group, a device id for device."""
    config: dict[str, Any]
    note: Annotated[str, Meta(max_length=200)] | None = None


class Layer(msgspec.Struct, kw_only=True):
    """One immutable layer revision."""

    id: int
    scope: str
    target: str
    revision: int
    config: dict[str, Any]
    note: str | None
    created_by: str
    created_at: datetime


class Membership(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A device's group (for layering and targeting) and tags (for targeting)."""

    device_id: DeviceIdStr
    group: GroupStr
    tags: list[TagStr] = msgspec.field(default_factory=list)


class MembershipBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Set the membership of many devices at once."""

    items: Annotated[list[Membership], Meta(max_length=100_000)]


class LayerSource(msgspec.Struct, kw_only=True):
    """Where a value came from: a layer revision, the base (bundle) config, or agent default."""

    kind: Literal["layer", "base", "agent_default", "unset"]
    scope: str | None = None
    target: str | None = None
    revision: int | None = None


class Effective(msgspec.Struct, kw_only=True):
    """The merged config one device would get now, and the layers it is made of."""

    device_id: str
    group: str | None
    config: dict[str, Any]
    layers: list[LayerSource]


class Explanation(msgspec.Struct, kw_only=True):
    """For one device and one key: the value, the layer it came from, what it overrides."""

    device_id: str
    key: str
    value: Any
    source: LayerSource
    overrides: list[LayerSource]


class AuditEntry(msgspec.Struct, kw_only=True):
    """One audit row: who did what to which target, when, and how it ended."""

    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any] | None
