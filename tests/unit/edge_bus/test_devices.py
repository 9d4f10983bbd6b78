"""Runtime devices: driver defaults, config overrides, field paths in errors."""

from __future__ import annotations

import pytest

from drivers.sdk.datatypes import RegisterType
from edge.config import AgentConfig
from edge.config_file import parse_config
from edge.devices import (
    DeviceConfigError,
    build_bus_devices,
    channel_policies,
    check_against_drivers,
)

CONFIG = """
device_id: pole-1
buses:
  - name: rs485-1
    modbus_rtu: {port: /dev/ttyUSB0}
    devices:
      - {name: meter, driver: eastron_sdm120, unit: 1, poll: 10s}
      - name: env
        driver: rs485_env
        unit: 2
        poll: 30s
        channels:
          pm2_5: {filters: [{deadband: 5}, {heartbeat: 5m}], range: [0, 500]}
          humidity: {range: [5, 95]}
          noise: {enabled: false}
"""


def config(text: str = CONFIG) -> AgentConfig:
    return parse_config(text)


def test_plan_of_the_meter() -> None:
    meter, _ = build_bus_devices(config().buses[0], path="buses[0]")
    spans = [(r.request.register_type, r.request.address, r.request.count) for r in meter.reads]
    assert spans == [
        (RegisterType.INPUT, 0x0000, 38),
        (RegisterType.INPUT, 0x0046, 10),
        (RegisterType.INPUT, 0x0156, 4),
    ]
    assert meter.requests_saved == 14 - 3
    assert meter.poll == 10.0


def test_overrides_win_and_disabled_channels_vanish() -> None:
    _, env = build_bus_devices(config().buses[0], path="buses[0]")
    assert "noise" not in env.channels
    pm = env.policy("pm2_5")
    assert pm.range == (0.0, 500.0)
    assert [f.deadband for f in pm.filters] == [5.0, None]
    assert pm.filters[1].heartbeat == 300.0
    humidity = env.policy("humidity")
    assert humidity.range == (5.0, 95.0)  # range overridden ...
    assert humidity.filters[0].deadband == 1.0  # ... filters still the driver's
    temperature = env.policy("temperature")
    assert temperature.range == (-40.0, 80.0)
    assert temperature.filters[1].heartbeat == 600.0  # "10m" in driver.yaml


def test_channel_policies_cover_every_enabled_channel() -> None:
    policies = channel_policies(config())
    assert ("meter", "voltage") in policies
    assert ("env", "noise") not in policies
    assert len(policies) == 14 + 4


def test_unknown_driver_names_the_field() -> None:
    text = CONFIG.replace("driver: rs485_env", "driver: rs485_envv")
    with pytest.raises(DeviceConfigError) as caught:
        check_against_drivers(config(text))
    assert caught.value.field == "buses[0].devices[1].driver"
    assert "unknown driver 'rs485_envv'" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unknown_channel_names_the_field() -> None:
    text = CONFIG.replace("pm2_5: {filters", "pm25: {filters")
    with pytest.raises(DeviceConfigError) as caught:
        check_against_drivers(config(text))
    assert caught.value.field == "buses[0].devices[1].channels.pm25"
    assert "has no channel 'pm25'; it has: humidity, temperature" in str(caught.value)


def test_valid_config_passes() -> None:
    check_against_drivers(config())
