"""schemathesis against the OpenAPI schema of a real fleet process, as every role (fleet-wide
admin, and a district's viewer, operator and admin): no request may get a 500. Bounded: a few
examples per operation, so the run stays under a minute per backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.services import ADMIN_AUTH, Broker, FleetProcess

EXAMPLES = 8


def _keys(base: str) -> dict[str, dict[str, str]]:
    keys = {"root": ADMIN_AUTH}
    for role in ("viewer", "operator", "admin"):
        body = {"name": f"fuzz-{role}", "role": role, "scope": "chengdu/wuhou"}
        created = httpx.post(
            f"{base}/api/v1/access/keys", json=body, headers=ADMIN_AUTH, timeout=10
        )
        assert created.status_code == 201, created.text
        keys[role] = {"Authorization": f"Bearer {created.json()['key']}"}
    return keys


def test_no_request_gets_a_500(
    db_url: str, private_broker: Broker, fleet_process_factory: Callable[..., FleetProcess]
) -> None:
    fleet = fleet_process_factory(db_url=db_url, mqtt_url=private_broker.url, client_id="pk-fuzz")
    keys = _keys(fleet.http_url)
    schema = schemathesis.openapi.from_url(f"{fleet.http_url}/schema/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    def probe(case: Any, role: str) -> None:
        response = case.call(base_url=fleet.http_url, headers=keys[role], timeout=10)
        if response.status_code >= 500:
            failures.append(f"{role} {case.method} {case.formatted_path}: {response.status_code}")

    for operation in operations:
        run = given(case=operation.as_strategy(), role=st.sampled_from(sorted(keys)))(probe)
        bounded = settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        bounded(run)()
    assert failures == [], "\n".join(sorted(set(failures))[:30])
