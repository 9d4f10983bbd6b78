"""Revocation: once the revoke call returns, the device's session is gone and stays gone."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiomqtt

from protocol.topics import Kind, topic_for
from tests.provisioning_services import DeviceKey, FleetClient, device_client, fleet_observer

LIMIT_S = 5.0


async def _publish_forever(
    fleet_client: FleetClient, bundle: dict[str, str], refusals: list[float]
) -> None:
    """What a device does: publish every 50 ms; when kicked, log in again with the same secret."""
    topic = topic_for(bundle["device_id"], Kind.TELEMETRY)
    while True:
        try:
            async with device_client(
                fleet_client.broker, bundle["mqtt_username"], bundle["mqtt_password"]
            ) as client:
                while True:
                    await client.publish(topic, str(time.monotonic()).encode(), qos=1)
                    await asyncio.sleep(0.05)
        except aiomqtt.MqttError:
            refusals.append(time.monotonic())
            await asyncio.sleep(0.2)


async def test_revoked_device_is_cut_off_within_5_s(fleet_client: FleetClient) -> None:
    claim = await fleet_client.create_claim()
    bundle = await fleet_client.enroll_ok(claim["token"], "REVOKE-1", DeviceKey.generate())
    device_id = bundle["device_id"]
    received: list[float] = []
    refusals: list[float] = []
    async with fleet_observer(fleet_client.broker) as fleet:
        await fleet.subscribe(topic_for(device_id, Kind.TELEMETRY), qos=1)

        async def watch() -> None:
            async for _ in fleet.messages:
                received.append(time.monotonic())

        watcher = asyncio.create_task(watch())
        device = asyncio.create_task(_publish_forever(fleet_client, bundle, refusals))
        await asyncio.sleep(1.0)
        assert received, "the device should publish before it is revoked"
        response = await fleet_client.http.post(
            f"/api/v1/devices/{device_id}/revoke", headers=fleet_client.admin
        )
        returned = time.monotonic()
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "revoked"
        await asyncio.sleep(LIMIT_S + 1.5)
        for task in (device, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    late = [t for t in received if t > returned + LIMIT_S]
    assert late == []
    # In fact the broker cut it off at once: nothing at all arrived after the call returned.
    assert [t for t in received if t > returned + 0.2] == []
    # The device kept trying with its old secret and every login after the revoke was refused.
    assert len([t for t in refusals if t > returned]) >= 3
    identity = await fleet_client.http.get(
        f"/api/v1/devices/{device_id}/identity", headers=fleet_client.admin
    )
    assert identity.json()["status"] == "revoked"
