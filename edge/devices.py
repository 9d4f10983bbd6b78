"""Runtime devices: a DeviceConfig joined with its driver into channels, policies and a read plan.

This is where config meets the driver catalogue, so it is also where a config naming an
unknown driver or channel is rejected, with the field path a technician can find.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from drivers.registry import DriverLoader, load_driver
from drivers.sdk.codec import BlockDecoder
from drivers.sdk.driver import Channel, Driver
from drivers.sdk.errors import DriverError, UnknownDriverError
from drivers.sdk.manifest import PollClass
from edge.config import AgentConfig, BusConfig, DeviceConfig, FilterSpec
from edge.filters.policy import ChannelKey, ChannelPolicy
from edge.planner import Point, ReadRequest, plan_reads
from edge.units import Duration, dec_hook


class DeviceConfigError(ValueError):
    """A device in the config does not fit the driver catalogue; names the field path."""

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, kw_only=True, slots=True)
class RuntimeChannel:
    """An enabled channel of a device, with the policy the pipeline applies to it."""

    name: str
    unit: str
    policy: ChannelPolicy
    spec: Channel


@dataclass(frozen=True, kw_only=True, slots=True)
class CompiledRead:
    """One request of a device's poll and how to decode it; decoder output follows channels."""

    request: ReadRequest
    decoder: BlockDecoder
    channels: tuple[RuntimeChannel, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class PollGroup:
    """The reads of one poll class of a device and how often they run."""

    poll_class: PollClass
    interval: float
    reads: tuple[CompiledRead, ...]
    saved: int = 0
    """Requests per poll of this group that merging saved."""


@dataclass(frozen=True, kw_only=True)
class Device:
    """What the bus scheduler polls."""

    name: str
    unit: int
    poll: float
    driver: Driver
    channels: Mapping[str, RuntimeChannel]
    reads: tuple[CompiledRead, ...]
    """Every read of one full poll (all poll classes)."""
    requests_saved: int
    """Requests per poll that merging saved compared with one request per channel."""
    path: str
    """Where the device sits in the config, e.g. buses[0].devices[1]."""
    groups: tuple[PollGroup, ...] = ()
    """Fast and slow reads with their intervals; one group when the driver has no slow class."""

    @property
    def is_serial(self) -> bool:
        """Read through its driver's serial protocol rather than Modbus requests."""
        return self.driver.is_serial

    def policy(self, channel: str) -> ChannelPolicy:
        """The range/filter policy of an enabled channel."""
        return self.channels[channel].policy


def build_device(
    config: DeviceConfig, *, bus: BusConfig, path: str, loader: DriverLoader = load_driver
) -> Device:
    """Resolve one device; raises DeviceConfigError naming the field at fault."""
    try:
        driver = loader(config.driver)
    except UnknownDriverError as exc:
        raise DeviceConfigError(str(exc), field=f"{path}.driver") from None
    except DriverError as exc:
        raise DeviceConfigError(
            f"driver {config.driver} is broken: {exc}", field=f"{path}.driver"
        ) from None
    for name in config.channels:
        if name not in driver.channels:
            known = ", ".join(driver.channels)
            raise DeviceConfigError(
                f"driver {driver.name} has no channel {name!r}; it has: {known}",
                field=f"{path}.channels.{name}",
            )
    channels: dict[str, RuntimeChannel] = {}
    for spec in driver.channels.values():
        override = config.channels.get(spec.name)
        if override is not None and not override.enabled:
            continue
        field = f"{path}.channels.{spec.name}"
        channels[spec.name] = RuntimeChannel(
            name=spec.name, unit=spec.unit, policy=_policy(spec, config, field=field), spec=spec
        )
    _check_bus_kind(driver, bus, path=path)
    poll = float(config.poll)
    slow = _slow_interval(config, driver, poll=poll, path=path)
    if driver.is_serial:
        group = PollGroup(poll_class="fast", interval=poll, reads=())
        return Device(
            name=config.name,
            unit=config.unit,
            poll=poll,
            driver=driver,
            channels=channels,
            reads=(),
            requests_saved=0,
            path=path,
            groups=(group,),
        )
    max_registers = min(bus.max_registers, driver.manifest.max_registers or bus.max_registers)
    groups: list[PollGroup] = []
    saved = 0
    classes: tuple[tuple[PollClass, float], ...] = (("fast", poll), ("slow", slow))
    for poll_class, interval in classes:
        members = [c for c in channels.values() if c.spec.poll == poll_class]
        if not members:
            continue
        reads, group_saved = _compile_reads(driver, members, bus=bus, max_registers=max_registers)
        saved += group_saved
        groups.append(
            PollGroup(poll_class=poll_class, interval=interval, reads=reads, saved=group_saved)
        )
    return Device(
        name=config.name,
        unit=config.unit,
        poll=poll,
        driver=driver,
        channels=channels,
        reads=tuple(read for group in groups for read in group.reads),
        requests_saved=saved,
        path=path,
        groups=tuple(groups),
    )


def _compile_reads(
    driver: Driver, members: list[RuntimeChannel], *, bus: BusConfig, max_registers: int
) -> tuple[tuple[CompiledRead, ...], int]:
    """Planned, compiled requests for some channels, and how many requests merging saved."""
    by_name = {c.name: c for c in members}
    plan = plan_reads(
        (
            Point(
                key=c.name,
                register_type=c.spec.register_type,
                address=c.spec.address,
                size=c.spec.width,
            )
            for c in members
        ),
        max_gap=bus.max_gap,
        max_registers=max_registers,
    )
    reads = tuple(
        CompiledRead(
            request=request,
            decoder=driver.compile_block(
                request.register_type,
                request.address,
                request.count,
                [p.key for p in request.points],
            ),
            channels=tuple(by_name[p.key] for p in request.points),
        )
        for request in plan.requests
    )
    return reads, plan.saved


def _check_bus_kind(driver: Driver, bus: BusConfig, *, path: str) -> None:
    """A serial-protocol driver needs a `serial:` bus, a register map a Modbus one."""
    if driver.is_serial and bus.serial is None:
        raise DeviceConfigError(
            f"driver {driver.name} speaks its own serial protocol; put it on a bus with serial:",
            field=f"{path}.driver",
        )
    if not driver.is_serial and bus.serial is not None:
        raise DeviceConfigError(
            f"driver {driver.name} is a Modbus register map; a serial: bus carries "
            "serial-protocol drivers only (use modbus_rtu:)",
            field=f"{path}.driver",
        )


def _slow_interval(config: DeviceConfig, driver: Driver, *, poll: float, path: str) -> float:
    """The slow class's interval: the config's, else the driver's; never faster than poll."""
    if config.poll_slow is not None:
        return max(float(config.poll_slow), poll)
    try:
        default = Duration.parse(driver.manifest.poll_slow)
    except ValueError as exc:
        raise DeviceConfigError(
            f"driver {driver.name} has a bad poll_slow: {exc}", field=f"{path}.poll_slow"
        ) from None
    return max(float(default), poll)


def _policy(spec: Channel, config: DeviceConfig, *, field: str) -> ChannelPolicy:
    """Config override wins over the driver default, separately for range and filters."""
    override = config.channels.get(spec.name)
    range_ = spec.range
    filters: tuple[FilterSpec, ...]
    try:
        filters = tuple(
            msgspec.convert(msgspec.to_builtins(f), FilterSpec, dec_hook=dec_hook)
            for f in spec.filters
        )
    except (msgspec.ValidationError, ValueError) as exc:
        raise DeviceConfigError(f"driver default filters are invalid: {exc}", field=field) from None
    if override is not None:
        range_ = override.range if override.range is not None else range_
        filters = tuple(override.filters) if override.filters else filters
    try:
        return ChannelPolicy(range=range_, filters=filters)
    except ValueError as exc:
        raise DeviceConfigError(str(exc), field=field) from None


def build_bus_devices(
    bus: BusConfig, *, path: str, loader: DriverLoader = load_driver
) -> list[Device]:
    """Every device of one bus, in config order."""
    devices = [
        build_device(device, bus=bus, path=f"{path}.devices[{i}]", loader=loader)
        for i, device in enumerate(bus.devices)
    ]
    streaming = [d for d in devices if d.is_serial and d.driver.new_protocol().mode == "stream"]
    if streaming and len(devices) > 1:
        raise DeviceConfigError(
            f"device {streaming[0].name} streams on its own, so it must be alone on its line",
            field=f"{path}.devices",
        )
    return devices


def check_against_drivers(config: AgentConfig, *, loader: DriverLoader = load_driver) -> None:
    """Raise DeviceConfigError when any device names an unknown driver or channel."""
    for i, bus in enumerate(config.buses):
        build_bus_devices(bus, path=f"buses[{i}]", loader=loader)


def channel_policies(
    config: AgentConfig, *, loader: DriverLoader = load_driver
) -> dict[ChannelKey, ChannelPolicy]:
    """Range and filters of every enabled channel: driver defaults with config overrides."""
    policies: dict[ChannelKey, ChannelPolicy] = {}
    for i, bus in enumerate(config.buses):
        for device in build_bus_devices(bus, path=f"buses[{i}]", loader=loader):
            for channel in device.channels.values():
                policies[(device.name, channel.name)] = channel.policy
    return policies
