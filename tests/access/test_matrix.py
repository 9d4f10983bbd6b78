"""The authorization matrix: every endpoint x role (viewer, operator, admin of one district,
and a street viewer) x own/foreign object. Foreign access is always 403 or 404, lists never
show the other district's objects, every route is covered, and every mutating request leaves
an audit row without the key in it. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.principal import outranks
from fleet.db.operations import Alert, AuditEntry
from tests.access.seed import (
    FOREIGN_DISTRICT,
    FOREIGN_STREET,
    NOW,
    OWN_DISTRICT,
    OWN_STREET,
    World,
    world,
)

ROLES = ("viewer", "operator", "admin")
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/metrics"), ("POST", "/api/v1/enroll"), ("GET", "/ui/login"),
    ("POST", "/ui/login"), ("POST", "/ui/logout"), ("GET", "/ui/static/{file_path:path}"),
}  # fmt: skip
"""Routes without a key: liveness, counts, enrollment (the claim token is the credential),
the log-in form, static files, and the OpenAPI schema (/schema...)."""
FLEET_WIDE = ("/api/v1/claims", "/api/v1/configs", "/api/v1/rollouts", "/identity", "/revoke",
              "/rekey", "/replace", "/decommission")  # fmt: skip
Target = Callable[[World, Any], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """One endpoint: its method, route, least role, and how to aim it at a side."""

    method: str
    route: str
    role: str
    path: Callable[[Any], str]
    body: Callable[[Any], Any] | None = None
    form: bool = False


CASES = [
    Case(
        "GET", "/api/v1/devices/{device_id:str}", "viewer", lambda s: f"/api/v1/devices/{s.device}"
    ),
    Case(
        "PATCH",
        "/api/v1/devices/{device_id:str}",
        "admin",
        lambda s: f"/api/v1/devices/{s.device}",
        lambda s: {"description": "x"},
    ),
    Case(
        "PUT",
        "/api/v1/devices/{device_id:str}/placement",
        "admin",
        lambda s: f"/api/v1/devices/{s.device}/placement",
        lambda s: {"pole_id": f"P-{s.device}", "group": s.street},
    ),
    Case(
        "GET",
        "/api/v1/devices/{device_id:str}/latest",
        "viewer",
        lambda s: f"/api/v1/devices/{s.device}/latest",
    ),
    Case(
        "GET",
        "/api/v1/devices/{device_id:str}/telemetry",
        "viewer",
        lambda s: f"/api/v1/devices/{s.device}/telemetry",
    ),
    Case("GET", "/api/v1/alerts/{alert_id:int}", "viewer", lambda s: f"/api/v1/alerts/{s.alert}"),
    Case(
        "POST",
        "/api/v1/alerts/{alert_id:int}/ack",
        "operator",
        lambda s: f"/api/v1/alerts/{s.alert}/ack",
    ),
    Case(
        "POST",
        "/api/v1/alerts/{alert_id:int}/resolve",
        "operator",
        lambda s: f"/api/v1/alerts/{s.alert}/resolve",
    ),
    Case(
        "POST",
        "/api/v1/alert-rules",
        "admin",
        lambda s: "/api/v1/alert-rules",
        lambda s: {
            "name": "r",
            "kind": "offline",
            "threshold": 60,
            "scope": s.street.rsplit("/", 1)[0],
        },
    ),
    Case(
        "DELETE",
        "/api/v1/alert-rules/{rule_id:int}",
        "admin",
        lambda s: f"/api/v1/alert-rules/{s.rule}",
    ),
    Case(
        "POST",
        "/api/v1/webhooks",
        "admin",
        lambda s: "/api/v1/webhooks",
        lambda s: {
            "url": "http://127.0.0.1:9/h",
            "secret": "y" * 20,
            "scope": s.street.rsplit("/", 1)[0],
        },
    ),
    Case(
        "DELETE",
        "/api/v1/webhooks/{webhook_id:int}",
        "admin",
        lambda s: f"/api/v1/webhooks/{s.webhook}",
    ),
    Case(
        "POST",
        "/api/v1/commands",
        "operator",
        lambda s: "/api/v1/commands",
        lambda s: {"kind": "reread", "device_id": s.device},
    ),
    Case(
        "GET", "/api/v1/commands/{batch_id:str}", "viewer", lambda s: f"/api/v1/commands/{s.batch}"
    ),
    Case(
        "POST",
        "/api/v1/schedules",
        "operator",
        lambda s: "/api/v1/schedules",
        lambda s: {
            "name": "n",
            "group": s.street,
            "point": "dim",
            "value": 1,
            "start": "01:00",
            "end": "02:00",
        },
    ),
    Case(
        "DELETE",
        "/api/v1/schedules/{schedule_id:int}",
        "operator",
        lambda s: f"/api/v1/schedules/{s.schedule}",
    ),
    Case(
        "POST",
        "/api/v1/access/keys",
        "admin",
        lambda s: "/api/v1/access/keys",
        lambda s: {"name": "k", "role": "viewer", "scope": s.street},
    ),
    Case(
        "DELETE",
        "/api/v1/access/keys/{key_id:str}",
        "admin",
        lambda s: f"/api/v1/access/keys/{s.key_id}",
    ),
    Case("GET", "/ui/devices/{device_id:str}", "viewer", lambda s: f"/ui/devices/{s.device}"),
    Case(
        "GET",
        "/ui/devices/{device_id:str}/live",
        "viewer",
        lambda s: f"/ui/devices/{s.device}/live",
    ),
    Case(
        "POST", "/ui/alerts/{alert_id:int}/ack", "operator", lambda s: f"/ui/alerts/{s.alert}/ack"
    ),
    Case(
        "POST",
        "/ui/alerts/{alert_id:int}/resolve",
        "operator",
        lambda s: f"/ui/alerts/{s.alert}/resolve",
    ),
    Case(
        "POST",
        "/ui/devices/{device_id:str}/command",
        "operator",
        lambda s: f"/ui/devices/{s.device}/command",
        lambda s: {"kind": "reread"},
        form=True,
    ),
    Case(
        "POST",
        "/ui/commands/send",
        "operator",
        lambda s: "/ui/commands/send",
        lambda s: {"group": s.street, "point": "dim", "value": "40"},
        form=True,
    ),
]
LISTS = [
    ("GET", "/api/v1/devices", "viewer"), ("GET", "/api/v1/alerts", "viewer"),
    ("GET", "/api/v1/alert-rules", "viewer"), ("GET", "/api/v1/webhooks", "admin"),
    ("GET", "/api/v1/commands", "viewer"), ("GET", "/api/v1/schedules", "viewer"),
    ("GET", "/api/v1/health/summary", "viewer"), ("GET", "/api/v1/health/stale-sensors", "viewer"),
    ("GET", "/api/v1/health/growing-buffers", "viewer"), ("GET", "/api/v1/access/me", "viewer"),
    ("GET", "/api/v1/access/keys", "admin"), ("GET", "/api/v1/access/audit", "admin"),
    ("GET", "/ui", "viewer"), ("GET", "/ui/map", "viewer"), ("GET", "/ui/poles.json", "viewer"),
    ("GET", "/ui/alerts", "viewer"), ("GET", "/ui/commands", "viewer"),
    ("GET", "/ui/rollouts", "viewer"),
]  # fmt: skip


async def _call(
    http: httpx.AsyncClient, case: Case, side: Any, key: dict[str, str]
) -> httpx.Response:
    body = case.body(side) if case.body else None
    if case.form:
        return await http.request(case.method, case.path(side), data=body, headers=key)
    return await http.request(case.method, case.path(side), json=body, headers=key)


def _fleet_wide_routes(app_routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Fleet-wide resources, and registering an unplaced device: 403 for every scoped key."""
    found = [(m, p) for m, p in app_routes if any(part in p for part in FLEET_WIDE)]
    return [*found, ("POST", "/api/v1/devices")]


