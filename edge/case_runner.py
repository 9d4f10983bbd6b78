"""Run a driver's golden cases against its simulator through the agent's own read path.

Each case is served by the driver's simulator (Modbus TCP on loopback, Modbus RTU or the
driver's serial protocol on a pty) and polled once by a BusScheduler: the planner, the
transport, the decoder and the serial framing are all the real ones. `polekit driver
test` and the test suite both call run_case.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from drivers.registry import DriverLoader
from drivers.sdk.cases import Case
from drivers.sdk.driver import Driver
from drivers.sim.device import SimulatedDevice
from drivers.sim.scripts import parse_fault
from drivers.sim.serial_device import SimulatedSerialDevice
from drivers.sim.server import Simulator
from edge.config import BusConfig, DeviceConfig, ModbusRtuConfig, ModbusTcpConfig, SerialConfig
from edge.devices import build_device
from edge.model import Reading
from edge.scheduler import BusScheduler
from edge.serial_session import SerialSession
from edge.transport.modbus import ModbusTransport, RtuTransport, TcpTransport
from edge.transport.serial import SerialLine
from edge.units import dec_hook

Transport = Literal["tcp", "rtu", "serial"]
UNIT = 7
"""Cases run at an unusual unit id so a device that ignores the id is caught."""


@dataclass(kw_only=True)
class CaseResult:
    """What one case run found; ok when problems is empty."""

    case: str
    transport: Transport
    problems: list[str] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every expectation held."""
        return not self.problems


def transports_for(driver: Driver) -> tuple[Transport, ...]:
    """Where a driver's cases run: serial protocols on a pty, register maps over TCP and RTU."""
    return ("serial",) if driver.is_serial else ("tcp", "rtu")


def _simulated(driver: Driver, case: Case) -> SimulatedDevice | SimulatedSerialDevice:
    device: SimulatedDevice | SimulatedSerialDevice
    if driver.is_serial:
        device = SimulatedSerialDevice(driver, UNIT, period=0.05)
        if case.frames:
            device.load_frames(case.frames)
    else:
        device = SimulatedDevice(driver, UNIT)
        for table, values in case.registers.items():
            device.load_registers(table, values)
    device.fault = parse_fault(case.fault) if case.fault else None
    return device


async def run_case(
    driver: Driver, case: Case, *, transport: Transport, loader: DriverLoader, patience: float = 1.0
) -> CaseResult:
    """Serve the case, poll it once through the agent's path, compare with expected.yaml."""
    result = CaseResult(case=case.name, transport=transport)
    config = msgspec.convert(
        {"name": "dut", "driver": driver.name, "unit": UNIT, **case.device},
        DeviceConfig,
        dec_hook=dec_hook,
    )
    serial = driver.manifest.serial
    device = _simulated(driver, case)
    async with Simulator([device], tcp_port=0 if transport == "tcp" else None,
                         pty=transport != "tcp", serial=serial) as sim:  # fmt: skip
        bus, client = _bus(sim, transport, driver, patience)
        runtime = build_device(config, bus=bus, path="device", loader=loader)
        if isinstance(client, SerialLine):
            session = SerialSession(client, [runtime], timeout=patience)
            scheduler = BusScheduler(
                name="case", transport=session, devices=[runtime], sink=result.readings.extend
            )
        else:
            scheduler = BusScheduler(
                name="case", transport=client, devices=[runtime], sink=result.readings.extend
            )
        try:
            ok = await scheduler.poll("dut")
        finally:
            await scheduler.close()
    _compare(case, result, ok=ok, health_error=scheduler.stats.devices["dut"].last_error)
    if case.expected.requests is not None and transport != "serial":
        sent = scheduler.stats.requests_sent
        if sent != case.expected.requests:
            result.problems.append(f"{case.expected.requests} request(s) expected, {sent} sent")
    return result


def _bus(
    sim: Simulator, transport: Transport, driver: Driver, timeout: float
) -> tuple[BusConfig, ModbusTransport | SerialLine]:
    if transport == "tcp":
        assert sim.port is not None
        tcp = ModbusTcpConfig(host="127.0.0.1", port=sim.port)
        client = TcpTransport(host="127.0.0.1", port=sim.port, timeout=timeout)
        return BusConfig(name="case", modbus_tcp=tcp), client
    assert sim.pty_path is not None
    # A pty carries no parity bit and Linux refuses some parity changes on one (EINVAL),
    # so cases run 8N1 at the driver's baud; parity is the wire's business, not the codec's.
    s = msgspec.structs.replace(driver.manifest.serial, parity="N")
    if transport == "serial":
        line = SerialLine(port=sim.pty_path, baud=s.baud, parity=s.parity, stopbits=s.stopbits,
                          bytesize=s.bytesize)  # fmt: skip
        config = SerialConfig(port=sim.pty_path, baud=s.baud, parity=s.parity,
                              stopbits=s.stopbits, bytesize=s.bytesize)  # fmt: skip
        return BusConfig(name="case", serial=config), line
    rtu = RtuTransport(port=sim.pty_path, baud=s.baud, parity=s.parity, stopbits=s.stopbits,
                       bytesize=s.bytesize, timeout=timeout)  # fmt: skip
    rtu_config = ModbusRtuConfig(port=sim.pty_path, baud=s.baud, parity=s.parity,
                                 stopbits=s.stopbits, bytesize=s.bytesize)  # fmt: skip
    return BusConfig(name="case", modbus_rtu=rtu_config), rtu


def _compare(case: Case, result: CaseResult, *, ok: bool, health_error: str | None) -> None:
    expected = case.expected
    problems = result.problems
    if expected.error is not None:
        if ok:
            problems.append(f"expected an error containing {expected.error!r}, the poll succeeded")
        elif expected.error not in (health_error or ""):
            problems.append(f"expected an error containing {expected.error!r}, got {health_error}")
    elif not ok:
        problems.append(f"the poll failed: {health_error}")
    got = {r.channel: r for r in result.readings}
    missing = sorted(set(expected.readings) - set(got))
    extra = sorted(set(got) - set(expected.readings))
    if missing:
        problems.append(f"missing readings: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected readings: {', '.join(extra)}")
    for name, want in expected.readings.items():
        reading = got.get(name)
        if reading is None:
            continue
        if reading.unit != want.unit:
            problems.append(f"{name}: unit {reading.unit!r}, expected {want.unit!r}")
        if not _same(reading.value, want.value):
            problems.append(f"{name}: {reading.value!r}, expected {want.value!r}")


def _same(got: object, want: object) -> bool:
    if isinstance(want, bool) or isinstance(got, bool) or isinstance(want, str):
        return got == want
    if isinstance(got, int | float) and isinstance(want, int | float):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    return False


async def run_cases(
    driver: Driver, cases: Sequence[Case], *, loader: DriverLoader
) -> list[CaseResult]:
    """Every case over every transport the driver supports, one after another."""
    return [
        await run_case(driver, case, transport=transport, loader=loader)
        for case in cases
        for transport in transports_for(driver)
    ]


def run_cases_sync(
    driver: Driver, cases: Sequence[Case], *, loader: DriverLoader
) -> list[CaseResult]:
    """run_cases for a command-line tool that has no event loop yet."""
    return asyncio.run(run_cases(driver, cases, loader=loader))
