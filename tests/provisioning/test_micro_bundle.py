"""The enrollment answer -> micro agent bundle converter: what it maps, what it refuses."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from hardware.profiles import load_profile
from provisioning.enroll import EnrollResponse, SigningKeyInfo
from provisioning.micro_bundle import MicroUnsupportedError, Wifi, build_micro_bundle
from tests.provisioning.micro_boot import boot
from tests.provisioning.support import make_tls

ESP32 = load_profile("esp32-rs485")
WIFI = Wifi(ssid="pole-net", psk="correct horse battery")
KEY = SigningKeyInfo(kid="fleet-abc", ed25519_b64="11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")


def answer(broker: str = "mqtt://10.0.0.2:1883", **changes: Any) -> EnrollResponse:
    """An enrollment answer as the fleet gives it."""
    fields: dict[str, Any] = {
        "device_id": "gw-esp-1",
        "broker_urls": [broker],
        "mqtt_username": "gw-esp-1",
        "mqtt_password": "s3cret-mqtt-password",
        "config_signing_public_key": KEY,
        "initial_config": {"device_id": "gw-esp-1", "uplink": {"broker": broker}},
    }
    return EnrollResponse(**{**fields, **changes})


def bus(*devices: str, **options: Any) -> dict[str, Any]:
    """A technician config with one Modbus RTU bus."""
    rtu = {"baud": 4800, "parity": "E", **options}
    return {"buses": [{"name": "rs485-1", "modbus_rtu": rtu, "devices": [
        {"name": name, "driver": driver, "unit": unit, "poll": "15s"}
        for unit, (name, driver) in enumerate((d.split(":") for d in devices), start=1)
    ]}]}  # fmt: skip


def test_maps_bus_pins_login_trust_and_filters() -> None:
    overlay = bus("meter:eastron_sdm120", "env:rs485_env")
    overlay["buses"][0]["devices"][1]["channels"] = {
        "pm2_5": {"filters": [{"deadband": 2}, {"heartbeat": "5m"}], "range": [0, 500]}
    }
    files = build_micro_bundle(answer(), profile=ESP32, wifi=WIFI, overlay=overlay)

    assert sorted(files) == ["bundle.json", "drivers/eastron_sdm120.pkd", "drivers/rs485_env.pkd"]
    settings = json.loads(files["bundle.json"])
    assert settings["bus"] == {
        "uart": 2, "tx": 17, "rx": 16, "de": 4, "timeout_ms": 1000,
        "baud": 4800, "parity": "E", "stop": 1,
    }  # fmt: skip
    assert settings["mqtt"] == {
        "host": "10.0.0.2", "port": 1883, "user": "gw-esp-1",
        "password": "s3cret-mqtt-password", "keepalive": 30, "ssl": False,
    }  # fmt: skip
    public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert settings["trust"] == {"fleet-abc": public}
    env = settings["config"]["devices"][1]
    filters = [{"deadband": 2.0}, {"heartbeat": 300.0}]
    assert env["channels"] == {"pm2_5": {"range": [0.0, 500.0], "filters": filters}}
    assert (env["unit"], env["poll_s"]) == (2, 15.0)
    assert settings["config"]["batch"]["max"] == 50
    assert "psk" not in repr(WIFI)


def test_tls_broker_gets_the_fleet_ca_and_the_loader_verifies_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_pem = make_tls(tmp_path / "pki").ca.read_text()
    files = build_micro_bundle(
        answer("mqtts://mqtt.city.example:8883", ca_cert_pem=ca_pem),
        profile=ESP32, wifi=WIFI, overlay=bus("env:rs485_env"),
    )  # fmt: skip
    assert files["ca.der"] == ssl.PEM_cert_to_DER_cert(ca_pem)
    for name, data in files.items():
        (tmp_path / "flash" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "flash" / name).write_bytes(data)

    booted = boot(tmp_path / "flash", monkeypatch)
    context = booted.mqtt["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1
    assert (booted.mqtt["server"], booted.mqtt["port"]) == ("mqtt.city.example", 8883)


@pytest.mark.parametrize(
    ("overlay", "broker", "reason"),
    [
        ({"buses": [{"name": "rs485-1", "modbus_tcp": {"host": "10.0.0.9"}}]}, None, "Modbus TCP"),
        (bus("tilt:pole_tilt"), None, "pole_tilt.x_alarm: bit fields"),
        (bus("pm:plantower_pms5003"), None, "serial-protocol drivers"),
        (bus("x:no_such_driver"), None, "driver no_such_driver"),
        ({"buses": [bus()["buses"][0], {**bus()["buses"][0], "name": "b2"}]}, None, "one RS-485"),
        ({"buses": [{**bus()["buses"][0], "name": "rs485-9"}]}, None, "has no port 'rs485-9'"),
        (bus("env:rs485_env", port="/dev/ttyUSB0"), None, "remove `port`"),
        (bus("env:rs485_env"), "mqtts://mqtt.city.example:8883", "no CA certificate"),
        ({"uplink": {"encoding": "json"}}, None, "sends CBOR"),
    ],
)
def test_refuses_what_the_micro_agent_cannot_run(
    overlay: dict[str, Any], broker: str | None, reason: str
) -> None:
    response = answer(broker) if broker else answer()
    with pytest.raises(MicroUnsupportedError, match=reason):
        build_micro_bundle(response, profile=ESP32, wifi=WIFI, overlay=overlay)


def test_refuses_window_filters_linux_boards_and_short_passphrases() -> None:
    overlay = bus("env:rs485_env")
    overlay["buses"][0]["devices"][0]["channels"] = {"pm2_5": {"filters": [{"window": "1m"}]}}
    with pytest.raises(MicroUnsupportedError, match="window filters"):
        build_micro_bundle(answer(), profile=ESP32, wifi=WIFI, overlay=overlay)
    with pytest.raises(MicroUnsupportedError, match="runs Linux"):
        build_micro_bundle(answer(), profile=load_profile("rpi4-rs485-hat"), wifi=WIFI)
    with pytest.raises(MicroUnsupportedError, match="8 to 63"):
        build_micro_bundle(answer(), profile=ESP32, wifi=Wifi(ssid="pole-net", psk="short"))
