"""BusScheduler speaking Modbus RTU over a real pseudo-terminal pair (socat), and bad ports."""

from __future__ import annotations

import asyncio
import logging

import pytest

from drivers.sim.server import DeviceSpec, Simulator
from edge.config_file import parse_config
from edge.model import Reading
from edge.scheduler import BusScheduler, build_schedulers


def config_text(port: str, baud: int) -> str:
    return f"""
device_id: pole-7
buses:
  - name: rs485-1
    modbus_rtu: {{port: {port}, baud: {baud}, parity: N}}
    timeout: 300ms
    retries: 1
    offline_after: 2
    devices:
      - {{name: meter, driver: eastron_sdm120, unit: 1, poll: 200ms}}
      - {{name: env, driver: rs485_env, unit: 2, poll: 200ms}}
      - {{name: ghost, driver: rs485_env, unit: 3, poll: 200ms}}
"""


async def test_rtu_over_pty_with_an_absent_device() -> None:
    specs = [DeviceSpec.parse("eastron_sdm120:1"), DeviceSpec.parse("rs485_env:2")]
    readings: list[Reading] = []
    async with Simulator.for_specs(specs, pty=True) as sim:
        assert sim.pty_path is not None
        # the meter's factory setting, 2400 baud, set on both ends of the pty
        config = parse_config(config_text(sim.pty_path, 2400))
        [scheduler] = build_schedulers(config, sink=readings.extend)
        async with asyncio.TaskGroup() as group:
            task = scheduler.start(group)
            await asyncio.sleep(2.5)
            task.cancel()
    stats = scheduler.stats
    meter, env, ghost = (stats.devices[n] for n in ("meter", "env", "ghost"))
    assert meter.online
    assert meter.polls_ok >= 4
    assert meter.polls_failed == 0
    assert env.online
    assert env.polls_ok >= 4
    assert env.polls_failed == 0
    assert not ghost.online
    assert ghost.polls_ok == 0
    assert ghost.timeouts >= 2
    assert {r.device for r in readings} == {"meter", "env"}
    frequency = [float(r.value) for r in readings if r.channel == "frequency"]
    assert frequency
    assert all(49.9 <= f <= 50.1 for f in frequency)


async def test_missing_serial_port_is_one_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config(config_text("/dev/ttyUSB-polekit-absent", 9600))
    [scheduler] = build_schedulers(config, sink=lambda readings: None)
    with caplog.at_level(logging.INFO, logger="edge.scheduler"):
        assert not await scheduler.poll("meter")
        assert not await scheduler.poll("meter")
    await scheduler.close()
    meter = scheduler.stats.devices["meter"]
    assert meter.last_error is not None
    assert "serial port /dev/ttyUSB-polekit-absent does not exist" in meter.last_error
    assert "USB-RS485 adapter" in meter.last_error
    # no retries against a port that is not there, and one log line, not one per poll
    assert scheduler.stats.requests_sent == 2
    assert len([r for r in caplog.records if "device meter" in r.getMessage()]) == 1


async def test_serial_port_override_from_the_board_profile() -> None:
    specs = [DeviceSpec.parse("rs485_env:2")]
    readings: list[Reading] = []
    async with Simulator.for_specs(specs, pty=True) as sim:
        assert sim.pty_path is not None
        config = parse_config(config_text("/dev/not-used", 4800))
        [scheduler] = build_schedulers(
            config, sink=readings.extend, ports={"rs485-1": sim.pty_path}
        )
        assert isinstance(scheduler, BusScheduler)
        assert await scheduler.poll("env")
        await scheduler.close()
    assert len(readings) == 5
