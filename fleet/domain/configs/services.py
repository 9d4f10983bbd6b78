"""Config service: layer revisions, memberships, effective config, explain; domain errors only."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from edge.config_file import convert_config
from fleet.db.ota import ConfigLayer, DeviceMembership
from fleet.db.provisioning import DeviceIdentity
from fleet.domain.claims.schemas import GROUP_PATTERN
from fleet.domain.configs import audit, layers
from fleet.domain.configs.layers import Layer, LayerRef
from fleet.domain.configs.schemas import (
    Effective,
    Explanation,
    LayerCreate,
    LayerSource,
    Membership,
)
from fleet.domain.configs.schemas import Layer as LayerView
from fleet.domain.errors import ConflictError, InvalidInputError, NotFoundError

BaseConfig = Callable[[str], dict[str, Any]]
"""The config every device starts from (its bundle's): device id and broker URL."""
_DEVICE_RE = re.compile(r"^[a-z0-9-]{1,64}$")
_GROUP_RE = re.compile(GROUP_PATTERN)
_RESERVED = ("device_id", "version")
_CHUNK = 1000
PROBE_DEVICE = "config-probe"


def default_base(device_id: str) -> dict[str, Any]:
    """The base of a fleet without provisioning: just the device id."""
    return {"device_id": device_id}


class ConfigService:
    """Config layers and memberships in one database session."""

    def __init__(self, session: AsyncSession, base: BaseConfig = default_base) -> None:
        self._session = session
        self._base = base

    def base(self, device_id: str) -> dict[str, Any]:
        """The config a device starts from before any layer."""
        return self._base(device_id)

    async def add_layer(self, data: LayerCreate, *, actor: str) -> LayerView:
        """Store a new layer revision after checking the agent would accept the result."""
        _check_target(data.scope, data.target)
        reserved = [key for key in _RESERVED if key in data.config]
        if reserved:
            raise InvalidInputError(f"{reserved[0]} is set by the fleet, not by a layer")
        latest = await self.latest_layers()
        probe, group = _probe(data.scope, data.target)
        ref = LayerRef(scope=data.scope, target=data.target, revision=0)
        latest[(data.scope, data.target)] = Layer(ref=ref, body=data.config)
        chain = layers.chain(device_id=probe, group_path=group, latest=latest)
        layers.validate(layers.effective(self._base(probe), chain, probe))
        current = await self._session.scalar(
            select(func.max(ConfigLayer.revision)).where(
                ConfigLayer.scope == data.scope, ConfigLayer.target == data.target
            )
        )
        row = ConfigLayer(
            scope=data.scope,
            target=data.target,
            revision=(current or 0) + 1,
            body=data.config,
            note=data.note,
            created_by=actor,
            created_at=datetime.now(UTC),
        )
        self._session.add(row)
        audit.record(
            self._session,
            actor=actor,
            action="config.layer.create",
            target=f"layer/{data.scope}/{data.target}",
            detail={"revision": row.revision},
        )
        try:
            await self._session.commit()
        except IntegrityError:
            await self._session.rollback()
            raise ConflictError("another revision of this layer was saved meanwhile") from None
        return layer_view(row)

    async def list_layers(self, *, scope: str | None, target: str | None) -> list[LayerView]:
        """Every revision, oldest first, optionally of one scope/target."""
        query = select(ConfigLayer).order_by(ConfigLayer.id)
        if scope is not None:
            query = query.where(ConfigLayer.scope == scope)
        if target is not None:
            query = query.where(ConfigLayer.target == target)
        return [layer_view(row) for row in await self._session.scalars(query)]

    async def latest_layers(self) -> dict[tuple[str, str], Layer]:
        """The newest revision of every layer."""
        rows = await self._session.scalars(select(ConfigLayer).order_by(ConfigLayer.revision))
        return {
            (row.scope, row.target): Layer(
                ref=LayerRef(scope=row.scope, target=row.target, revision=row.revision),
                body=row.body,
            )
            for row in rows
        }

    async def set_memberships(self, items: Sequence[Membership], *, actor: str) -> int:
        """Upsert the group and tags of many devices; returns how many."""
        now = datetime.now(UTC)
        dialect = self._session.get_bind().dialect.name
        insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
        unique = {item.device_id: item for item in items}
        rows = [
            {"device_id": i.device_id, "group_path": i.group, "tags": i.tags, "updated_at": now}
            for i in unique.values()
        ]
        for start in range(0, len(rows), _CHUNK):
            stmt = insert_(DeviceMembership).values(rows[start : start + _CHUNK])
            await self._session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[DeviceMembership.device_id],
                    set_={
                        "group_path": stmt.excluded.group_path,
                        "tags": stmt.excluded.tags,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )
        audit.record(
            self._session,
            actor=actor,
            action="config.membership.set",
            target="memberships",
            detail={"devices": len(rows)},
        )
        await self._session.commit()
        return len(rows)

    async def memberships(self) -> dict[str, tuple[str | None, list[str]]]:
        """Every known device's (group, tags): memberships first, enrolled identities else."""
        found: dict[str, tuple[str | None, list[str]]] = {}
        identities = await self._session.execute(
            select(DeviceIdentity.device_id, DeviceIdentity.group_path).where(
                DeviceIdentity.status == "active"
            )
        )
        for device_id, group in identities:
            found[device_id] = (group, [])
        for row in await self._session.scalars(select(DeviceMembership)):
            found[row.device_id] = (row.group_path, list(row.tags))
        return found

    async def group_of(self, device_id: str) -> str | None:
        """One device's group; NotFoundError if the fleet has no group for it."""
        row = await self._session.get(DeviceMembership, device_id)
        if row is not None:
            return row.group_path
        identity = await self._session.get(DeviceIdentity, device_id)
        if identity is None:
            raise NotFoundError(f"device {device_id!r} has no group: set its membership first")
        return identity.group_path

    async def effective(self, device_id: str) -> Effective:
        """The config a device would get from the layers as they are now."""
        group = await self.group_of(device_id)
        latest = await self.latest_layers()
        chain = layers.chain(device_id=device_id, group_path=group, latest=latest)
        config = layers.effective(self._base(device_id), chain, device_id)
        sources = [LayerSource(kind="base")] + [_source(layer.ref) for layer in chain]
        return Effective(device_id=device_id, group=group, config=config, layers=sources)

    async def explain(self, device_id: str, key: str) -> Explanation:
        """Which layer one key's value comes from for one device, and what it overrides."""
        parts = layers.key_parts(key)
        group = await self.group_of(device_id)
        latest = await self.latest_layers()
        chain = layers.chain(device_id=device_id, group_path=group, latest=latest)
        base = self._base(device_id)
        config = layers.effective(base, chain, device_id)
        winner, overridden = layers.setter_of(chain, parts)
        value = layers.lookup(config, parts)
        overrides = [_source(layer.ref) for layer in reversed(overridden)]
        if winner is not None:
            source = _source(winner.ref)
            if not layers.is_missing(layers.lookup(base, parts)):
                overrides.append(LayerSource(kind="base"))
        elif not layers.is_missing(layers.lookup(base, parts)):
            source = LayerSource(kind="base")
        else:
            value = layers.lookup(_with_defaults(config), parts)
            source = LayerSource(kind="agent_default" if not layers.is_missing(value) else "unset")
        return Explanation(
            device_id=device_id,
            key=key,
            value=None if layers.is_missing(value) else value,
            source=source,
            overrides=overrides,
        )


def select_targets(
    members: dict[str, tuple[str | None, list[str]]],
    *,
    groups: Iterable[str],
    tags: Iterable[str],
    devices: Iterable[str],
) -> list[str]:
    """Device ids in any of the groups (subtrees), with any of the tags, or listed by id."""
    groups, tags = list(groups), set(tags)
    chosen = set(devices)
    for device_id, (group, device_tags) in members.items():
        path = group or ""
        in_group = bool(path) and any(g == path or path.startswith(g + "/") for g in groups)
        if in_group or tags & set(device_tags):
            chosen.add(device_id)
    return sorted(chosen)


def layer_view(row: ConfigLayer) -> LayerView:
    """The API view of a layer row."""
    return LayerView(
        id=row.id,
        scope=row.scope,
        target=row.target,
        revision=row.revision,
        config=row.body,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _source(ref: LayerRef) -> LayerSource:
    return LayerSource(kind="layer", scope=ref.scope, target=ref.target, revision=ref.revision)


def _with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every agent default filled in (what the agent will actually run)."""
    try:
        full: dict[str, Any] = msgspec.to_builtins(
            convert_config(config, file="<fleet>"), enc_hook=_plain
        )
    except Exception:  # an invalid merged config has no defaults to show
        return config
    return full


def _plain(value: Any) -> Any:
    """Durations and byte sizes are float and int subclasses: show them as plain numbers."""
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    raise NotImplementedError(type(value).__name__)


def _check_target(scope: str, target: str) -> None:
    if scope == "fleet" and target:
        raise InvalidInputError("a fleet layer has no target (leave it empty)")
    if scope == "group" and not _GROUP_RE.match(target):
        raise InvalidInputError(f"group target {target!r} must look like city/district/street")
    if scope == "device" and not _DEVICE_RE.match(target):
        raise InvalidInputError(f"device target {target!r} is not a device id")


def _probe(scope: str, target: str) -> tuple[str, str | None]:
    """A device to validate a layer on: the device itself, or a stand-in in the group."""
    if scope == "device":
        return target, None
    return PROBE_DEVICE, target if scope == "group" else None
