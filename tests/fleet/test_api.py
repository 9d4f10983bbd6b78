"""The HTTP API on both backends, through Litestar's test client (real database, no mocks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.app import Provisioning, create_app
from fleet.bridge.counters import BridgeCounters
from fleet.domain.ingest.schemas import BatchReceived, HealthReceived, StateReceived
from fleet.domain.ingest.services import IngestService
from fleet.security.ratelimit import RateLimiter
from protocol.senml import Record, TelemetryBatch
from tests.fleet.edge_stub import unique_device
from tests.fleet.test_ingest_service import health
from tests.services import ADMIN_AUTH, ADMIN_KEY

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
BOOT = "0123456789abcdef"
T0 = 1_700_000_000.0

Client = httpx.AsyncClient


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Client]:
    counters = BridgeCounters(connected=True, points=7)
    counters.rejected["telemetry"] = 2
    # httpx's ASGI transport runs the app on the test's event loop; Litestar's AsyncTestClient
    # would run it in a portal thread, where asyncpg connections of this loop cannot be used.
    limiter = RateLimiter(attempts=10, window_s=60)
    app = create_app(
        sessions,
        bridge_counters=counters,
        provisioning=Provisioning(admin_key=ADMIN_KEY, issuer=None, limiter=limiter),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fleet.test", headers=ADMIN_AUTH
    ) as test_client:
        yield test_client


async def seed(sessions: async_sessionmaker[AsyncSession], device: str, n_batches: int) -> None:
    """n batches of two channels, 10 points each, 1 s apart; plus state and health."""
    items: list[object] = []
    for seq in range(n_batches):
        records = []
        for i in range(10):
            ts = T0 + seq * 10 + i
            records.append(Record(name="meter/voltage", time=ts, value=230.0 + i, unit="V"))
            records.append(Record(name="lamp/on", time=ts, bool_value=i % 2 == 0))
        batch = TelemetryBatch(boot_id=BOOT, seq=seq, records=tuple(records))
        items.append(BatchReceived(device_id=device, batch=batch, received_at=NOW))
    items.append(StateReceived(device_id=device, online=True, received_at=NOW))
    items.append(HealthReceived(device_id=device, health=health(), received_at=NOW))
    await IngestService(sessions).commit(items, now=NOW)  # type: ignore[arg-type]


async def test_devices_list_get_and_404(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    device = unique_device("api")
    await seed(sessions, device, 1)
    page = (await client.get("/api/v1/devices", params={"limit": 10})).json()
    assert page["total"] == 1
    assert [d["id"] for d in page["items"]] == [device]
    one = (await client.get(f"/api/v1/devices/{device}")).json()
    assert one["registered"] is False
    assert one["online"] is True
    assert one["last_health"]["config_version"] == 3
    assert one["last_seen"].startswith("2025-05-01T12:00:00")
    missing = await client.get("/api/v1/devices/nope")
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]


async def test_register_adopts_an_unknown_device_and_refuses_twice(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    device = unique_device("api")
    await seed(sessions, device, 1)
    created = await client.post("/api/v1/devices", json={"id": device, "description": "pole 7"})
    assert created.status_code == 201
    assert created.json()["registered"] is True
    assert created.json()["first_seen"] is not None  # kept its history
    again = await client.post("/api/v1/devices", json={"id": device})
    assert again.status_code == 409
    bad = await client.post("/api/v1/devices", json={"id": "Not/Valid"})
    assert bad.status_code == 400
    fresh = await client.post("/api/v1/devices", json={"id": unique_device("new")})
    assert fresh.json()["last_seen"] is None
    unregistered = (await client.get("/api/v1/devices", params={"registered": "false"})).json()
    assert unregistered["total"] == 0


async def test_patch_changes_only_given_fields(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    device = unique_device("api")
    await client.post("/api/v1/devices", json={"id": device, "description": "a"})
    patched = await client.patch(f"/api/v1/devices/{device}", json={"registered": False})
    assert patched.json()["registered"] is False
    assert patched.json()["description"] == "a"
    assert (await client.patch("/api/v1/devices/ghost", json={})).status_code == 404


async def test_latest_has_the_newest_point_per_channel(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    device = unique_device("api")
    await seed(sessions, device, 3)
    latest = (await client.get(f"/api/v1/devices/{device}/latest")).json()
    assert latest["device_id"] == device
    by_channel = {p["channel"]: p for p in latest["channels"]}
    assert set(by_channel) == {"meter/voltage", "lamp/on"}
    assert by_channel["meter/voltage"]["ts"] == T0 + 29
    assert by_channel["meter/voltage"]["value"] == 239.0
    assert by_channel["meter/voltage"]["unit"] == "V"
    assert by_channel["lamp/on"]["bool_value"] is False
    assert (await client.get("/api/v1/devices/ghost/latest")).status_code == 404


async def test_telemetry_cursor_walk_returns_every_point_once(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    device = unique_device("api")
    await seed(sessions, device, 5)  # 100 points
    seen: list[tuple[str, float]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"/api/v1/devices/{device}/telemetry", params=params)).json()
        seen += [(p["channel"], p["ts"]) for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 100
    assert [ts for _, ts in seen] == sorted(ts for _, ts in seen)
    assert pages == 15


async def test_telemetry_filters_by_channel_and_time(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    device = unique_device("api")
    await seed(sessions, device, 2)
    params = {"channel": "meter/voltage", "since": T0 + 5, "until": T0 + 12}
    page = (await client.get(f"/api/v1/devices/{device}/telemetry", params=params)).json()
    assert [p["ts"] for p in page["items"]] == [T0 + s for s in range(5, 12)]
    assert {p["channel"] for p in page["items"]} == {"meter/voltage"}
    assert page["next_cursor"] is None


async def test_telemetry_rejects_bad_cursor_and_oversized_limit(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    device = unique_device("api")
    await seed(sessions, device, 1)
    url = f"/api/v1/devices/{device}/telemetry"
    assert (await client.get(url, params={"cursor": "!!garbage"})).status_code == 400
    assert (await client.get(url, params={"limit": 10_001})).status_code == 400
    assert (await client.get(url, params={"limit": 0})).status_code == 400


async def test_healthz_shows_bridge_counters(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] is True
    assert body["bridge"]["points"] == 7
    assert body["bridge"]["rejected"] == {"telemetry": 2}


async def test_openapi_schema_lists_the_routes(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/devices/{device_id}/telemetry" in schema["paths"]
    assert "/api/v1/devices/{device_id}/latest" in schema["paths"]
    assert "DeviceCreate" in str(schema["components"])
