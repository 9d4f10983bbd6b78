"""A two-district fleet for access tests: own side (chengdu/wuhou) and foreign side (jinjiang)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.app import Provisioning, create_app
from fleet.db.operations import Alert
from fleet.domain.ingest.schemas import HealthReceived, StateReceived
from fleet.domain.ingest.services import IngestService
from fleet.security.ratelimit import RateLimiter
from tests.fleet.edge_stub import unique_device
from tests.fleet.test_ingest_service import health
from tests.services import ADMIN_AUTH, ADMIN_KEY

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
OWN_DISTRICT, FOREIGN_DISTRICT = "chengdu/wuhou", "chengdu/jinjiang"
OWN_STREET, OTHER_STREET, FOREIGN_STREET = (
    "chengdu/wuhou/street-7", "chengdu/wuhou/street-9", "chengdu/jinjiang/street-1",
)  # fmt: skip


@dataclass
class Side:
    """One district's objects."""

    device: str
    street: str
    alert: int = 0
    rule: int = 0
    webhook: int = 0
    schedule: int = 0
    batch: str = ""
    key_id: str = ""
    markers: list[str] = field(default_factory=list)
    """Strings that must never show to the other district."""


@dataclass
class World:
    """The seeded fleet, its client and the keys of the own district."""

    http: httpx.AsyncClient
    own: Side
    neighbour: Side
    """Same district, another street (foreign for a street viewer)."""
    foreign: Side
    keys: dict[str, dict[str, str]]


async def _side(
    http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], street: str, n: int
) -> Side:
    device = unique_device("acl")
    await IngestService(sessions).commit(
        [StateReceived(device_id=device, online=True, received_at=NOW),
         HealthReceived(device_id=device, health=health(), received_at=NOW)], now=NOW,
    )  # fmt: skip
    _city, district, name = street.split("/")
    placement = {"pole_id": f"P-{device}", "group": street, "district": district, "street": name,
                 "lat": 30.6 + n / 100, "lon": 104.0}  # fmt: skip
    assert (
        await http.put(f"/api/v1/devices/{device}/placement", json=placement)
    ).status_code == 200
    side = Side(device=device, street=street, markers=[device, f"P-{device}"])
    scope = street.rsplit("/", 1)[0]
    rule = await http.post("/api/v1/alert-rules", json={
        "name": f"rule-{district}-{n}", "kind": "threshold", "channel": "x_angle",
        "threshold": 5, "scope": scope})  # fmt: skip
    side.rule = rule.json()["id"]
    url = f"http://127.0.0.1:9/{district}-{n}"
    hook = await http.post(
        "/api/v1/webhooks", json={"url": url, "secret": "x" * 20, "scope": scope}
    )
    side.webhook = hook.json()["id"]
    schedule = await http.post("/api/v1/schedules", json={
        "name": f"night-{district}-{n}", "group": street, "point": "dim", "value": 30,
        "start": "01:00", "end": "05:00"})  # fmt: skip
    side.schedule = schedule.json()["id"]
    command = await http.post("/api/v1/commands", json={"kind": "reread", "device_id": device})
    side.batch = command.json()["batch_id"]
    key = await http.post(
        "/api/v1/access/keys", json={"name": f"k-{district}-{n}", "role": "viewer", "scope": scope}
    )
    side.key_id = key.json()["id"]
    async with sessions() as session, session.begin():
        alert = Alert(
            rule_id=side.rule, device_id=device, subject="tilt/x_angle", group_path=street,
            status="open", active_key=f"{side.rule}:{device}:tilt", severity="critical",
            message=f"tilt on {device}", value=7.0, opened_at=NOW,
        )  # fmt: skip
        session.add(alert)
        await session.flush()
        side.alert = alert.id
    side.markers += [f"rule-{district}-{n}", f"{district}-{n}", f"night-{district}-{n}", side.batch]
    return side


@asynccontextmanager
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    """Seed both districts through the API as the fleet-wide admin; yield the client and keys."""
    limiter = RateLimiter(attempts=10, window_s=60)
    app = create_app(
        sessions, provisioning=Provisioning(admin_key=ADMIN_KEY, issuer=None, limiter=limiter)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fleet.test", headers=ADMIN_AUTH
    ) as http:
        own = await _side(http, sessions, OWN_STREET, 1)
        neighbour = await _side(http, sessions, OTHER_STREET, 2)
        foreign = await _side(http, sessions, FOREIGN_STREET, 3)
        keys: dict[str, dict[str, str]] = {}
        for name, role, scope in (
            ("viewer", "viewer", OWN_DISTRICT), ("operator", "operator", OWN_DISTRICT),
            ("admin", "admin", OWN_DISTRICT), ("street-viewer", "viewer", OWN_STREET),
        ):  # fmt: skip
            created = await http.post(
                "/api/v1/access/keys", json={"name": f"t-{name}", "role": role, "scope": scope}
            )
            keys[name] = {"Authorization": f"Bearer {created.json()['key']}"}
        yield World(http=http, own=own, neighbour=neighbour, foreign=foreign, keys=keys)
