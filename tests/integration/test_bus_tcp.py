"""BusScheduler against simulated devices over real Modbus TCP sockets on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import msgspec
import pytest

from drivers.sim.process import SimulatorProcess
from drivers.sim.scripts import RaisesException, Silent
from drivers.sim.server import DeviceSpec, Simulator
from edge.config import BusConfig, DeviceConfig, ModbusTcpConfig
from edge.devices import build_device
from edge.model import Reading
from edge.scheduler import BusScheduler
from edge.transport.modbus import TcpTransport
from edge.units import dec_hook

# (device name, driver, unit, poll seconds)
DeviceRow = tuple[str, str, int, float]


def scheduler_for(
    port: int,
    rows: Sequence[DeviceRow],
    sink: list[Reading],
    *,
    timeout: float = 0.5,
    retries: int = 1,
    offline_after: int = 2,
) -> BusScheduler:
    bus = BusConfig(name="lan", modbus_tcp=ModbusTcpConfig(host="127.0.0.1", port=port))
    devices = [
        build_device(
            msgspec.convert(
                {"name": name, "driver": driver, "unit": unit, "poll": poll},
                DeviceConfig,
                dec_hook=dec_hook,
            ),
            bus=bus,
            path=f"buses[0].devices[{i}]",
        )
        for i, (name, driver, unit, poll) in enumerate(rows)
    ]
    return BusScheduler(
        name="lan",
        transport=TcpTransport(host="127.0.0.1", port=port, timeout=timeout),
        devices=devices,
        sink=sink.extend,
        retries=retries,
        offline_after=offline_after,
    )


async def run_for(scheduler: BusScheduler, seconds: float) -> None:
    async with asyncio.TaskGroup() as group:
        task = scheduler.start(group)
        assert task.get_name() == "bus:lan"
        await asyncio.sleep(seconds)
        task.cancel()


def sim_specs(*texts: str) -> list[DeviceSpec]:
    return [DeviceSpec.parse(text) for text in texts]


async def test_two_devices_polled_at_their_intervals() -> None:
    readings: list[Reading] = []
    async with Simulator.for_specs(sim_specs("eastron_sdm120:1", "rs485_env:2"), tcp_port=0) as sim:
        assert sim.port is not None
        scheduler = scheduler_for(
            sim.port, [("meter", "eastron_sdm120", 1, 0.2), ("env", "rs485_env", 2, 0.3)], readings
        )
        await run_for(scheduler, 1.5)
    stats = scheduler.stats
    meter, env = stats.devices["meter"], stats.devices["env"]
    # 1.5 s at 0.2 s and 0.3 s is 8 and 6 polls; generous bounds for slow machines
    assert 4 <= meter.polls_ok <= 9
    assert 3 <= env.polls_ok <= 7
    assert stats.polls_failed == 0
    assert stats.requests_sent == meter.polls_ok * 3 + env.polls_ok
    assert stats.requests_saved == meter.polls_ok * 11 + env.polls_ok * 4
    assert stats.values_read == len(readings) == meter.polls_ok * 14 + env.polls_ok * 5
    voltages = [r.value for r in readings if r.channel == "voltage"]
    assert all(226 <= float(v) <= 234 for v in voltages)
    assert {r.unit for r in readings if r.device == "env"} == {"%RH", "Cel", "dB", "ug/m3"}
    assert meter.online
    assert meter.last_reading_ts is not None
    assert abs(meter.last_reading_ts - time.time()) < 5


async def test_exception_device_is_counted_and_others_unaffected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    readings: list[Reading] = []
    async with Simulator.for_specs(
        sim_specs("rs485_env:1", "rs485_env:2:exception=2"), tcp_port=0
    ) as sim:
        assert sim.port is not None
        scheduler = scheduler_for(
            sim.port, [("good", "rs485_env", 1, 0.1), ("bad", "rs485_env", 2, 0.1)], readings
        )
        with caplog.at_level(logging.INFO, logger="edge.scheduler"):
            await run_for(scheduler, 1.0)
    good, bad = scheduler.stats.devices["good"], scheduler.stats.devices["bad"]
    assert good.online
    assert good.polls_failed == 0
    assert good.polls_ok >= 5
    assert not bad.online
    assert bad.polls_ok == 0
    assert bad.exceptions == bad.polls_failed >= 2
    assert bad.last_error == (
        "unit 2 answered Modbus exception 2 (illegal data address) at address 0"
    )
    assert {r.device for r in readings} == {"good"}
    failing = [r for r in caplog.records if "device bad" in r.getMessage()]
    assert len(failing) == 1
    assert "is failing" in failing[0].getMessage()


async def test_silent_device_goes_offline_without_stalling_the_others() -> None:
    readings: list[Reading] = []
    async with Simulator.for_specs(
        sim_specs("rs485_env:1", "rs485_env:2:silent"), tcp_port=0
    ) as sim:
        assert sim.port is not None
        scheduler = scheduler_for(
            sim.port,
            [("healthy", "rs485_env", 1, 0.1), ("quiet", "rs485_env", 2, 0.1)],
            readings,
            timeout=0.15,
            retries=1,
            offline_after=2,
        )
        await run_for(scheduler, 3.0)
    healthy = scheduler.stats.devices["healthy"]
    quiet = scheduler.stats.devices["quiet"]
    assert not quiet.online
    assert quiet.polls_ok == 0
    assert quiet.timeouts == quiet.polls_failed >= 2
    assert "did not answer within 0.15s" in (quiet.last_error or "")
    # 3 s at 0.1 s is 30 polls; the silent device costs a few timeouts before and after
    # going offline, then backs off, so the healthy device keeps well over half its rate.
    assert healthy.polls_ok >= 15
    assert healthy.polls_failed == 0
    # the silent device was asked far less often than its interval would demand
    assert quiet.polls_failed <= 12


async def test_recovery_is_logged_once_and_readings_stay_when_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    readings: list[Reading] = []
    async with Simulator.for_specs(sim_specs("rs485_env:5"), tcp_port=0) as sim:
        assert sim.port is not None
        scheduler = scheduler_for(
            sim.port, [("env", "rs485_env", 5, 0.1)], readings, timeout=0.1, offline_after=2
        )
        health = scheduler.stats.devices["env"]
        with caplog.at_level(logging.INFO, logger="edge.scheduler"):
            async with asyncio.TaskGroup() as group:
                task = scheduler.start(group)
                await asyncio.sleep(0.35)
                assert health.online
                assert health.polls_ok >= 1
                sim.device(5).fault = Silent()
                await _until(lambda: not health.online)
                assert set(health.last_readings) == {
                    "humidity",
                    "temperature",
                    "noise",
                    "pm2_5",
                    "pm10",
                }  # stale, not vanished
                sim.device(5).fault = None
                await _until(lambda: health.online)
                await asyncio.sleep(0.3)
                task.cancel()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is failing" in m for m in messages) == 1
    assert sum("recovered after" in m for m in messages) == 1
    assert health.consecutive_failures == 0
    assert health.last_error is None


async def test_exception_then_recovery_on_a_shared_connection() -> None:
    readings: list[Reading] = []
    async with Simulator.for_specs(sim_specs("eastron_sdm120:1"), tcp_port=0) as sim:
        assert sim.port is not None
        scheduler = scheduler_for(sim.port, [("meter", "eastron_sdm120", 1, 0.05)], readings)
        sim.device(1).fault = RaisesException(4)
        assert not await scheduler.poll("meter")
        # an exception answer fails that block only; the meter's other blocks are still tried
        assert scheduler.stats.devices["meter"].exceptions == 3
        sim.device(1).fault = None
        assert await scheduler.poll("meter")
        await scheduler.close()
    assert len(readings) == 14


async def test_simulator_in_a_separate_process() -> None:
    readings: list[Reading] = []
    async with SimulatorProcess(["rs485_env:1", "eastron_sdm120:2"]) as proc:
        scheduler = scheduler_for(
            proc.port, [("env", "rs485_env", 1, 1.0), ("meter", "eastron_sdm120", 2, 1.0)], readings
        )
        assert await scheduler.poll("env")
        assert await scheduler.poll("meter")
        await scheduler.close()
    assert proc.endpoint["units"] == [1, 2]
    assert len(readings) == 5 + 14


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5.0):
        while not condition():  # noqa: ASYNC110  # stats have no event to await
            await asyncio.sleep(0.02)


async def test_reconnects_after_the_gateway_restarts() -> None:
    readings: list[Reading] = []
    async with Simulator.for_specs(sim_specs("rs485_env:1"), tcp_port=0) as first:
        assert first.port is not None
        port = first.port
        scheduler = scheduler_for(port, [("env", "rs485_env", 1, 1.0)], readings, timeout=0.3)
        assert await scheduler.poll("env")
    # the gateway is down: a typed, counted failure, not an exception out of the scheduler
    assert not await scheduler.poll("env")
    health = scheduler.stats.devices["env"]
    assert health.consecutive_failures == 1
    async with Simulator.for_specs(sim_specs("rs485_env:1"), tcp_port=port):
        assert await scheduler.poll("env")
        await scheduler.close()
    assert health.consecutive_failures == 0
    assert len(readings) == 10


async def test_cancel_always_stops_a_flat_out_scheduler() -> None:
    # Cancelling while a response is arriving used to be swallowed (asyncio.wait_for in
    # Python 3.11); many cancels at random moments must each stop the task promptly.
    readings: list[Reading] = []
    async with Simulator.for_specs(sim_specs("rs485_env:1", "rs485_env:2"), tcp_port=0) as sim:
        assert sim.port is not None
        for attempt in range(30):
            scheduler = scheduler_for(
                sim.port, [("a", "rs485_env", 1, 0.0), ("b", "rs485_env", 2, 0.0)], readings
            )
            task = asyncio.create_task(scheduler.run(), name="bus:lan")
            await asyncio.sleep(0.01 + (attempt % 7) * 0.003)
            task.cancel()
            # asyncio.wait does not cancel on timeout, so a swallowed cancel fails fast here
            await asyncio.wait({task}, timeout=3.0)
            assert task.cancelled(), f"cancel {attempt} was swallowed"
    assert readings
