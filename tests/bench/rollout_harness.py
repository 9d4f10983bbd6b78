"""Rollout benchmarks' shared part: Mosquitto, PostgreSQL, `polekit fleet serve` as a
subprocess (its own CPU), and N simulated gateways in this process (fleet.sim)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fleet.security.keys import FleetKeys
from fleet.sim.fleet import FleetSim, SimOptions, raise_fd_limit
from tests import services
from tests.services import FleetProcess, MosquittoProcess

ADMIN_KEY = "bench-rollout-admin-key-0123456789"


@dataclass
class Rig:
    """Everything a rollout benchmark drives."""

    api: httpx.AsyncClient
    sim: FleetSim
    fleet: FleetProcess
    ids: list[str]
    connect_s: float

    async def rollout(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a rollout; the API's answer."""
        response = await self.api.post("/api/v1/rollouts", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def status(self, rollout_id: int) -> dict[str, Any]:
        """The rollout with per-stage counts."""
        response = await self.api.get(f"/api/v1/rollouts/{rollout_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@contextlib.asynccontextmanager
async def rig(*, devices: int, heartbeat_s: float, db: str = "postgresql") -> AsyncIterator[Rig]:
    """Start broker, database, fleet and `devices` gateways; tear everything down after."""
    raise_fd_limit(devices * 2 + 4096)  # inherited by mosquitto: one fd per connection
    work = Path(tempfile.mkdtemp(prefix="pk-bench-rollout-"))
    os.environ["POLEKIT_ADMIN_KEY"] = ADMIN_KEY
    async with contextlib.AsyncExitStack() as stack:
        broker = stack.enter_context(
            MosquittoProcess(extra_config=("max_connections -1", "max_inflight_messages 0"))
        )
        if db == "postgresql":
            server = stack.enter_context(services.postgres_server())
            name = services.unique_db_name("pkbench")
            db_url = await asyncio.to_thread(services.create_database, server, name)
            stack.push_async_callback(asyncio.to_thread, services.drop_database, server, name)
        else:
            db_url = f"sqlite:///{work / 'fleet.db'}"
        fleet = FleetProcess(
            db_url=db_url,
            mqtt_url=broker.url,
            client_id="bench-rollout-fleet",
            extra_args=("--keys-dir", str(work / "keys"), "--log-level", "warning"),
        )
        stack.callback(fleet.close)
        fleet.start(timeout=60)
        keys = FleetKeys.load_or_create(work / "keys")
        ids = [f"bench-{i:05d}" for i in range(devices)]
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(base_url=fleet.http_url, headers=headers, timeout=300) as api:
            items = [
                {"device_id": d, "group": f"benchcity/d{i % 10}/s{i % 100 // 10}", "tags": []}
                for i, d in enumerate(ids)
            ]
            (await api.put("/api/v1/configs/memberships", json={"items": items})).raise_for_status()
            layer = {"scope": "fleet", "target": "", "config": {"health": {"interval": "10s"}}}
            (await api.post("/api/v1/configs/layers", json=layer)).raise_for_status()
            sim = FleetSim(
                host=broker.host,
                port=broker.port,
                device_ids=ids,
                keys={keys.kid: keys.public_key_raw},
                options=SimOptions(heartbeat_s=heartbeat_s, apply_delay_s=(0.05, 0.5)),
            )
            connect_s = await sim.start(timeout=600)
            try:
                yield Rig(api=api, sim=sim, fleet=fleet, ids=ids, connect_s=connect_s)
            finally:
                await sim.stop()


async def wait_for(check: Any, *, timeout: float, every: float = 0.5) -> float:  # noqa: ASYNC109
    """Poll an async predicate; seconds until it held (TimeoutError after `timeout`)."""
    began = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            if await check():
                return time.monotonic() - began
            await asyncio.sleep(every)
