"""Config files: typed on success; on failure the error names file, field and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.config_file import ConfigError, json_schema, load_config, parse_config

GOOD = """\
device_id: pole-0001
buses:
  - name: rs485-1
    modbus_rtu: {port: /dev/ttyUSB0, baud: 9600, parity: N}
    devices:
      - {name: meter, driver: eastron_sdm120, unit: 1, poll: 10s}
      - name: env
        driver: rs485_env
        unit: 2
        poll: 30s
        channels:
          pm2_5: {filters: [{deadband: 2}, {heartbeat: 5m}], range: [0, 1000]}
uplink: {broker: "mqtts://mqtt.city.example:8883", encoding: cbor, keepalive: 30s}
buffer: {path: /var/lib/polekit/buffer.db, max_bytes: 256MiB}
health: {interval: 30s}
"""


def test_good_yaml_becomes_typed_objects() -> None:
    config = parse_config(GOOD, file="pole.yaml")
    bus = config.buses[0]
    assert bus.modbus_rtu is not None
    assert bus.modbus_rtu.baud == 9600
    env = bus.devices[1]
    assert env.poll == 30.0
    assert env.channels["pm2_5"].range == (0.0, 1000.0)
    assert env.channels["pm2_5"].filters[1].heartbeat == 300.0
    assert config.buffer.max_bytes == 256 * 1024 * 1024
    assert config.uplink.keepalive == 30.0


def test_toml_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "pole.toml"
    path.write_text(
        'device_id = "pole-7"\n'
        "[[buses]]\n"
        'name = "lan"\n'
        'modbus_tcp = { host = "10.0.0.5" }\n'
        "[[buses.devices]]\n"
        'name = "meter"\ndriver = "eastron_sdm120"\npoll = "250ms"\n'
    )
    config = load_config(path)
    assert config.buses[0].modbus_tcp is not None
    assert config.buses[0].modbus_tcp.port == 502
    assert config.buses[0].devices[0].poll == 0.25


@pytest.mark.parametrize(
    ("replace", "by", "field", "line", "message"),
    [
        ("poll: 30s", "poll: 3x", "buses[0].devices[1].poll", 10, "expected a duration"),
        ("unit: 2", "unit: 300", "buses[0].devices[1].unit", 9, "<= 247"),
        ("parity: N", "parity: X", "buses[0].modbus_rtu.parity", 4, "Invalid enum value 'X'"),
        ("encoding: cbor", "encoding: xml", "uplink.encoding", 13, "Invalid enum value"),
        ("max_bytes: 256MiB", "max_bytes: lots", "buffer.max_bytes", 14, "expected a size"),
        (
            "{deadband: 2}", "{deadband: 2, window: 1m}",
            "buses[0].devices[1].channels.pm2_5.filters[0]", 12, "exactly one",
        ),
        ("device_id: pole-0001", "device_id: Pole/1", "device_id", 1, "matching regex"),
        ("keepalive: 30s}", "keepalive: 30s, colour: red}", "uplink", 13, "unknown field `colour`"),
    ],
)  # fmt: skip
def test_errors_name_field_and_line(
    replace: str, by: str, field: str, line: int, message: str
) -> None:
    assert replace in GOOD
    with pytest.raises(ConfigError) as caught:
        parse_config(GOOD.replace(replace, by), file="pole.yaml")
    error = caught.value
    assert error.field == field
    assert error.line == line
    assert message in error.message
    assert str(error).startswith(f"pole.yaml:{line}: {field}: ")


def test_bus_needs_exactly_one_transport() -> None:
    text = "device_id: p\nbuses:\n  - name: b\n    devices: []\n"
    with pytest.raises(ConfigError, match="exactly one of modbus_rtu or modbus_tcp") as caught:
        parse_config(text, file="c.yaml")
    assert caught.value.line == 3


def test_invalid_yaml_reports_the_line() -> None:
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        parse_config("device_id: p\nbuses: [\n  - x: {\n", file="c.yaml")
    assert caught.value.line is not None


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "nope.yaml")


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config("- just\n- a list\n", file="c.yaml")


def test_json_schema_describes_durations_and_forbids_unknown_fields() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    assert "250ms, 10s, 5m" in text
    agent = schema["$defs"]["AgentConfig"]
    assert agent["additionalProperties"] is False
    assert "device_id" in agent["required"]
