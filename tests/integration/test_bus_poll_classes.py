"""Fast and slow poll classes: energy counters are read less often than volts and amps."""

from __future__ import annotations

import asyncio
from collections import Counter

import msgspec

from drivers.registry import load_driver
from drivers.sim.server import DeviceSpec, Simulator
from edge.config import BusConfig, DeviceConfig, ModbusTcpConfig
from edge.devices import build_device
from edge.model import Reading
from edge.scheduler import BusScheduler
from edge.transport.modbus import TcpTransport
from edge.units import dec_hook


def device_config(**fields: object) -> DeviceConfig:
    return msgspec.convert(
        {"name": "feeder", "driver": "eastron_sdm630", "unit": 1, **fields},
        DeviceConfig,
        dec_hook=dec_hook,
    )


def test_groups_split_the_map_by_class() -> None:
    bus = BusConfig(name="lan", modbus_tcp=ModbusTcpConfig(host="127.0.0.1"))
    device = build_device(device_config(poll="1s"), bus=bus, path="d")
    fast, slow = device.groups
    assert (fast.poll_class, fast.interval) == ("fast", 1.0)
    assert (slow.poll_class, slow.interval) == ("slow", 300.0)  # the driver's poll_slow: 5m
    slow_names = {c.name for read in slow.reads for c in read.channels}
    assert "total_active_energy" in slow_names
    assert "voltage_l1" not in slow_names
    assert len(device.reads) == len(fast.reads) + len(slow.reads) == 6
    # the config overrides the driver's default, and never polls slow faster than fast
    assert build_device(device_config(poll_slow="1m"), bus=bus, path="d").groups[1].interval == 60
    clamped = build_device(device_config(poll="10s", poll_slow="1s"), bus=bus, path="d")
    assert clamped.groups[1].interval == 10.0
    # a driver without slow channels has one group
    one = build_device(
        DeviceConfig(name="env", driver="rs485_env"), bus=bus, path="d", loader=load_driver
    )
    assert [g.poll_class for g in one.groups] == ["fast"]


async def test_slow_channels_are_read_less_often() -> None:
    readings: list[Reading] = []
    async with Simulator.for_specs([DeviceSpec.parse("eastron_sdm630:1")], tcp_port=0) as sim:
        assert sim.port is not None
        bus = BusConfig(name="lan", modbus_tcp=ModbusTcpConfig(host="127.0.0.1", port=sim.port))
        device = build_device(device_config(poll="100ms", poll_slow="500ms"), bus=bus, path="d")
        scheduler = BusScheduler(
            name="lan",
            transport=TcpTransport(host="127.0.0.1", port=sim.port, timeout=1.0),
            devices=[device],
            sink=readings.extend,
        )
        async with asyncio.TaskGroup() as group:
            task = scheduler.start(group)
            await asyncio.sleep(1.45)
            task.cancel()
    counts = Counter(r.channel for r in readings)
    assert 13 <= counts["voltage_l1"] <= 16  # t = 0, 0.1, ... 1.4
    assert counts["total_active_energy"] == 3  # t = 0, 0.5, 1.0
    assert counts["voltage_thd_l1"] == counts["import_active_energy"] == 3
    assert scheduler.stats.devices["feeder"].polls_failed == 0
