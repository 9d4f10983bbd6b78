"""Config layers over the API: validation with the field path, explain, preview, audit."""

from __future__ import annotations

from pathlib import Path

from fleet.sim.fleet import SimOptions
from tests.fleet.ota_harness import ota_fleet
from tests.services import Broker


async def test_layers_explain_preview_and_refusals(
    db_url: str, private_broker: Broker, tmp_path: Path
) -> None:
    options = SimOptions(heartbeat_s=5.0)
    async with ota_fleet(db_url, private_broker, tmp_path, devices=4, options=options) as ota:
        d0, d1, d2, _ = ota.ids  # groups: testcity/d0, d1, d0, d1 (see groups_for)
        await ota.layer(
            "fleet", "", {"health": {"interval": "30s"}, "uplink": {"keepalive": "20s"}}
        )
        await ota.layer("group", "testcity/d0", {"health": {"interval": "15s"}})
        await ota.layer("device", d0, {"health": {"interval": "5s"}})
        second = await ota.layer("group", "testcity/d0", {"health": {"interval": "12s"}})
        assert second["revision"] == 2

        for scope, target, config, field in (
            ("group", "testcity/d0", {"health": {"interval": "soon"}}, "health.interval"),
            ("fleet", "", {"buses": [{"name": "x"}]}, "buses[0]"),
            ("fleet", "", {"uplink": {"inflight": 0}}, "uplink.inflight"),
        ):
            body = {"scope": scope, "target": target, "config": config}
            response = await ota.api.post("/api/v1/configs/layers", json=body)
            assert response.status_code == 400, response.text
            assert field in response.json()["detail"]
        response = await ota.api.post(
            "/api/v1/configs/layers",
            json={"scope": "fleet", "target": "", "config": {"device_id": "other"}},
        )
        assert response.status_code == 400

        explained = await ota.get(f"/api/v1/configs/devices/{d0}/explain?key=health.interval")
        assert explained["value"] == "5s"
        assert explained["source"] == {
            "kind": "layer", "scope": "device", "target": d0, "revision": 1,
        }  # fmt: skip
        assert [o["target"] for o in explained["overrides"]] == ["testcity/d0", ""]
        explained = await ota.get(f"/api/v1/configs/devices/{d1}/explain?key=health.interval")
        assert (explained["value"], explained["source"]["scope"]) == ("30s", "fleet")
        explained = await ota.get(f"/api/v1/configs/devices/{d2}/explain?key=uplink.broker")
        assert explained["source"]["kind"] == "base"
        explained = await ota.get(f"/api/v1/configs/devices/{d2}/explain?key=buffer.max_bytes")
        assert explained["source"]["kind"] == "agent_default"
        assert explained["value"] == 256 * 1024 * 1024
        effective = await ota.get(f"/api/v1/configs/devices/{d2}/effective")
        assert effective["config"]["health"]["interval"] == "12s"

        preview = await ota.post(
            "/api/v1/rollouts/preview", {"target": {"groups": ["testcity"]}}, status=200
        )
        assert preview["devices"] == 4
        assert preview["changed"] == 4
        assert "4 devices: uplink.keepalive unset → 20s" in preview["lines"]
        assert "2 devices: health.interval unset → 30s" in preview["lines"]
        assert "1 device: health.interval unset → 12s" in preview["lines"]
        assert "1 device: health.interval unset → 5s" in preview["lines"]

        audit = await ota.get("/api/v1/configs/audit?limit=50")
        outcomes = [(entry["action"], entry["outcome"]) for entry in audit]
        assert ("config.layer.create", "refused") in outcomes
        assert outcomes.count(("config.layer.create", "ok")) == 4
        assert all("admin" in entry["actor"] for entry in audit)
