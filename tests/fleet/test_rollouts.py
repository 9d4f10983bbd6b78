"""Rollouts end to end: fleet (SQLite and PostgreSQL) + real Mosquitto + simulated gateways."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import httpx
import msgspec
import pytest

from fleet.domain.rollouts.services import assign_stages
from fleet.runner import run_fleet
from fleet.security.keys import FleetKeys
from fleet.settings import ProvisioningSettings
from fleet.sim.fleet import FleetSim, SimOptions
from tests import services
from tests.fleet.ota_harness import ADMIN_KEY, OtaFleet, ota_fleet
from tests.services import Broker

FAST = {"health_window_s": 1.0, "success_threshold": 1.0, "failure_threshold": 0.1}


async def _complete_v1(ota: OtaFleet) -> dict[str, object]:
    await ota.layer("fleet", "", {"health": {"interval": "20s"}})
    created = await ota.post(
        "/api/v1/rollouts",
        {"name": "v1", "target": {"groups": ["testcity"]}, "stages": [100], "policy": FAST},
    )
    assert created["version"] == 1
    return await ota.wait_rollout(created["id"], lambda r: r["state"] == "completed")


async def test_canary_failure_pauses_nothing_leaks_and_abort_reverts(
    db_url: str, private_broker: Broker, tmp_path: Path
) -> None:
    async with ota_fleet(db_url, private_broker, tmp_path, devices=200) as ota:
        done = await _complete_v1(ota)
        assert done["stages"][0]["healthy"] == 200
        assert ota.sim.running(1) == 200
        await ota.layer("group", "testcity/d0", {"health": {"interval": "15s"}})
        stages = [10.0, 50.0, 100.0]
        stage_of = assign_stages(ota.ids, stages, salt="2")
        canary = sorted(d for d, s in stage_of.items() if s == 0)
        assert len(canary) == 20
        ota.sim.failing = set(canary[:4])  # 20 % of the canary fails its health window
        created = await ota.post(
            "/api/v1/rollouts",
            {
                "name": "v2",
                "target": {"groups": ["testcity"]},
                "stages": stages,
                "policy": {**FAST, "canary_compare": False},
            },
        )
        assert created["version"] == 2
        paused = await ota.wait_rollout(created["id"], lambda r: r["state"] == "paused")
        assert "stage 0" in paused["reason"]
        assert "failed" in paused["reason"]
        await asyncio.sleep(1.5)  # a paused rollout must not reach anyone else meanwhile
        outside = [d for d in ota.ids if stage_of[d] != 0]
        assert not [d for d in outside if 2 in ota.sim.devices[d].received]
        assert all(ota.sim.devices[d].guard.applied_version == 1 for d in outside)
        aborted = await ota.post(f"/api/v1/rollouts/{created['id']}/abort", status=200)
        assert aborted["state"] == "aborted"
        await ota.wait_rollout(
            created["id"],
            lambda r: r["stages"][0]["reverted"] == 20 and r["stages"][0]["reverting"] == 0,
        )
        assert ota.sim.running(1) == 200
        for device_id in canary:
            device = ota.sim.devices[device_id]
            assert device.guard.applied_config is not None
            assert device.guard.applied_config["health"]["interval"] == "20s"
        audit = await ota.get(f"/api/v1/configs/audit?target=rollout/{created['id']}")
        actions = [entry["action"] for entry in audit]
        assert "rollout.auto_pause" in actions
        assert "rollout.abort" in actions


async def test_an_offline_device_catches_up_within_a_heartbeat_and_counts(
    db_url: str, private_broker: Broker, tmp_path: Path
) -> None:
    async with ota_fleet(db_url, private_broker, tmp_path, devices=40) as ota:
        away = ota.ids[:3]
        for device_id in away:
            await ota.sim.devices[device_id].go_offline()
        await asyncio.sleep(0.5)
        await ota.layer("fleet", "", {"health": {"interval": "20s"}})
        created = await ota.post(
            "/api/v1/rollouts",
            {
                "name": "catch-up",
                "target": {"tags": ["sim"]},
                "stages": [100],
                "policy": {**FAST, "straggler_policy": "wait"},
            },
        )
        waiting = await ota.wait_rollout(created["id"], lambda r: r["stages"][0]["healthy"] == 37)
        assert waiting["state"] == "running"
        assert waiting["stages"][0]["sent"] == 3
        back = time.monotonic()
        for device_id in away:
            ota.sim.devices[device_id].go_online()
        await ota.sim.wait_connected(timeout=10)
        async with asyncio.timeout(10):
            while True:
                if all(ota.sim.devices[d].guard.applied_version == 1 for d in away):
                    break
                await asyncio.sleep(0.05)
        assert time.monotonic() - back < 1.0 + 1.0  # one heartbeat (1 s) plus the reconnect
        done = await ota.wait_rollout(created["id"], lambda r: r["state"] == "completed")
        assert done["stages"][0]["healthy"] == 40


# SQLite only for now: the PostgreSQL variant hung once in a CI run (pytest's 300 s timeout,
# inside the test, around a fleet stop/start) and passed in every other run; the cause is not
# yet understood (see the issue note). The canary, abort and catch-up tests cover PostgreSQL.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_rollout_survives_a_fleet_restart(
    db_url: str, private_broker: Broker, tmp_path: Path
) -> None:
    settings = msgspec.structs.replace(
        services.fleet_settings(db_url, private_broker),
        provisioning=ProvisioningSettings(admin_key=ADMIN_KEY, keys_dir=str(tmp_path / "keys")),
    )
    ids = [f"r{secrets.token_hex(3)}-{i:03d}" for i in range(30)]
    keys = FleetKeys.load_or_create(tmp_path / "keys")
    sim = FleetSim(
        host=private_broker.host,
        port=private_broker.port,
        device_ids=ids,
        keys={keys.kid: keys.public_key_raw},
        options=SimOptions(heartbeat_s=1.0, apply_delay_s=(0.01, 0.05)),
    )
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    await sim.start(timeout=30)
    try:
        async with (
            run_fleet(settings) as fleet,
            httpx.AsyncClient(base_url=fleet.http_url or "", headers=headers) as api,
        ):
            items = [{"device_id": d, "group": "restart/all"} for d in ids]
            await api.put("/api/v1/configs/memberships", json={"items": items})
            layer = {"scope": "fleet", "config": {"health": {"interval": "20s"}}}
            (await api.post("/api/v1/configs/layers", json=layer)).raise_for_status()
            body = {
                "name": "restart",
                "target": {"groups": ["restart"]},
                "stages": [10, 100],
                "policy": {**FAST, "health_window_s": 3.0},
            }
            created = (await api.post("/api/v1/rollouts", json=body)).json()
            async with asyncio.timeout(20):
                while True:
                    if sim.running(1) == 3:
                        break
                    await asyncio.sleep(0.05)
        assert sim.running(1) == 3  # the fleet stopped inside stage 0's health window
        async with (
            run_fleet(settings) as fleet,
            httpx.AsyncClient(base_url=fleet.http_url or "", headers=headers) as api,
        ):
            async with asyncio.timeout(60):
                while True:
                    rollout = (await api.get(f"/api/v1/rollouts/{created['id']}")).json()
                    if rollout["state"] == "completed":
                        break
                    await asyncio.sleep(0.2)
        assert sim.running(1) == 30
        assert [stage["healthy"] for stage in rollout["stages"]] == [3, 27]
    finally:
        await sim.stop()
