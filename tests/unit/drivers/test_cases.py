"""Golden case folders (drivers/<name>/cases/<case>/), each served by the driver's simulator.

A case holds registers.yaml (raw registers per table), expected.yaml (readings and the
number of requests a poll takes) and optionally device.yaml (channel overrides). The poll
goes through the real path: planner, Modbus TCP on loopback, pymodbus server, decoder.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from drivers.registry import BUILTIN_ROOT, load_driver
from drivers.sdk.datatypes import RegisterType
from drivers.sim.device import SimulatedDevice
from drivers.sim.server import Simulator
from edge.config import BusConfig, DeviceConfig, ModbusTcpConfig
from edge.devices import build_device
from edge.model import Reading
from edge.scheduler import BusScheduler
from edge.transport.modbus import TcpTransport
from edge.units import dec_hook

CASES = sorted(BUILTIN_ROOT.glob("*/cases/*/expected.yaml"))


class Expected(msgspec.Struct, forbid_unknown_fields=True):
    value: float | int | bool
    unit: str


class Case(msgspec.Struct, forbid_unknown_fields=True):
    readings: dict[str, Expected]
    requests: int


def load_case(folder: Path) -> tuple[Case, dict[RegisterType, dict[int, int]], dict[str, object]]:
    case = msgspec.yaml.decode((folder / "expected.yaml").read_bytes(), type=Case)
    registers = msgspec.yaml.decode(
        (folder / "registers.yaml").read_bytes(), type=dict[RegisterType, dict[int, int]]
    )
    overrides: dict[str, object] = {}
    if (folder / "device.yaml").exists():
        overrides = msgspec.yaml.decode((folder / "device.yaml").read_bytes())
    return case, registers, overrides


def test_every_builtin_driver_has_cases() -> None:
    with_cases = {path.parts[-4] for path in CASES}
    folders = {p.parent.name for p in BUILTIN_ROOT.glob("*/driver.yaml")}
    assert folders <= with_cases


@pytest.mark.parametrize("expected_file", CASES, ids=lambda p: f"{p.parts[-4]}/{p.parts[-2]}")
async def test_case(expected_file: Path) -> None:
    folder = expected_file.parent
    driver_name = folder.parent.parent.name
    case, registers, overrides = load_case(folder)

    device = SimulatedDevice(load_driver(driver_name), 7)
    for table, values in registers.items():
        device.load_registers(table, values)
    config = msgspec.convert(
        {"name": "dut", "driver": driver_name, "unit": 7, **overrides},
        DeviceConfig,
        dec_hook=dec_hook,
    )
    received: list[Reading] = []
    async with Simulator([device], tcp_port=0) as sim:
        assert sim.port is not None
        bus = BusConfig(name="case", modbus_tcp=ModbusTcpConfig(host="127.0.0.1", port=sim.port))
        runtime = build_device(config, bus=bus, path="buses[0].devices[0]")
        scheduler = BusScheduler(
            name="case",
            transport=TcpTransport(host="127.0.0.1", port=sim.port, timeout=2.0),
            devices=[runtime],
            sink=received.extend,
        )
        assert await scheduler.poll("dut")
        await scheduler.close()

    assert scheduler.stats.requests_sent == case.requests
    got = {r.channel: r for r in received}
    assert sorted(got) == sorted(case.readings)
    for name, want in case.readings.items():
        assert got[name].unit == want.unit, name
        assert got[name].value == pytest.approx(want.value, rel=1e-6), name
