"""Claim scope: a claim token is no broker credential, and enrolls only within its limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiomqtt
import pytest
from sqlalchemy import update

from fleet.db.provisioning import Claim
from tests.provisioning_services import DeviceKey, FleetClient, device_client


async def test_claim_token_is_useless_on_the_broker(fleet_client: FleetClient) -> None:
    """Enrollment is HTTP-only: no login made of the token can publish or subscribe."""
    claim = await fleet_client.create_claim(max_uses=5)
    token = claim["token"]
    attempts = [
        (token, None),
        (token, token),
        ("claim", token),
        (claim["id"], token),
        (None, None),  # anonymous
    ]
    for username, password in attempts:
        with pytest.raises(aiomqtt.MqttError):
            await _subscribe_and_publish(fleet_client, username, password)


async def _subscribe_and_publish(
    fleet_client: FleetClient, username: str | None, password: str | None
) -> None:
    async with device_client(fleet_client.broker, username, password) as client:
        await client.subscribe("#")
        await client.publish("pk/v1/anything/telemetry", b"x", qos=1)


async def test_claim_enrolls_within_its_uses_and_lifetime_only(fleet_client: FleetClient) -> None:
    claim = await fleet_client.create_claim(max_uses=2)
    token = claim["token"]
    first, second = DeviceKey.generate(), DeviceKey.generate()
    one = await fleet_client.enroll_ok(token, "SCOPE-1", first)
    await fleet_client.enroll_ok(token, "SCOPE-2", second)

    third = await fleet_client.enroll(token, "SCOPE-3", DeviceKey.generate())
    assert third.status_code == 403
    assert third.json()["error"] == "claim_exhausted"

    # The same (token, serial, key) again is a retry: same device, no use counted.
    again = await fleet_client.enroll_ok(token, "SCOPE-1", first)
    assert again["device_id"] == one["device_id"]
    # The same serial with another key is refused, however it is asked.
    other_key = await fleet_client.enroll(token, "SCOPE-1", DeviceKey.generate())
    assert (other_key.status_code, other_key.json()["error"]) == (409, "serial_taken")
    fresh = await fleet_client.create_claim(max_uses=5)
    other_token = await fleet_client.enroll(fresh["token"], "SCOPE-1", first)
    assert (other_token.status_code, other_token.json()["error"]) == (409, "serial_taken")

    listed = await fleet_client.http.get(
        f"/api/v1/claims/{claim['id']}", headers=fleet_client.admin
    )
    assert listed.json()["uses"] == 2
    assert listed.json()["state"] == "exhausted"

    # After expiry, nothing enrolls (not even a retry).
    async with fleet_client.fleet.sessions() as session:
        await session.execute(
            update(Claim)
            .where(Claim.id == fresh["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    expired = await fleet_client.enroll(fresh["token"], "SCOPE-4", DeviceKey.generate())
    assert (expired.status_code, expired.json()["error"]) == (403, "claim_expired")
