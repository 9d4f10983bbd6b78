"""Compile a driver's register map into the compact form the MicroPython agent loads (.pkd).

Integrators write a driver once (driver.yaml); this plans its reads with the CPython agent's
planner and resolves every default, so the micro agent only unpacks bytes. The layout is
documented in edge/micro/registers.py; decoding there mirrors drivers.sdk.codec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.sdk.codec import _scaling, _source  # the exact scaling/byte-order rules
from drivers.sdk.datatypes import LAYOUTS, DataType, RegisterType
from drivers.sdk.driver import Channel, Driver
from drivers.sdk.manifest import FilterDefault
from edge.planner import Point, plan_reads
from edge.units import Duration
from protocol.core import cbor

FORMAT_VERSION = 1
FUNCTION_CODES = {
    RegisterType.COIL: 1,
    RegisterType.DISCRETE_INPUT: 2,
    RegisterType.HOLDING: 3,
    RegisterType.INPUT: 4,
}


def compile_driver(driver: Driver, *, max_gap: int = 10) -> dict[str, Any]:
    """The .pkd document of a driver: planned reads, field layouts, default policies.

    ValueError names what the micro agent cannot do: serial-protocol drivers, strings, bit
    fields, enums and window filters.
    """
    if driver.manifest.protocol is not None:
        raise ValueError(f"driver {driver.name}: serial-protocol drivers need the gateway agent")
    for channel in driver.channels.values():
        _check_supported(driver.name, channel)
    points = [
        Point(key=c.name, register_type=c.register_type, address=c.address, size=c.width)
        for c in driver.channels.values()
    ]
    plan = plan_reads(points, max_gap=max_gap, max_registers=driver.manifest.max_registers or 125)
    reads = []
    for request in plan.requests:
        fields = [_field(driver.channels[p.key], request.address) for p in request.points]
        reads.append(
            [FUNCTION_CODES[request.register_type], request.address, request.count, fields]
        )
    policies = {}
    for channel in driver.channels.values():
        policy = _policy(channel)
        if policy:
            policies[channel.name] = policy
    return {"v": FORMAT_VERSION, "name": driver.name, "reads": reads, "policies": policies}


def write_compiled(driver: Driver, folder: Path) -> Path:
    """Write NAME.pkd into folder; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{driver.name}.pkd"
    path.write_bytes(cbor.dumps(compile_driver(driver)))
    return path


def _check_supported(driver: str, channel: Channel) -> None:
    spec = channel.field_at(channel.address)
    unsupported = (
        "strings"
        if channel.data_type is DataType.STRING
        else "bit fields"
        if spec.bit is not None
        else "enums"
        if spec.enum
        else None
    )
    if unsupported is not None:
        raise ValueError(f"{driver}.{channel.name}: {unsupported} are not on the micro agent")


def _field(channel: Channel, start: int) -> list[Any]:
    layout = LAYOUTS[channel.data_type]
    swapped, endian = _source(channel.order)
    scaled = channel.scale != 1.0 or channel.offset != 0.0
    multiplier, divisor = _scaling(channel.scale) if scaled else (None, None)
    return [
        channel.name,
        channel.address - start,
        "?" if channel.register_type.is_bit else layout.struct_code,
        swapped,
        endian == "<",
        multiplier,
        divisor,
        float(channel.offset),
        channel.unit,
    ]


def _policy(channel: Channel) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if channel.range is not None:
        policy["range"] = [float(channel.range[0]), float(channel.range[1])]
    steps = [_step(channel.name, step) for step in channel.filters]
    if steps:
        policy["filters"] = steps
    return policy


def _step(channel: str, step: FilterDefault) -> dict[str, Any]:
    if step.window is not None or step.aggregate is not None:
        raise ValueError(f"channel {channel}: window filters are not available on the micro agent")
    if step.heartbeat is not None:
        return {"heartbeat": float(Duration.parse(step.heartbeat))}
    for name in ("deadband", "deadband_percent", "on_change"):
        value = getattr(step, name)
        if value is not None:
            return {name: value}
    raise ValueError(f"channel {channel}: empty filter step")
