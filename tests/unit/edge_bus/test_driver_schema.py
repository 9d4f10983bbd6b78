"""The agent's JSON Schema carries each driver's channel names (polekit agent schema)."""

from __future__ import annotations

import json

import pytest

from drivers.registry import load_driver
from edge.config_file import json_schema
from polekit.cli import main


def test_every_builtin_driver_contributes_its_channels() -> None:
    schema = json_schema()
    defs = schema["$defs"]
    device = defs["DeviceConfig"]
    names = device["properties"]["driver"]["enum"]
    assert {"eastron_sdm630", "plantower_pms5003", "streetlight_dimmer"} <= set(names)
    rules = {rule["if"]["properties"]["driver"]["const"]: rule["then"] for rule in device["allOf"]}
    assert set(rules) == set(names)
    for name in names:
        ref = rules[name]["$ref"]
        assert ref == f"#/$defs/Driver_{name}"
        channels = defs[f"Driver_{name}"]["properties"]["channels"]
        assert channels["additionalProperties"] is False
        assert set(channels["properties"]) == set(load_driver(name).channels)
        for override in channels["properties"].values():
            assert override["$ref"] == "#/$defs/ChannelOverride"
    dim = defs["Driver_streetlight_dimmer"]["properties"]["channels"]["properties"]["dim_level"]
    assert dim["description"] == "[%]"
    assert "SerialConfig" in defs
    assert "serial" in defs["BusConfig"]["properties"]
    assert "poll_slow" in device["properties"]


def test_schema_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "Driver_nmea_gnss" in schema["$defs"]
    channels = schema["$defs"]["Driver_nmea_gnss"]["properties"]["channels"]["properties"]
    assert "latitude" in channels


def test_no_drivers_leaves_the_plain_schema() -> None:
    schema = json_schema(drivers=[])
    assert schema["$defs"]["DeviceConfig"]["properties"]["driver"] == {"type": "string"}
    assert "allOf" not in schema["$defs"]["DeviceConfig"]
