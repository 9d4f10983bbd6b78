"""The agent's config document: typed msgspec Structs, validated once at the boundary.

Everything past `load_config` works with these objects, never with raw dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from edge.units import ByteSize, Duration

DeviceName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
BusName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
DeviceId = Annotated[str, Meta(pattern=r"^[a-z0-9-]{1,64}$")]
UnitId = Annotated[int, Meta(ge=0, le=247)]
Port = Annotated[int, Meta(ge=1, le=65535)]


def _duration(seconds: float) -> Any:
    return msgspec.field(default_factory=lambda: Duration(seconds))


def _size(n_bytes: int) -> Any:
    return msgspec.field(default_factory=lambda: ByteSize(n_bytes))


class FilterSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """One filter step; exactly one field is set, e.g. {deadband: 2} or {heartbeat: 5m}."""

    deadband: Annotated[float, Meta(ge=0)] | None = None
    """Suppress a value that moved less than this (absolute, in the channel's unit)."""
    deadband_percent: Annotated[float, Meta(ge=0)] | None = None
    """Suppress a value that moved less than this percentage of the last reported value."""
    on_change: bool | None = None
    """Report only when the value differs from the last reported one."""
    heartbeat: Duration | None = None
    """Report anyway when nothing was reported for this long (pairs with deadband/on_change)."""
    window: Duration | None = None
    """Aggregate readings over this window and report one value per window."""
    aggregate: Literal["mean", "min", "max"] | None = None
    """With window: which aggregate to report (default mean)."""

    def __post_init__(self) -> None:
        chosen = [
            name
            for name in ("deadband", "deadband_percent", "on_change", "heartbeat", "window")
            if getattr(self, name) is not None
        ]
        if len(chosen) != 1:
            raise ValueError(
                "a filter step sets exactly one of deadband, deadband_percent, on_change, "
                f"heartbeat, window; got {chosen or 'none'}"
            )
        if self.aggregate is not None and self.window is None:
            raise ValueError("aggregate only goes with window")


class ChannelOverride(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-channel overrides of the driver's defaults."""

    filters: list[FilterSpec] = msgspec.field(default_factory=list)
    range: tuple[float, float] | None = None
    """Readings outside [low, high] are dropped and counted as out_of_range."""
    enabled: bool = True


class DeviceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One sensor on a bus."""

    name: DeviceName
    driver: str
    unit: UnitId = 1
    """Modbus unit (slave) id."""
    poll: Duration = _duration(10.0)
    """Interval of the driver's fast channels (all of them unless the driver marks some slow)."""
    poll_slow: Duration | None = None
    """Interval of the driver's slow channels (energy counters, hours); default: the driver's."""
    channels: dict[str, ChannelOverride] = msgspec.field(default_factory=dict)
    writable: list[str] | None = None
    """Points the fleet may write (of the driver's writable ones); None: all, []: none."""


class ModbusRtuConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Modbus RTU over a serial line (RS-485)."""

    port: str | None = None
    """OS device such as /dev/ttyUSB0; when absent the board profile resolves the bus name."""
    baud: Annotated[int, Meta(gt=0)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class ModbusTcpConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Modbus TCP to a device or an RTU-over-TCP gateway."""

    host: str
    port: Port = 502


class SerialConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A plain serial line for serial-protocol drivers (a UART sensor, a GNSS receiver)."""

    port: str | None = None
    """OS device such as /dev/ttyAMA0; when absent the board profile resolves the bus name."""
    baud: Annotated[int, Meta(gt=0)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class BusConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One physical bus; it gets its own scheduler because RS-485 is half-duplex."""

    name: BusName
    modbus_rtu: ModbusRtuConfig | None = None
    modbus_tcp: ModbusTcpConfig | None = None
    serial: SerialConfig | None = None
    devices: list[DeviceConfig] = msgspec.field(default_factory=list)
    timeout: Duration = _duration(1.0)
    """How long to wait for one response."""
    retries: Annotated[int, Meta(ge=0, le=10)] = 2
    """Retries of a failed request (with backoff) before the device counts as failing."""
    max_gap: Annotated[int, Meta(ge=0, le=124)] = 10
    """Merge reads of registers at most this many unused registers apart into one request."""
    max_registers: Annotated[int, Meta(ge=1, le=125)] = 125
    """Largest read request; 125 is the Modbus limit for registers."""
    offline_after: Annotated[int, Meta(ge=1)] = 3
    """Consecutive failed polls before a device is marked offline."""

    def __post_init__(self) -> None:
        kinds = [self.modbus_rtu, self.modbus_tcp, self.serial]
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError(
                "a bus sets exactly one of modbus_rtu or modbus_tcp (or serial, for "
                "serial-protocol drivers)"
            )
        names = [device.name for device in self.devices]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"device names must be unique on a bus; repeated: {duplicates}")


class UplinkConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The MQTT connection to the fleet. Credentials never live here (see the bundle)."""

    broker: str = "mqtt://127.0.0.1:1883"
    encoding: Literal["cbor", "msgpack", "json"] = "cbor"
    keepalive: Duration = _duration(30.0)
    mqtt_version: Literal["5", "3.1.1"] = "5"
    inflight: Annotated[int, Meta(ge=1, le=1024)] = 16
    """Most telemetry batches published but not yet acknowledged by the fleet."""
    ack_timeout: Duration = _duration(30.0)
    """Publish a batch again when the fleet has not acknowledged it within this time."""
    batch_max_readings: Annotated[int, Meta(ge=1, le=10000)] = 500
    batch_interval: Duration = _duration(1.0)
    """Close a telemetry batch after this long even when it is not full."""
    reconnect_max: Duration = _duration(60.0)


class BufferConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The on-disk store-and-forward buffer."""

    path: str = "/var/lib/polekit/buffer.db"
    max_bytes: ByteSize = _size(256 * 1024 * 1024)
    commit_interval: Duration = _duration(0.2)
    """Group buffer writes into one transaction per interval (SD cards wear and fsync is slow)."""
    synchronous: Literal["normal", "full"] = "full"
    """SQLite synchronous mode: full survives power loss, normal survives a process kill."""


class HealthConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Heartbeat reporting."""

    interval: Duration = _duration(30.0)


class AgentConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One gateway's whole configuration."""

    device_id: DeviceId
    board: str | None = None
    buses: list[BusConfig] = msgspec.field(default_factory=list)
    uplink: UplinkConfig = msgspec.field(default_factory=UplinkConfig)
    buffer: BufferConfig = msgspec.field(default_factory=BufferConfig)
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)
    version: Annotated[int, Meta(ge=0)] = 0
    """Config version assigned by the fleet; 0 for a local file."""

    def __post_init__(self) -> None:
        names = [bus.name for bus in self.buses]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"bus names must be unique; repeated: {duplicates}")