def _sample(path: str) -> str:
    """A concrete path for a route template: ints become 1, strings acl-x."""
    return re.sub(r"\{[a-z_]+:int\}", "1", re.sub(r"\{[a-z_]+:str\}", "acl-x", path))


async def test_every_endpoint_every_role_own_and_foreign(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with world(sessions) as w:
        app = w.http._transport.app  # type: ignore[attr-defined]
        routes = sorted(
            (m, r.path)
            for r in app.routes
            for m in getattr(r, "methods", ())
            if m not in ("HEAD", "OPTIONS")
        )
        covered = {(c.method, c.route) for c in CASES} | {(m, p) for m, p, _ in LISTS} | PUBLIC
        fleet_wide = _fleet_wide_routes(routes)
        missing = [
            r
            for r in routes
            if r not in covered and r not in fleet_wide and not r[1].startswith("/schema")
        ]
        assert missing == [], f"routes without an access case: {missing}"

        for method, path in routes:  # no key, no entry (except the public routes)
            if (method, path) in PUBLIC or path.startswith(("/schema", "/ui")):
                continue
            response = await w.http.request(method, _sample(path), headers={"Authorization": ""})
            assert response.status_code == 401, (method, path, response.status_code)

        for role in ROLES:
            key = w.keys[role]
            for method, path in fleet_wide:
                body = {"id": "acl-unplaced"} if path == "/api/v1/devices" else {}
                response = await w.http.request(method, _sample(path), headers=key, json=body)
                assert response.status_code == 403, (role, method, path, response.status_code)
            for case in CASES:
                own = await _call(w.http, case, w.own, key)
                if outranks(role, case.role):  # type: ignore[arg-type]
                    assert own.status_code < 400, (
                        role,
                        case.method,
                        case.route,
                        own.status_code,
                        own.text,
                    )
                else:
                    assert own.status_code == 403, (role, case.method, case.route, own.status_code)
                foreign = await _call(w.http, case, w.foreign, key)
                assert foreign.status_code in (403, 404), (
                    role,
                    case.route,
                    foreign.status_code,
                    foreign.text,
                )
                asked = case.path(w.foreign) + str(case.body(w.foreign) if case.body else "")
                told = [m for m in w.foreign.markers if m in foreign.text and m not in asked]
                assert told == [], (
                    role,
                    case.route,
                    foreign.text,
                )
                await _reseed(w, case, sessions)
            for method, path, least in LISTS:
                response = await w.http.request(method, path, headers=key)
                if not outranks(role, least):  # type: ignore[arg-type]
                    assert response.status_code == 403, (role, path)
                    continue
                assert response.status_code == 200, (role, path, response.text)
                if path == "/api/v1/access/audit":  # own callers' rows only (paths they typed)
                    scopes = {item["scope"] for item in response.json()["items"]}
                    assert scopes
                    assert all(x.startswith(OWN_DISTRICT) for x in scopes), scopes
                    continue
                leaked = [m for m in [*w.foreign.markers, "jinjiang"] if m in response.text]
                assert leaked == [], (role, path, leaked)
                if path == "/api/v1/devices":
                    assert w.own.device in response.text

        street = w.keys["street-viewer"]
        assert (
            await w.http.get(f"/api/v1/devices/{w.own.device}", headers=street)
        ).status_code == 200
        for case in CASES:
            response = await _call(w.http, case, w.neighbour, street)
            assert response.status_code in (403, 404), ("street", case.route, response.status_code)
        listed = (await w.http.get("/api/v1/devices", headers=street)).json()
        assert [d["id"] for d in listed["items"]] == [w.own.device]
        escalate = {"name": "x", "role": "admin", "scope": ""}
        assert (
            await w.http.post("/api/v1/access/keys", json=escalate, headers=w.keys["admin"])
        ).status_code == 403

    async with sessions() as session:
        audit = list(await session.scalars(select(AuditEntry)))
    assert {row.method for row in audit} >= {"POST", "PUT", "PATCH", "DELETE"}
    assert any(row.actor.startswith("t-admin") and row.status == 403 for row in audit)
    assert any(row.actor.startswith("t-operator") and row.status < 400 for row in audit)
    secrets_ = [k["Authorization"].split()[1] for k in w.keys.values()]
    dumped = " ".join(f"{r.actor} {r.path} {r.remote}" for r in audit)
    assert not any(secret in dumped for secret in secrets_)


async def _reseed(w: World, case: Case, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Put back what an allowed DELETE or resolve used up, so the next role finds it again."""
    if case.route.endswith("/resolve"):
        async with sessions() as session, session.begin():
            alert = Alert(
                rule_id=w.own.rule, device_id=w.own.device, subject="tilt/x_angle",
                group_path=OWN_STREET, status="open", severity="critical", message="again",
                value=7.0, opened_at=NOW,
            )  # fmt: skip
            session.add(alert)
            await session.flush()
            w.own.alert = alert.id
        return
    if case.method != "DELETE":
        return
    http = w.http
    scope = OWN_DISTRICT
    if "alert-rules" in case.route:
        made = await http.post(
            "/api/v1/alert-rules", json={"name": "rule-wuhou-1", "kind": "offline", "scope": scope}
        )
        w.own.rule = made.json()["id"]
    elif "webhooks" in case.route:
        made = await http.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/w", "secret": "z" * 20, "scope": scope},
        )
        w.own.webhook = made.json()["id"]
    elif "schedules" in case.route:
        body = {
            "name": "s",
            "group": OWN_STREET,
            "point": "dim",
            "value": 1,
            "start": "01:00",
            "end": "02:00",
        }
        w.own.schedule = (await http.post("/api/v1/schedules", json=body)).json()["id"]
    elif "keys" in case.route:
        made = await http.post(
            "/api/v1/access/keys", json={"name": "spare", "role": "viewer", "scope": OWN_STREET}
        )
        w.own.key_id = made.json()["id"]
    assert FOREIGN_STREET.startswith(FOREIGN_DISTRICT)
