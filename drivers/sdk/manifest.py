"""The driver.yaml format, as written: msgspec Structs validated once when a driver loads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from drivers.sdk.codec import FieldSpec, check_field
from drivers.sdk.datatypes import DataType, RegisterType, WordOrder
from drivers.sdk.errors import DecodeError, ManifestError
from drivers.sdk.units import is_senml_unit

DriverName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
ChannelName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Address = Annotated[int, Meta(ge=0, le=65535)]
Seconds = float | str
"""A duration as in the agent config: seconds or a string such as "5m" (edge parses it)."""
PollClass = Literal["fast", "slow"]
"""Fast channels are read every `poll`, slow ones (energy counters, hours) every `poll_slow`."""
BusKind = Literal["modbus_rtu", "modbus_tcp", "serial"]


class _Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Shared options: manifests are immutable and typos are errors."""


class SerialDefaults(_Struct, frozen=True, kw_only=True):
    """Factory serial settings, so a technician knows what the sensor speaks out of the box."""

    baud: Annotated[int, Meta(gt=0)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class FilterDefault(_Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A default filter step; same fields as edge.config.FilterSpec, which validates it."""

    deadband: float | None = None
    deadband_percent: float | None = None
    on_change: bool | None = None
    heartbeat: Seconds | None = None
    window: Seconds | None = None
    aggregate: Literal["mean", "min", "max"] | None = None


class SimSpec(_Struct, frozen=True, kw_only=True):
    """How the simulator animates a channel."""

    script: Literal["steady", "ramp", "noise"] = "noise"
    value: float = 0.0
    """Steady value, ramp start, or noise centre (engineering units)."""
    amplitude: float = 0.0
    """Noise: half-width of the random band."""
    rate: float = 0.0
    """Ramp: change per second (energy counters climb, say)."""
    low: float | None = None
    high: float | None = None
    """Clamp (noise) or wrap (ramp) the value into [low, high]."""
    text: str | None = None
    """String channels: the text the simulator serves."""


class Defaults(_Struct, frozen=True, kw_only=True):
    """Values a channel inherits when it does not say otherwise."""

    register_type: RegisterType = RegisterType.HOLDING
    data_type: DataType = DataType.U16
    order: WordOrder = WordOrder.ABCD


class ChannelDef(_Struct, frozen=True, kw_only=True):
    """One measured value, as written in driver.yaml."""

    name: ChannelName
    address: Address | None = None
    """Required for Modbus drivers; a serial-protocol driver's class decodes by name instead."""
    register_type: RegisterType | None = None
    data_type: DataType | None = None
    order: WordOrder | None = None
    scale: float = 1.0
    offset: float = 0.0
    length: Annotated[int, Meta(ge=1, le=64)] | None = None
    """Strings: registers of text, two characters each."""
    bit: Annotated[int, Meta(ge=0, le=63)] | None = None
    """Bit field: lowest bit of the field (0 = least significant) inside the integer."""
    bits: Annotated[int, Meta(ge=1, le=64)] = 1
    """Bit field width; one bit reads as true/false."""
    enum: dict[int, str] | None = None
    """Status code -> text, e.g. {0: ok, 1: lamp_failure}."""
    poll: PollClass = "fast"
    unit: str = ""
    description: str = ""
    range: tuple[float, float] | None = None
    filters: list[FilterDefault] = msgspec.field(default_factory=list)
    sim: SimSpec | None = None


class WritableDef(_Struct, frozen=True, kw_only=True):
    """A point the fleet may write (a setpoint, a relay), with the limits that keep it safe."""

    name: ChannelName
    address: Address
    register_type: RegisterType = RegisterType.HOLDING
    """Only holding registers and coils can be written."""
    data_type: DataType = DataType.U16
    order: WordOrder = WordOrder.ABCD
    scale: float = 1.0
    offset: float = 0.0
    min: float | None = None
    max: float | None = None
    unit: str = ""
    description: str = ""
    clears: list[ChannelName] = msgspec.field(default_factory=list)
    """Latched channels a write of a true value resets (an alarm's reset coil)."""


class Manifest(_Struct, frozen=True, kw_only=True):
    """A whole driver.yaml."""

    name: DriverName
    vendor: str
    model: str
    category: str
    description: str = ""
    datasheet: str = ""
    buses: list[BusKind] = msgspec.field(default_factory=lambda: ["modbus_rtu"])
    serial: SerialDefaults = msgspec.field(default_factory=SerialDefaults)
    protocol: Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$")] | None = (
        None
    )
    """Serial-protocol drivers: `module:Class` of the driver folder (e.g. protocol:Pms5003)."""
    poll_slow: Seconds = 300.0
    """Default interval of `poll: slow` channels; the agent config may override it."""
    max_registers: Annotated[int, Meta(ge=1, le=125)] | None = None
    """A device that accepts fewer registers per request than Modbus allows says so here."""
    defaults: Defaults = msgspec.field(default_factory=Defaults)
    channels: list[ChannelDef]
    writable: list[WritableDef] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        names = [c.name for c in self.channels] + [w.name for w in self.writable]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"channel and writable names must be unique; repeated: {repeated}")
        serial = self.protocol is not None
        if serial != (self.buses == ["serial"]):
            raise ValueError("a serial-protocol driver names its `protocol` and buses: [serial]")
        for channel in self.channels:
            if serial:
                _check_serial_point(channel)
            else:
                _check_point(self.defaults, channel)
        for point in self.writable:
            missing = [n for n in point.clears if n not in names]
            if missing:
                raise ValueError(f"writable {point.name}: clears unknown channels {missing}")
            if point.register_type not in (RegisterType.HOLDING, RegisterType.COIL):
                raise ValueError(f"writable {point.name}: {point.register_type} is read-only")
            if point.min is not None and point.max is not None and point.min > point.max:
                raise ValueError(f"writable {point.name}: min {point.min} > max {point.max}")
            if not is_senml_unit(point.unit):
                raise ValueError(f"writable {point.name}: {point.unit!r} is not a SenML unit")


