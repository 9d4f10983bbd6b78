"""An in-process fleet with rollouts on, an API client, and simulated gateways (tests/fleet)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

from fleet.runner import RunningFleet, run_fleet
from fleet.security.keys import FleetKeys
from fleet.settings import ProvisioningSettings
from fleet.sim.fleet import FleetSim, SimOptions
from tests import services
from tests.services import Broker

ADMIN_KEY = "ota-test-admin-key-0123456789"


@dataclass
class OtaFleet:
    """What a rollout test works with."""

    fleet: RunningFleet
    api: httpx.AsyncClient
    sim: FleetSim
    keys: dict[str, bytes]
    ids: list[str]

    async def post(self, path: str, body: Any = None, status: int = 201) -> Any:
        """POST and check the status; the decoded JSON answer."""
        response = await self.api.post(path, json=body)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    async def get(self, path: str) -> Any:
        """GET and check 200; the decoded JSON answer."""
        response = await self.api.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_rollout(
        self,
        rollout_id: int,
        done: Callable[[dict[str, Any]], bool],
        timeout: float = 60.0,  # noqa: ASYNC109 - the TimeoutError carries the last state
    ) -> dict[str, Any]:
        """Poll the rollout until `done(rollout)`; TimeoutError shows the last state."""
        rollout: dict[str, Any] = {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    rollout = await self.get(f"/api/v1/rollouts/{rollout_id}")
                    if done(rollout):
                        return rollout
                    await asyncio.sleep(0.2)
        raise TimeoutError(f"rollout {rollout_id} did not get there: {rollout}")

    async def layer(self, scope: str, target: str, config: dict[str, Any]) -> dict[str, Any]:
        """Add a layer revision."""
        body = {"scope": scope, "target": target, "config": config}
        result: dict[str, Any] = await self.post("/api/v1/configs/layers", body)
        return result


def groups_for(ids: list[str]) -> list[dict[str, Any]]:
    """Spread devices over two districts of two streets each."""
    return [
        {"device_id": d, "group": f"testcity/d{i % 2}/s{i % 4 // 2}", "tags": ["sim"]}
        for i, d in enumerate(ids)
    ]


@contextlib.asynccontextmanager
async def ota_fleet(
    db_url: str,
    broker: Broker,
    tmp_path: Path,
    *,
    devices: int,
    options: SimOptions | None = None,
) -> AsyncIterator[OtaFleet]:
    """Fleet + API client + `devices` simulated gateways with memberships set."""
    settings = services.fleet_settings(db_url, broker)
    settings = msgspec.structs.replace(
        settings,
        provisioning=ProvisioningSettings(admin_key=ADMIN_KEY, keys_dir=str(tmp_path / "keys")),
    )
    token = secrets.token_hex(3)
    ids = [f"t{token}-{i:04d}" for i in range(devices)]
    async with run_fleet(settings) as fleet:
        assert fleet.bridge is not None
        await asyncio.wait_for(fleet.bridge.subscribed.wait(), 15)
        fleet_keys = FleetKeys.load_or_create(tmp_path / "keys")
        keys = {fleet_keys.kid: fleet_keys.public_key_raw}
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(base_url=fleet.http_url or "", headers=headers) as api:
            response = await api.put("/api/v1/configs/memberships", json={"items": groups_for(ids)})
            assert response.status_code == 200, response.text
            sim = FleetSim(
                host=broker.host,
                port=broker.port,
                device_ids=ids,
                keys=keys,
                options=options or SimOptions(heartbeat_s=1.0, apply_delay_s=(0.01, 0.1)),
            )
            await sim.start(timeout=60)
            try:
                yield OtaFleet(fleet=fleet, api=api, sim=sim, keys=keys, ids=ids)
            finally:
                await sim.stop()
