"""Serial-protocol drivers on a `serial:` bus: a PMS5003 and a GNSS receiver streaming on a pty.

The config, the scheduler, the pyserial line read through the event loop, the driver's
framing and decoding are the agent's own; the device is the driver's simulator.
"""

from __future__ import annotations

import asyncio

import pytest

from drivers.sim.scripts import Silent
from drivers.sim.server import DeviceSpec, Simulator
from edge.config_file import parse_config
from edge.devices import DeviceConfigError, check_against_drivers
from edge.model import Reading
from edge.scheduler import build_schedulers


def config(port: str, driver: str, *, baud: int = 9600, extra: str = "") -> str:
    return f"""
device_id: pole-9
buses:
  - name: uart-1
    serial: {{port: {port}, baud: {baud}}}
    timeout: 400ms
    offline_after: 2
    devices:
      - {{name: dust, driver: {driver}, poll: 200ms}}
{extra}"""


async def run(config_text: str, seconds: float) -> tuple[list[Reading], object]:
    readings: list[Reading] = []
    [scheduler] = build_schedulers(parse_config(config_text), sink=readings.extend)
    async with asyncio.TaskGroup() as group:
        task = scheduler.start(group)
        await asyncio.sleep(seconds)
        task.cancel()
    return readings, scheduler.stats.devices["dust"]


async def test_pms5003_stream_is_polled_from_a_serial_bus() -> None:
    spec = DeviceSpec.parse("plantower_pms5003:1:period=0.1")
    async with Simulator.for_specs([spec], pty=True) as sim:
        assert sim.pty_path is not None
        readings, health = await run(config(sim.pty_path, "plantower_pms5003"), 1.2)
    assert health.online  # type: ignore[attr-defined]
    assert health.polls_ok >= 4  # type: ignore[attr-defined]
    pm25 = [r for r in readings if r.channel == "pm2_5"]
    assert len(pm25) >= 4
    assert all(r.unit == "ug/m3" and 0 <= r.value <= 100 for r in pm25)
    assert {r.channel for r in readings} == {
        "pm1_0", "pm2_5", "pm10", "pm1_0_cf1", "pm2_5_cf1", "pm10_cf1",
        "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10",
    }  # fmt: skip


async def test_gnss_position_from_nmea_sentences() -> None:
    spec = DeviceSpec.parse("nmea_gnss:1:period=0.1")
    async with Simulator.for_specs([spec], pty=True) as sim:
        assert sim.pty_path is not None
        readings, _ = await run(config(sim.pty_path, "nmea_gnss"), 0.8)
    latest = {r.channel: r for r in readings}
    assert latest["latitude"].value == pytest.approx(30.657, abs=1e-3)
    assert latest["longitude"].unit == "lon"
    assert latest["fix_quality"].value == "gps"
    assert latest["fix_valid"].value is True


async def test_silent_sensor_and_wrong_baud_go_offline() -> None:
    silent = DeviceSpec.parse("plantower_pms5003:1:period=0.1:silent")
    async with Simulator.for_specs([silent], pty=True) as sim:
        assert sim.pty_path is not None
        readings, health = await run(config(sim.pty_path, "plantower_pms5003"), 1.2)
    assert readings == []
    assert not health.online  # type: ignore[attr-defined]
    assert "sent no valid frame within 0.4s" in str(health.last_error)  # type: ignore[attr-defined]

    spec = DeviceSpec.parse("plantower_pms5003:1:period=0.1")
    async with Simulator.for_specs([spec], pty=True) as sim:
        assert sim.pty_path is not None
        readings, health = await run(config(sim.pty_path, "plantower_pms5003", baud=4800), 1.3)
    assert readings == []  # the sensor talks at 9600; at 4800 the line carries nothing usable
    assert health.timeouts >= 2  # type: ignore[attr-defined]
    assert sim.serial_device(1).frames_sent == 0


async def test_silence_then_recovery() -> None:
    spec = DeviceSpec.parse("plantower_pms5003:1:period=0.1")
    async with Simulator.for_specs([spec], pty=True) as sim:
        assert sim.pty_path is not None
        sim.serial_device(1).fault = Silent()
        readings: list[Reading] = []
        [scheduler] = build_schedulers(
            parse_config(config(sim.pty_path, "plantower_pms5003")), sink=readings.extend
        )
        async with asyncio.TaskGroup() as group:
            task = scheduler.start(group)
            await asyncio.sleep(1.3)  # two 400 ms timeouts 200 ms apart: offline
            assert not scheduler.stats.devices["dust"].online
            sim.serial_device(1).fault = None
            await asyncio.sleep(1.5)
            task.cancel()
    assert scheduler.stats.devices["dust"].online
    assert readings


def test_serial_driver_needs_a_serial_bus_and_vice_versa() -> None:
    wrong = parse_config(
        "device_id: p\nbuses:\n  - name: b\n    modbus_rtu: {port: /dev/x}\n"
        "    devices: [{name: gps, driver: nmea_gnss}]\n"
    )
    with pytest.raises(DeviceConfigError, match="speaks its own serial protocol") as caught:
        check_against_drivers(wrong)
    assert caught.value.field == "buses[0].devices[0].driver"
    wrong = parse_config(config("/dev/x", "rs485_env"))
    with pytest.raises(DeviceConfigError, match="is a Modbus register map"):
        check_against_drivers(wrong)


def test_a_streaming_device_is_alone_on_its_line() -> None:
    two = parse_config(
        config("/dev/x", "plantower_pms5003", extra="      - {name: gps, driver: nmea_gnss}\n")
    )
    with pytest.raises(DeviceConfigError, match="must be alone on its line") as caught:
        check_against_drivers(two)
    assert caught.value.field == "buses[0].devices"


def test_a_bus_is_exactly_one_kind() -> None:
    from edge.config_file import ConfigError

    with pytest.raises(ConfigError, match="exactly one of modbus_rtu or modbus_tcp"):
        parse_config(
            "device_id: p\nbuses:\n  - {name: b, serial: {port: /dev/x}, modbus_tcp: {host: h}}\n"
        )
