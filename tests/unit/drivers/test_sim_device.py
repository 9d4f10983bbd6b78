"""The simulated device: register image from the map, value scripts and faults."""

from __future__ import annotations

import random

import pytest

from drivers.registry import load_driver
from drivers.sdk.codec import bytes_of
from drivers.sdk.datatypes import RegisterType
from drivers.sdk.errors import DriverError
from drivers.sim.device import SimExceptionError, SimSilenceError, SimulatedDevice
from drivers.sim.scripts import Noise, RaisesException, Ramp, Silent, Steady, Stuck, parse_fault
from drivers.sim.server import DeviceSpec


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def env_values(device: SimulatedDevice) -> list[float | int | bool]:
    decoder = device.driver.compile_block(
        RegisterType.HOLDING, 0, 10, ["humidity", "temperature", "noise", "pm2_5", "pm10"]
    )
    return decoder.decode(bytes_of(device.read(RegisterType.HOLDING, 0, 10)))


def test_values_stay_in_realistic_bands() -> None:
    device = SimulatedDevice(load_driver("rs485_env"), 1, clock=FakeClock())
    humidity, temperature, noise, pm25, pm10 = env_values(device)
    assert 52 <= humidity <= 58
    assert 21.5 <= temperature <= 22.5
    assert 30 <= noise <= 64
    assert 27 <= pm25 <= 43
    assert 50 <= pm10 <= 74


def test_stuck_freezes_and_release_moves_again() -> None:
    clock = FakeClock()
    device = SimulatedDevice(load_driver("eastron_sdm120"), 1, clock=clock)
    first = device.read(RegisterType.INPUT, 0, 38)
    device.fault = Stuck()
    clock.now += 10
    assert device.read(RegisterType.INPUT, 0, 38) == first
    device.fault = None
    assert device.read(RegisterType.INPUT, 0, 38) != first


def test_exception_and_silence_faults() -> None:
    device = SimulatedDevice(load_driver("rs485_env"), 1)
    device.fault = RaisesException(6)
    with pytest.raises(SimExceptionError) as caught:
        device.read(RegisterType.HOLDING, 0, 10)
    assert caught.value.code == 6
    device.fault = Silent()
    with pytest.raises(SimSilenceError):
        device.read(RegisterType.HOLDING, 0, 10)


def test_reads_outside_the_map_are_illegal_address() -> None:
    device = SimulatedDevice(load_driver("rs485_env"), 1)
    with pytest.raises(SimExceptionError) as caught:
        device.read(RegisterType.INPUT, 0, 1)
    assert caught.value.code == 2
    with pytest.raises(SimExceptionError):
        device.read(RegisterType.HOLDING, 0x07D0, 3)  # writable points end at 0x07D1
    assert device.read(RegisterType.HOLDING, 0x0005, 4) == [0, 0, 0, 0]  # reserved: zeros


def test_writes_are_read_back() -> None:
    device = SimulatedDevice(load_driver("rs485_env"), 1)
    device.write(RegisterType.HOLDING, 0x07D0, [7])
    assert device.read(RegisterType.HOLDING, 0x07D0, 1) == [7]


def test_pinned_value() -> None:
    device = SimulatedDevice(load_driver("rs485_env"), 1)
    device.set_value("temperature", -12.5)
    assert env_values(device)[1] == -12.5


def test_scripts() -> None:
    assert Steady(level=3.0).value(99) == 3.0
    assert Ramp(start=10.0, rate=0.5).value(4) == 12.0
    assert Ramp(start=0.0, rate=1.0, low=0.0, high=10.0).value(25) == 5.0
    noise = Noise(centre=0.0, amplitude=1.0, low=-0.5, rng=random.Random(1))
    assert all(-0.5 <= noise.value(0) <= 1.0 for _ in range(200))


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("stuck", Stuck()),
        ("silent", Silent()),
        ("exception", RaisesException(4)),
        ("exception=2", RaisesException(2)),
    ],
)
def test_parse_fault(text: str, fault: object) -> None:
    assert parse_fault(text) == fault


@pytest.mark.parametrize("text", ["loud", "exception=99", "exception=x", "stuck=1"])
def test_parse_fault_rejects(text: str) -> None:
    with pytest.raises(DriverError, match="unknown fault"):
        parse_fault(text)


def test_bit_fields_share_a_register_and_a_reset_clears_latched_flags() -> None:

    device = SimulatedDevice(load_driver("streetlight_dimmer"), 1)
    device.set_value("lamp_failure", True)
    device.set_value("over_temperature", True)
    assert device.read(RegisterType.INPUT, 8, 1) == [0x0021]
    assert device.read(RegisterType.INPUT, 16, 2) == [0x534C, 0x432D]  # "SLC-"
    device.write(RegisterType.COIL, 1, [1])  # reset_faults
    assert device.read(RegisterType.INPUT, 8, 1) == [0]
    assert device.read(RegisterType.COIL, 1, 1) == [0]  # the reset coil clears itself


def test_emergency_call_stays_latched_until_reset() -> None:

    device = SimulatedDevice(load_driver("emergency_button"), 1)
    device.set_value("call", True)
    assert device.read(RegisterType.DISCRETE_INPUT, 0, 2) == [1, 0]
    device.write(RegisterType.COIL, 1, [1])  # the beacon does not clear the call
    assert device.read(RegisterType.DISCRETE_INPUT, 0, 1) == [1]
    device.write(RegisterType.COIL, 0, [1])
    assert device.read(RegisterType.DISCRETE_INPUT, 0, 1) == [0]


def test_device_spec_options() -> None:
    spec = DeviceSpec.parse("pole_tilt:9:baud=19200:silent")
    assert (spec.unit, spec.baud, spec.fault) == (9, 19200, Silent())
    assert DeviceSpec.parse("nmea_gnss:1:period=0.2").period == 0.2
    with pytest.raises(DriverError, match="bad option"):
        DeviceSpec.parse("pole_tilt:9:baud=fast")
