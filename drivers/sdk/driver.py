"""A loaded driver: its manifest resolved into channels the agent can plan and decode."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from drivers.sdk.codec import BlockDecoder, FieldSpec
from drivers.sdk.datatypes import DataType, RegisterType, WordOrder
from drivers.sdk.errors import DriverError
from drivers.sdk.manifest import (
    ChannelDef,
    FilterDefault,
    Manifest,
    PollClass,
    SimSpec,
    WritableDef,
    field_of,
)
from drivers.sdk.serial import SerialProtocol

ProtocolFactory = Callable[[], SerialProtocol]


@dataclass(frozen=True, kw_only=True, slots=True)
class Channel:
    """One measured value with every default resolved."""

    name: str
    register_type: RegisterType
    address: int
    field: FieldSpec
    """The decoder field at position `address` (the block starting at register 0)."""
    unit: str
    description: str
    range: tuple[float, float] | None
    filters: tuple[FilterDefault, ...]
    sim: SimSpec | None
    poll: PollClass = "fast"

    @property
    def data_type(self) -> DataType:
        """How the value is laid out."""
        return self.field.data_type

    @property
    def order(self) -> WordOrder:
        """Byte and word order."""
        return self.field.order

    @property
    def scale(self) -> float:
        """value = raw * scale + offset."""
        return self.field.scale

    @property
    def offset(self) -> float:
        """value = raw * scale + offset."""
        return self.field.offset

    @property
    def width(self) -> int:
        """Registers (or bits) the channel occupies."""
        return self.field.width

    def field_at(self, block_start: int) -> FieldSpec:
        """The decoder field for this channel inside a block that starts at block_start."""
        return dataclasses.replace(self.field, position=self.address - block_start)


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
    clears: tuple[str, ...] = ()
    """Latched channels that a write of a true value resets."""


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
    protocol: ProtocolFactory | None = None
    """Serial-protocol drivers: makes the object that frames and decodes the device's bytes."""

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        *,
        source: str = "builtin",
        path: Path | None = None,
        protocol: ProtocolFactory | None = None,
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
            protocol=protocol,
        )

    @property
    def name(self) -> str:
        """The driver name used in config files."""
        return self.info.name

    @property
    def is_serial(self) -> bool:
        """A serial-protocol driver (framed bytes on a UART), not a Modbus register map."""
        return self.manifest.protocol is not None

    def new_protocol(self) -> SerialProtocol:
        """A fresh protocol object (each has its own framing state); DriverError if none."""
        if self.protocol is None:
            raise DriverError(f"driver {self.name} has no serial protocol class loaded")
        return self.protocol()

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
    field = field_of(channel, manifest.defaults)
    return Channel(
        name=channel.name,
        register_type=channel.register_type or manifest.defaults.register_type,
        address=channel.address or 0,
        field=field,
        unit=channel.unit,
        description=channel.description,
        range=channel.range,
        filters=tuple(channel.filters),
        sim=channel.sim,
        poll=channel.poll,
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
        clears=tuple(point.clears),
    )
