"""Bad input gets a clear error: broken configs, missing port, failing device, garbage MQTT."""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from tests.integration.e2e_harness import (
    E2E,
    Bus,
    SimDevice,
    fleet_health,
    fleet_rows,
    unique_id,
    wait_until,
)
from tests.services import ADMIN_AUTH, REPO, Broker

METER = SimDevice(name="meter", driver="eastron_sdm120", unit=1, poll="200ms")
ENV = SimDevice(name="env", driver="rs485_env", unit=2, poll="200ms")

# --------------------------------------------------------------------------- config files

_HEAD = """\
device_id: pole-bad
buses:
  - name: lan
    modbus_tcp: {host: 127.0.0.1, port: 5020}
    devices:
      - name: meter
"""


@dataclass(frozen=True)
class BadConfig:
    """A broken config file and what the error must say (`{file}` is the file's path)."""

    text: str | None
    """None: the file does not exist; "/": the path is a directory."""
    expected: tuple[str, ...]


BAD_CONFIGS = {
    "bad_duration": BadConfig(
        _HEAD + "        driver: eastron_sdm120\n        poll: 10 parsecs\n",
        ("{file}:8: buses[0].devices[0].poll:", "expected a duration such as 10s", "10 parsecs"),
    ),
    "missing_file": BadConfig(
        None, ("{file}: cannot read the config file", "No such file or directory")
    ),
    "directory": BadConfig("/", ("{file}: cannot read the config file", "Is a directory")),
    "invalid_yaml": BadConfig(
        "device_id: pole-bad\nbuses:\n  - name: lan\n    modbus_tcp: {host: 127.0.0.1\n",
        ("{file}:5: not valid YAML", "expected ',' or '}'"),
    ),
    "unknown_field": BadConfig(
        _HEAD + "        driver: eastron_sdm120\n        pol: 10s\n",
        ("{file}:6: buses[0].devices[0]:", "unknown field `pol`"),
    ),
    "unknown_driver": BadConfig(
        _HEAD + "        driver: eastron_sdm999\n",
        (
            "{file}:7: buses[0].devices[0].driver: unknown driver 'eastron_sdm999'",
            "; installed: ",  # then the list of drivers, which grows
            "rs485_env",
        ),
    ),
    "unknown_channel": BadConfig(
        _HEAD + "        driver: eastron_sdm120\n        channels:\n          voltagee: {}\n",
        (
            "{file}:9: buses[0].devices[0].channels.voltagee:",
            "driver eastron_sdm120 has no channel 'voltagee'; it has: voltage, current",
        ),
    ),
}


