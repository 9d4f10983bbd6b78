"""Fleet operations end to end: a real agent polls simulated lamp and tilt sensors, the fleet
(a subprocess) raises exactly one tilt alert however the value flaps, dims a street's lamps,
and sees a SIGKILLed gateway offline within its heartbeat timeout (a clean stop at once).
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.e2e_harness import E2E, Bus, SimDevice, unique_id, wait_until
from tests.integration.ops_support import Api, read_holding, write_holding
from tests.services import Broker

STREET = "chengdu/wuhou/street-7"
HEARTBEAT_TIMEOUT_S = 3.0  # 3 x the harness's 1 s heartbeat


def _gateway(e2e: E2E, port: int, broker: Broker) -> Any:
    devices = [
        SimDevice(name="lamp", driver="streetlight_dimmer", unit=1),
        SimDevice(name="tilt", driver="pole_tilt", unit=2),
    ]
    return e2e.agent(
        device_id=unique_id("pole"), buses=[Bus(name="lan", tcp_port=port, devices=devices)],
        broker_url=broker.url,
    )  # fmt: skip


def _status(api: Api, device_id: str) -> str | None:
    response = api.call("GET", f"/api/v1/devices/{device_id}")
    return response.json()["status"] if response.status_code == 200 else None


def _alerts(api: Api, device_id: str) -> list[dict[str, Any]]:
    return list(api.ok("GET", "/api/v1/alerts", params={"device_id": device_id})["items"])


def test_tilt_alert_dim_street_and_offline(e2e: E2E, db_url: str, private_broker: Broker) -> None:
    sim = e2e.simulator("streetlight_dimmer:1", "pole_tilt:2")
    fleet = e2e.fleet(db_url=db_url, broker_url=private_broker.url)
    api = Api(fleet.http_url)
    agent = _gateway(e2e, sim.port, private_broker)
    wait_until(lambda: _status(api, agent.device_id) == "online", timeout=30,
               what="the gateway online", logs=e2e.logs)  # fmt: skip
    api.place(agent.device_id, "WH-07-0001", STREET, 30.64, 104.04)
    api.ok("POST", "/api/v1/alert-rules", json={
        "name": "pole tilt", "kind": "threshold", "channel": "x_angle", "threshold": 5.0,
        "hysteresis": 1.0, "min_duration_s": 1.0, "severity": "critical",
    })  # fmt: skip
    time.sleep(1.0)  # the worker picks up the rule

    write_holding(sim.port, 2, 0, 700)  # 7.00 degrees
    wait_until(lambda: len(_alerts(api, agent.device_id)) == 1, timeout=20,
               what="the tilt alert", logs=e2e.logs)  # fmt: skip
    for raw in (450, 560, 420, 610, 480):  # flapping inside the hysteresis band
        write_holding(sim.port, 2, 0, raw)
        time.sleep(0.6)
    [alert] = _alerts(api, agent.device_id)
    assert (alert["status"], alert["subject"]) == ("open", "tilt/x_angle"), alert
    write_holding(sim.port, 2, 0, 100)  # back to 1 degree
    wait_until(lambda: _alerts(api, agent.device_id)[0]["status"] == "resolved", timeout=20,
               what="the alert resolved", logs=e2e.logs)  # fmt: skip
    assert len(_alerts(api, agent.device_id)) == 1

    dim = {"kind": "write", "group": STREET, "point": "dim", "value": 40}
    batch = api.ok("POST", "/api/v1/commands", json=dim)
    assert [item["device_id"] for item in batch["items"]] == [agent.device_id]

    def done() -> bool:
        items = api.ok("GET", f"/api/v1/commands/{batch['batch_id']}")["items"]
        return all(item["status"] != "pending" for item in items)

    wait_until(done, timeout=20, what="the dim command's result", logs=e2e.logs)
    [result] = api.ok("GET", f"/api/v1/commands/{batch['batch_id']}")["items"]
    assert result["status"] == "done", result
    assert read_holding(sim.port, 1, 0) == 40
    refused = api.ok("POST", "/api/v1/commands", json={
        "kind": "write", "device_id": agent.device_id, "sensor": "lamp", "point": "dim",
        "value": 150,
    })  # fmt: skip
    wait_until(lambda: api.ok("GET", f"/api/v1/commands/{refused['batch_id']}")["items"][0]
               ["status"] != "pending", timeout=20, what="the refusal")  # fmt: skip
    [no] = api.ok("GET", f"/api/v1/commands/{refused['batch_id']}")["items"]
    assert no["status"] == "failed"
    assert "outside the driver's limits" in no["reason"]
    assert read_holding(sim.port, 1, 0) == 40

    agent.kill()  # SIGKILL: no goodbye; the heartbeat timeout (or the will) must tell
    killed_at = time.monotonic()
    wait_until(lambda: _status(api, agent.device_id) == "offline",
               timeout=HEARTBEAT_TIMEOUT_S + 5, what="the killed gateway offline",
               logs=e2e.logs, interval=0.05)  # fmt: skip
    assert time.monotonic() - killed_at <= HEARTBEAT_TIMEOUT_S + 5

    other = _gateway(e2e, sim.port, private_broker)
    wait_until(lambda: _status(api, other.device_id) == "online", timeout=30,
               what="the second gateway online", logs=e2e.logs)  # fmt: skip
    assert other.terminate() == 0
    stopped_at = time.monotonic()
    wait_until(lambda: _status(api, other.device_id) == "offline", timeout=2,
               what="the cleanly stopped gateway offline at once", logs=e2e.logs,
               interval=0.05)  # fmt: skip
    assert time.monotonic() - stopped_at < 2
