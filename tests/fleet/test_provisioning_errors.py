"""Every refusal a technician can meet names its code and says what to do next."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from fleet.db.provisioning import Claim
from tests.provisioning_services import (
    DeviceKey,
    DynsecBroker,
    FleetClient,
    dynsec_broker,
    dynsec_broker_factory,
    provisioned_fleet,
)

__all__ = ["dynsec_broker", "dynsec_broker_factory"]


@pytest.fixture
async def fleet(
    db_url: str, dynsec_broker: DynsecBroker, tmp_path: Path
) -> AsyncIterator[FleetClient]:
    """A fleet with provisioning on and at most 3 enrollment attempts per token per minute."""
    async with provisioned_fleet(
        db_url, dynsec_broker, tmp_path / "keys", bridge=False, enroll_attempts=3
    ) as client:
        yield client


def _refusal(response: httpx.Response, status: int, code: str, *advice: str) -> None:
    body = response.json()
    assert (response.status_code, body["error"]) == (status, code), body
    for phrase in advice:
        assert phrase in body["detail"], body["detail"]


async def test_every_technician_error_says_what_to_do(fleet: FleetClient) -> None:
    key = DeviceKey.generate()
    _refusal(
        await fleet.enroll("PKC-NOTATOKEN", "ERR-1", key),
        401,
        "claim_unknown",
        "scan the QR code again",
        "ask a fleet admin for a new claim",
    )
    # A token typed by hand in lower case with spaces still works.
    claim = await fleet.create_claim(max_uses=1)
    typed = claim["token"].lower().replace("pkc-", "pkc ")
    await fleet.enroll_ok(typed, "ERR-1", key)
    _refusal(
        await fleet.enroll(claim["token"], "ERR-2", DeviceKey.generate()),
        403,
        "claim_exhausted",
        "ask a fleet admin for a new claim",
    )
    fresh = await fleet.create_claim(max_uses=5)
    _refusal(
        await fleet.enroll(fresh["token"], "ERR-1", DeviceKey.generate()),
        409,
        "serial_taken",
        "rekey",
        "RMA",
    )
    _refusal(
        await fleet.enroll(fresh["token"], "ERR-3", DeviceKey.generate(), pole_id="pole-ERR-1"),
        409,
        "pole_taken",
        "decommission",
    )
    bad = await fleet.http.post(
        "/api/v1/enroll",
        json={
            "claim_token": fresh["token"],
            "serial": "ERR-4",
            "public_key": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n",
            "pole": {"pole_id": "P-4"},
        },
    )
    _refusal(bad, 400, "bad_key", "send the gateway's key")
    _refusal(
        await fleet.enroll(fresh["token"], "ERR-5", DeviceKey.generate()),
        429,
        "rate_limited",
        "wait",
        "try again",
    )

    revoked = await fleet.create_claim()
    await fleet.http.delete(f"/api/v1/claims/{revoked['id']}", headers=fleet.admin)
    _refusal(
        await fleet.enroll(revoked["token"], "ERR-6", DeviceKey.generate()),
        403,
        "claim_revoked",
        "ask a fleet admin for a new claim",
    )
    expired = await fleet.create_claim()
    async with fleet.fleet.sessions() as session:
        await session.execute(
            update(Claim)
            .where(Claim.id == expired["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await session.commit()
    _refusal(
        await fleet.enroll(expired["token"], "ERR-7", DeviceKey.generate()),
        403,
        "claim_expired",
        "expired at",
        "ask a fleet admin for a new claim",
    )


async def test_broker_down_is_a_clear_503_and_enrolls_nothing(fleet: FleetClient) -> None:
    claim = await fleet.create_claim()
    fleet.broker.kill()
    refused = await fleet.enroll(claim["token"], "DOWN-1", DeviceKey.generate())
    _refusal(refused, 503, "broker_unavailable", "try again in a minute")
    state = await fleet.http.get(f"/api/v1/claims/{claim['id']}", headers=fleet.admin)
    assert state.json()["uses"] == 0
    fleet.broker.start()
    await fleet.enroll_ok(claim["token"], "DOWN-1", DeviceKey.generate())