def _polekit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polekit.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_config_is_refused_naming_file_field_and_line(case: str, tmp_path: Path) -> None:
    bad = BAD_CONFIGS[case]
    path = tmp_path / f"{case}.yaml"
    if bad.text == "/":
        path.mkdir()
    elif bad.text is not None:
        path.write_text(bad.text)
    expected = [part.replace("{file}", str(path)) for part in bad.expected]
    for argv in (("check-config", str(path)), ("run", "--config", str(path))):
        result = _polekit("agent", *argv)
        assert result.returncode == 1, (argv, result.stdout, result.stderr)
        assert result.stderr.startswith("config error: "), result.stderr
        for part in expected:
            assert part in result.stderr, (argv, part, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert not result.stdout, result.stdout


# --------------------------------------------------------------------------- the buses


def test_a_missing_serial_port_is_named_and_the_other_bus_keeps_running(
    e2e: E2E, mqtt_broker: Broker
) -> None:
    sim = e2e.simulator("eastron_sdm120:1", "rs485_env:2")
    port = f"/dev/ttyUSB-polekit-absent-{unique_id('p')}"
    agent = e2e.agent(
        device_id=unique_id("noport"),
        broker_url=mqtt_broker.url,  # nobody acks: readings stay in the buffer, which is fine
        buses=[
            Bus(name="lan", tcp_port=sim.port, devices=[METER, ENV]),
            Bus(name="rs485-1", serial_port=port, devices=[replace(ENV, name="env2")]),
        ],
    )
    wait_until(
        lambda: not (agent.device_health("env2") or {"online": True})["online"],
        timeout=30,
        what="the device on the missing port to be reported offline",
        logs=e2e.logs,
    )
    read = agent.buffer_status().accounting.read
    wait_until(
        lambda: agent.buffer_status().accounting.read >= read + 100,
        timeout=30,
        what="the TCP bus to keep reading",
        logs=e2e.logs,
    )
    assert agent.running, agent.log_tail()
    offline = agent.device_health("env2")
    assert offline is not None
    assert f"serial port {port} does not exist" in offline["last_error"], offline
    assert "USB-RS485 adapter" in offline["last_error"], offline  # says what to check
    for name in ("meter", "env"):
        health = agent.device_health(name)
        assert health is not None
        assert health["online"], health
        assert health["last_error"] is None, health
    log = agent.log_path.read_text()
    lines = [line for line in log.splitlines() if port in line]
    assert len(lines) == 1, lines  # logged when the failure starts, not on every poll
    assert "WARNING" in lines[0], lines[0]
    assert "device env2" in lines[0], lines[0]
    human = _polekit("agent", "status", "--config", str(agent.config_path))
    assert human.returncode == 0, human.stderr
    assert f"rs485-1/env2: OFFLINE last reading never  (serial port {port} does not exist" in (
        human.stdout
    ), human.stdout
    assert "lan/meter: online" in human.stdout, human.stdout
    assert agent.terminate() == 0, agent.log_tail()
    assert agent.buffer_status().accounting.is_balanced()


def test_a_device_answering_modbus_exceptions_is_a_clear_error_others_unaffected(
    e2e: E2E, db_url: str, private_broker: Broker
) -> None:
    fleet = e2e.fleet(db_url=db_url, broker_url=private_broker.url)
    sim = e2e.simulator("eastron_sdm120:1:exception", "rs485_env:2")
    agent = e2e.agent(
        device_id=unique_id("modex"),
        broker_url=private_broker.url,
        buses=[Bus(name="lan", tcp_port=sim.port, devices=[METER, ENV])],
    )
    wait_until(
        lambda: not (agent.device_health("meter") or {"online": True})["online"],
        timeout=30,
        what="the failing meter to be reported offline",
        logs=e2e.logs,
    )
    delivered = agent.delivered()
    wait_until(
        lambda: agent.delivered() >= delivered + 50,
        timeout=30,
        what="the healthy env sensor on the same bus to keep delivering",
        logs=e2e.logs,
    )
    meter = agent.device_health("meter")
    assert meter is not None
    for part in ("unit 1", "Modbus exception 4", "server device failure"):
        assert part in meter["last_error"], meter
    assert meter["last_reading_age_s"] is None, meter
    env = agent.device_health("env")
    assert env is not None
    assert env["online"], env
    assert env["last_error"] is None, env

    # The fleet got the same story in the heartbeat.
    def fleet_sees_the_error() -> bool:
        response = httpx.get(
            f"{fleet.http_url}/api/v1/devices/{agent.device_id}", headers=ADMIN_AUTH, timeout=5
        )
        health = response.json().get("last_health") if response.status_code == 200 else None
        devices = {d["name"]: d for d in (health or {}).get("devices", [])}
        return "meter" in devices and "Modbus exception 4" in str(devices["meter"]["last_error"])

    wait_until(fleet_sees_the_error, timeout=30, what="the fleet to show the error", logs=e2e.logs)
    log = agent.log_path.read_text()
    assert len([line for line in log.splitlines() if "device meter" in line]) == 1, log[-2000:]

    [rows] = e2e.stop_and_check([agent], db_url)
    assert {channel.split("/")[0] for channel in rows.channels} == {"env"}


# --------------------------------------------------------------------------- MQTT garbage


def _publish(broker: Broker, topic: str, payload: bytes, tmp: Path, *props: str) -> None:
    """Publish raw bytes with mosquitto_pub (MQTT v5, QoS 1) under a throwaway client id."""
    file = tmp / "payload.bin"
    file.write_bytes(payload)
    argv = ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-V", "mqttv5"]
    argv += ["-q", "1", "-i", unique_id("garbage"), "-t", topic, "-f", str(file), *props]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


def test_garbage_mqtt_is_counted_and_the_next_real_batch_still_lands(
    e2e: E2E, db_url: str, private_broker: Broker, tmp_path: Path
) -> None:
    fleet = e2e.fleet(db_url=db_url, broker_url=private_broker.url)
    sim = e2e.simulator("eastron_sdm120:1", "rs485_env:2")
    agent = e2e.agent(
        device_id=unique_id("garbage"),
        broker_url=private_broker.url,
        buses=[Bus(name="lan", tcp_port=sim.port, devices=[METER, ENV])],
    )
    wait_until(lambda: agent.delivered() >= 50, timeout=60, what="50 acked", logs=e2e.logs)
    before = fleet_health(fleet)["bridge"]["rejected"]

    noise = random.Random(20240611)
    base = f"pk/v1/{agent.device_id}"
    _publish(private_broker, f"{base}/telemetry", noise.randbytes(300), tmp_path)
    _publish(private_broker, f"{base}/telemetry", bytes([0x9F]) * 64, tmp_path)  # CBOR, endless
    _publish(private_broker, f"{base}/health", noise.randbytes(120), tmp_path)
    _publish(private_broker, "pk/v1/Not_A-Device!/telemetry", b"\xa0", tmp_path)
    _publish(
        private_broker,
        f"{base}/telemetry",
        b"{}",
        tmp_path,
        "-D",
        "publish",
        "content-type",
        "application/x-polekit-nonsense",
    )

    def counted() -> bool:
        rejected = fleet_health(fleet)["bridge"]["rejected"]
        grew = {reason: rejected.get(reason, 0) - before.get(reason, 0) for reason in rejected}
        return (
            grew.get("telemetry", 0) >= 2
            and grew.get("health", 0) >= 1
            and grew.get("topic", 0) >= 1
            and grew.get("content_type", 0) >= 1
        )

    wait_until(counted, timeout=30, what="the fleet to count every garbage message", logs=e2e.logs)
    batches = len(fleet_rows(db_url, agent.device_id).batches)
    wait_until(
        lambda: len(fleet_rows(db_url, agent.device_id).batches) >= batches + 3,
        timeout=30,
        what="the agent's next batches to land after the garbage",
        logs=e2e.logs,
    )
    bridge = fleet_health(fleet)["bridge"]
    assert bridge["connected"] is True, bridge
    assert bridge["db_errors"] == 0, bridge
    assert "rejected telemetry message" in fleet.log_tail(20000), fleet.log_tail()
    assert agent.running, agent.log_tail()

    e2e.stop_and_check([agent], db_url)  # the garbage added no rows: points == delivered
