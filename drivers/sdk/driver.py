"""A loaded driver: its manifest resolved into channels the agent can plan and decode."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from drivers.sdk.codec import BlockDecoder, FieldSpec
from drivers.sdk.datatypes import LAYOUTS, DataType, RegisterType, WordOrder
from drivers.sdk.errors import DriverError
from drivers.sdk.manifest import ChannelDef, FilterDefault, Manifest, SimSpec, WritableDef


@dataclass(frozen=True, kw_only=True, slots=True)
class Channel:
    """One measured value with every default resolved."""

    name: str
    register_type: RegisterType
    address: int
    data_type: DataType
    order: WordOrder
    scale: float
    offset: float
    unit: str
    description: str
    range: tuple[float, float] | None
    filters: tuple[FilterDefault, ...]
    sim: SimSpec | None

    @property
    def width(self) -> int:
        """Registers (or bits) the channel occupies."""
        return LAYOUTS[self.data_type].registers

    def field_at(self, block_start: int) -> FieldSpec:
        """The decoder field for this channel inside a block that starts at block_start."""
        return FieldSpec(
            position=self.address - block_start,
            data_type=self.data_type,
            order=self.order,
            scale=self.scale,
            offset=self.offset,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Writable:
    """A writable point with its safety limits."""

    name: str
    register_type: RegisterType
    address: int
    field: FieldSpec
    min: float | None
    max: float | None
    unit: str
    description: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DriverInfo:
    """Catalogue entry: what `polekit driver list` and the fleet show."""

    name: str
    vendor: str
    model: str
    category: str
    description: str
    buses: tuple[str, ...]
    source: str
    """Where it came from: "builtin" or "entry point NAME (VALUE)"."""


@dataclass(frozen=True, kw_only=True)
class Driver:
    """A register map the agent can plan reads for and decode."""

    info: DriverInfo
    manifest: Manifest
    channels: Mapping[str, Channel]
    writable: Mapping[str, Writable]
    path: Path | None = None

    @classmethod
    def from_manifest(
        cls, manifest: Manifest, *, source: str = "builtin", path: Path | None = None
    ) -> Driver:
        """Resolve a validated manifest's defaults into channels."""
        info = DriverInfo(
            name=manifest.name,
            vendor=manifest.vendor,
            model=manifest.model,
            category=manifest.category,
            description=manifest.description,
            buses=tuple(manifest.buses),
            source=source,
        )
        return cls(
            info=info,
            manifest=manifest,
            channels={c.name: _resolve(manifest, c) for c in manifest.channels},
            writable={w.name: _resolve_writable(w) for w in manifest.writable},
            path=path,
        )

    @property
    def name(self) -> str:
        """The driver name used in config files."""
        return self.info.name

    def channel(self, name: str) -> Channel:
        """The channel called name; DriverError listing the valid names otherwise."""
        try:
            return self.channels[name]
        except KeyError:
            raise DriverError(
                f"driver {self.name} has no channel {name!r}; it has: {', '.join(self.channels)}"
            ) from None

    def compile_block(
        self, register_type: RegisterType, start: int, count: int, names: Iterable[str]
    ) -> BlockDecoder:
        """A decoder for one read of count items from start, yielding values in names order."""
        fields = [self.channel(name).field_at(start) for name in names]
        return BlockDecoder(register_type=register_type, count=count, fields=fields)


def _resolve(manifest: Manifest, channel: ChannelDef) -> Channel:
    defaults = manifest.defaults
    register_type = channel.register_type or defaults.register_type
    data_type = channel.data_type or (DataType.BOOL if register_type.is_bit else defaults.data_type)
    return Channel(
        name=channel.name,
        register_type=register_type,
        address=channel.address,
        data_type=data_type,
        order=channel.order or defaults.order,
        scale=channel.scale,
        offset=channel.offset,
        unit=channel.unit,
        description=channel.description,
        range=channel.range,
        filters=tuple(channel.filters),
        sim=channel.sim,
    )


def _resolve_writable(point: WritableDef) -> Writable:
    data_type = DataType.BOOL if point.register_type.is_bit else point.data_type
    field = FieldSpec(
        position=0, data_type=data_type, order=point.order, scale=point.scale, offset=point.offset
    )
    return Writable(
        name=point.name,
        register_type=point.register_type,
        address=point.address,
        field=field,
        min=point.min,
        max=point.max,
        unit=point.unit,
        description=point.description,
    )