def _check_point(defaults: Defaults, channel: ChannelDef) -> None:
    register_type = channel.register_type or defaults.register_type
    data_type = channel.data_type or (DataType.BOOL if register_type.is_bit else defaults.data_type)
    if channel.address is None:
        raise ValueError(f"channel {channel.name}: a Modbus channel needs an address")
    if register_type.is_bit != (data_type is DataType.BOOL):
        raise ValueError(f"channel {channel.name}: {data_type} does not go with {register_type}")
    field = field_of(channel, defaults)
    try:
        check_field(field)
    except DecodeError as exc:
        raise ValueError(f"channel {channel.name}: {exc}") from None
    if channel.address + field.width > 65536:
        raise ValueError(f"channel {channel.name}: runs past register 65535")
    if channel.scale == 0:
        raise ValueError(f"channel {channel.name}: scale cannot be 0")
    if (channel.enum or data_type is DataType.STRING) and (channel.scale, channel.offset) != (1, 0):
        raise ValueError(f"channel {channel.name}: text values take no scale or offset")
    _check_common(channel)


def _check_serial_point(channel: ChannelDef) -> None:
    if channel.address is not None or channel.register_type is not None:
        raise ValueError(
            f"channel {channel.name}: a serial-protocol channel has no address or register_type"
        )
    _check_common(channel)


def _check_common(channel: ChannelDef) -> None:
    if channel.range is not None and channel.range[0] > channel.range[1]:
        raise ValueError(f"channel {channel.name}: range low {channel.range[0]} > high")
    if not is_senml_unit(channel.unit):
        raise ValueError(
            f"channel {channel.name}: {channel.unit!r} is not a SenML unit (RFC 8428/8798)"
        )


def field_of(channel: ChannelDef, defaults: Defaults, *, block_start: int = 0) -> FieldSpec:
    """The decoder field of a channel with the manifest's defaults filled in."""
    register_type = channel.register_type or defaults.register_type
    data_type = channel.data_type or (DataType.BOOL if register_type.is_bit else defaults.data_type)
    return FieldSpec(
        position=(channel.address or 0) - block_start,
        data_type=data_type,
        order=channel.order or defaults.order,
        scale=channel.scale,
        offset=channel.offset,
        length=channel.length or 0,
        bit=channel.bit,
        bits=channel.bits,
        enum=tuple(sorted((channel.enum or {}).items())),
    )


def parse_manifest(text: str | bytes, *, source: str = "<driver.yaml>") -> Manifest:
    """Validate driver.yaml text; raises ManifestError naming the source and field."""
    try:
        return msgspec.yaml.decode(text, type=Manifest)
    except msgspec.ValidationError as exc:
        raise ManifestError(f"{source}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ManifestError(f"{source}: not valid YAML: {exc}") from exc


def load_manifest(path: Path) -> Manifest:
    """Read and validate one driver.yaml file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror})") from exc
    return parse_manifest(text, source=str(path))
