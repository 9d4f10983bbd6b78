"""Turn an enrollment answer into the MicroPython agent's bundle (format: docs/micro.md).

The technician's agent config (`--config`, merged with the fleet's initial config exactly as
for a gateway) is validated by the gateway's schema first, then mapped onto what the micro
agent runs: one RS-485 bus on a UART of the board profile, Modbus RTU devices whose drivers
compile to .pkd, deadband/on_change/heartbeat filters. Anything else is refused with a
MicroUnsupportedError naming the setting and what to do, before anything is written.
"""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from drivers.registry import load_driver
from drivers.sdk.errors import DriverError
from edge.config import AgentConfig, BusConfig, ChannelOverride, DeviceConfig, UplinkConfig
from edge.config_file import convert_config
from edge.micro_compile import compile_driver
from hardware.profiles import BoardProfile, PortSpec, ProfileError
from protocol.core import cbor
from provisioning.bundle import BundleWriteError, agent_config
from provisioning.enroll import EnrollResponse

BATCH_MAX = 50  # the micro agent's heap budget is measured for 50 readings (docs/micro.md)
WINDOW_MAX = 4  # batches in flight; each holds a ring slot in RAM until acked
CA_FILE = "ca.der"


class MicroUnsupportedError(BundleWriteError):
    """The config asks for something the micro agent cannot run; the message says what."""


@dataclass(frozen=True, repr=False)
class Wifi:
    """The controller's Wi-Fi network (the passphrase is a secret: never printed)."""

    ssid: str
    psk: str

    def __repr__(self) -> str:
        """The SSID only."""
        return f"Wifi(ssid={self.ssid!r})"

    def check(self) -> None:
        """MicroUnsupportedError unless the SSID and WPA2 passphrase have valid lengths."""
        if not 1 <= len(self.ssid.encode()) <= 32:
            raise MicroUnsupportedError("--wifi-ssid must be 1 to 32 bytes long")
        if not 8 <= len(self.psk) <= 63:
            raise MicroUnsupportedError(
                "the Wi-Fi passphrase must be 8 to 63 characters (WPA2); check the file given "
                "with --wifi-password-file (or $POLEKIT_WIFI_PASSWORD)"
            )


def build_micro_bundle(
    response: EnrollResponse,
    *,
    profile: BoardProfile,
    wifi: Wifi,
    overlay: dict[str, Any] | None = None,
    extras: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """Bundle file name (relative to /polekit) -> bytes: bundle.json, drivers/*.pkd, ca.der."""
    if profile.runtime != "micropython":
        raise MicroUnsupportedError(
            f"board {profile.name} runs Linux: --serial installs the MicroPython agent, so "
            "pass --board with a micropython board (e.g. esp32-rs485), or use --target/--ssh"
        )
    wifi.check()
    config = convert_config(
        agent_config(response, overlay=overlay, board=profile.name), file="config"
    )
    bus, devices = _bus(config, profile)
    files: dict[str, bytes] = {}
    for device in devices:
        name = device["driver"]
        if f"drivers/{name}.pkd" not in files:
            files[f"drivers/{name}.pkd"] = cbor.dumps(_compile(name, config.buses[0].max_gap))
    mqtt = _mqtt(config.uplink, response)
    if response.ca_cert_pem and mqtt["ssl"]:
        files[CA_FILE] = ssl.PEM_cert_to_DER_cert(response.ca_cert_pem)
        mqtt["ca"] = CA_FILE
    signing = response.config_signing_public_key
    settings = {
        **(extras or {}),
        "device_id": config.device_id,
        "wifi": {"ssid": wifi.ssid, "psk": wifi.psk},
        "mqtt": mqtt,
        "bus": bus,
        "trust": {signing.kid: base64.b64decode(signing.ed25519_b64).hex()},
        "uplink": {
            "window": min(config.uplink.inflight, WINDOW_MAX),
            "ack_timeout_s": float(config.uplink.ack_timeout),
        },
        "config": {
            "devices": devices,
            "batch": {
                "max": min(config.uplink.batch_max_readings, BATCH_MAX),
                "interval_s": float(config.uplink.batch_interval),
            },
            "health_interval_s": float(config.health.interval),
        },
    }
    files["bundle.json"] = json.dumps(settings, indent=1).encode()
    return files


def _bus(config: AgentConfig, profile: BoardProfile) -> tuple[dict[str, Any], list[Any]]:
    if len(config.buses) > 1:
        names = ", ".join(bus.name for bus in config.buses)
        raise MicroUnsupportedError(
            f"the micro agent drives one RS-485 bus; the config has {len(config.buses)} "
            f"({names}): move the other devices to a gateway or to another controller"
        )
    if not config.buses:
        return _uart(profile.ports[0], None), []
    bus = config.buses[0]
    rtu = bus.modbus_rtu
    if rtu is None:
        kind = "Modbus TCP" if bus.modbus_tcp is not None else "a serial-protocol bus"
        raise MicroUnsupportedError(
            f"bus {bus.name} is {kind}, which the micro agent cannot run (Modbus RTU only): "
            "use a gateway (--target/--ssh) for it"
        )
    if rtu.port is not None:
        raise MicroUnsupportedError(
            f"bus {bus.name} names the OS device {rtu.port}; on a controller the board profile "
            "maps the bus name to its UART: remove `port`"
        )
    if rtu.bytesize != 8:
        raise MicroUnsupportedError(f"bus {bus.name}: the micro agent uses 8 data bits only")
    try:
        port = profile.port(bus.name)
    except ProfileError as exc:
        raise MicroUnsupportedError(str(exc)) from None
    uart = _uart(port, bus)
    uart.update(baud=rtu.baud, parity=rtu.parity, stop=rtu.stopbits)
    return uart, [_device(bus, device) for device in bus.devices]


def _uart(port: PortSpec, bus: BusConfig | None) -> dict[str, Any]:
    where = f"port {port.name} ({port.device})"
    number = port.device.removeprefix("uart")
    if not number.isdigit() or port.pins is None:
        raise MicroUnsupportedError(f"{where}: a controller port needs device uartN and tx/rx pins")
    uart: dict[str, Any] = {"uart": int(number), "tx": port.pins.tx, "rx": port.pins.rx}
    direction = port.direction
    if direction.mode == "kernel" or not direction.active_high:
        raise MicroUnsupportedError(
            f"{where}: the micro agent drives DE as an active-high GPIO only"
        )
    if direction.mode == "gpio":
        uart["de"] = direction.gpio
    if bus is not None:
        uart["timeout_ms"] = round(float(bus.timeout) * 1000)
    return uart


def _device(bus: BusConfig, device: DeviceConfig) -> dict[str, Any]:
    where = f"bus {bus.name}, device {device.name}"
    if device.poll_slow is not None:
        raise MicroUnsupportedError(
            f"{where}: poll_slow is not on the micro agent (one poll interval)"
        )
    spec: dict[str, Any] = {
        "name": device.name,
        "driver": device.driver,
        "unit": device.unit,
        "poll_s": float(device.poll),
    }
    channels = {
        name: _channel(f"{where}, channel {name}", o) for name, o in device.channels.items()
    }
    if channels:
        spec["channels"] = {name: policy for name, policy in channels.items() if policy}
    return spec


def _channel(where: str, override: ChannelOverride) -> dict[str, Any]:
    if not override.enabled:
        raise MicroUnsupportedError(f"{where}: disabling a channel is not on the micro agent")
    policy: dict[str, Any] = {}
    if override.range is not None:
        policy["range"] = [float(override.range[0]), float(override.range[1])]
    steps = []
    for step in override.filters:
        if step.window is not None:
            raise MicroUnsupportedError(f"{where}: window filters are not on the micro agent")
        if step.heartbeat is not None:
            steps.append({"heartbeat": float(step.heartbeat)})
        elif step.on_change is not None:
            steps.append({"on_change": step.on_change})
        else:
            name = "deadband" if step.deadband is not None else "deadband_percent"
            steps.append({name: getattr(step, name)})
    if steps:
        policy["filters"] = steps
    return policy


def _compile(name: str, max_gap: int) -> dict[str, Any]:
    try:
        return compile_driver(load_driver(name), max_gap=max_gap)
    except DriverError as exc:
        raise MicroUnsupportedError(f"driver {name}: {exc}") from None
    except ValueError as exc:
        raise MicroUnsupportedError(
            f"{exc}: use a gateway (--target/--ssh) for this sensor"
        ) from None


def _mqtt(uplink: UplinkConfig, response: EnrollResponse) -> dict[str, Any]:
    url = urlsplit(uplink.broker)
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
        raise MicroUnsupportedError(
            f"broker {uplink.broker}: the micro agent speaks mqtt:// or mqtts://"
        )
    if uplink.encoding != "cbor":
        raise MicroUnsupportedError(
            f"uplink encoding {uplink.encoding}: the micro agent sends CBOR"
        )
    tls = url.scheme == "mqtts"
    if tls and not response.ca_cert_pem:
        raise MicroUnsupportedError(
            f"broker {uplink.broker} uses TLS but the fleet sent no CA certificate, and a "
            "controller has no CA store: ask a fleet admin to start the fleet with --broker-ca"
        )
    if not response.mqtt_password:
        raise MicroUnsupportedError(
            "the fleet answered without an MQTT password (certificate login), which the micro "
            "agent cannot do: ask a fleet admin for password enrollment"
        )
    return {
        "host": url.hostname,
        "port": url.port or (8883 if tls else 1883),
        "user": response.mqtt_username or response.device_id,
        "password": response.mqtt_password,
        "keepalive": round(float(uplink.keepalive)),
        "ssl": tls,
    }
