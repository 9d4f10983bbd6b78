"""Client-id spoofing: device B using device A's client id (or name) gets nothing of A's."""

from __future__ import annotations

import asyncio
import contextlib

import aiomqtt
import pytest

from protocol.topics import Kind, topic_for
from tests.provisioning_services import (
    NOT_AUTHORIZED,
    SUCCESS,
    DeviceKey,
    FleetClient,
    codes,
    device_client,
    fleet_observer,
)


async def _drain(client: aiomqtt.Client, seconds: float) -> list[str]:
    topics: list[str] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for message in client.messages:
                topics.append(message.topic.value)
    return topics


async def test_b_with_a_client_id_gets_nothing_and_a_stays(fleet_client: FleetClient) -> None:
    claim = await fleet_client.create_claim(max_uses=2)
    a = await fleet_client.enroll_ok(claim["token"], "SPOOF-A", DeviceKey.generate())
    b = await fleet_client.enroll_ok(claim["token"], "SPOOF-B", DeviceKey.generate())
    a_id = a["device_id"]
    broker = fleet_client.broker
    async with (
        fleet_observer(broker) as fleet,
        device_client(broker, a["mqtt_username"], a["mqtt_password"], identifier=a_id) as dev_a,
    ):
        await dev_a.subscribe(topic_for(a_id, Kind.ACK), qos=1)
        async with device_client(
            broker, b["mqtt_username"], b["mqtt_password"], identifier=a_id
        ) as dev_b:
            granted = await dev_b.subscribe(
                [(topic_for(a_id, Kind.ACK), 1), (f"pk/v1/{a_id}/#", 1)]
            )
            assert codes(granted) == [NOT_AUTHORIZED, NOT_AUTHORIZED]
            assert await fleet.publish_checked(topic_for(a_id, Kind.ACK), b"for-a") == SUCCESS
            assert await dev_b.publish_checked(topic_for(a_id, Kind.TELEMETRY), b"x") == (
                NOT_AUTHORIZED
            )
            b_got, a_got = await asyncio.gather(_drain(dev_b, 1.0), _drain(dev_a, 1.0))
            assert b_got == []
            assert a_got == [topic_for(a_id, Kind.ACK)]  # A was not taken over

        # B's secret with A's user name is refused, and A is not kicked either.
        with pytest.raises(aiomqtt.MqttError):
            async with device_client(broker, a_id, b["mqtt_password"], identifier=a_id):
                pass
        assert await fleet.publish_checked(topic_for(a_id, Kind.ACK), b"again") == SUCCESS
        assert await _drain(dev_a, 1.0) == [topic_for(a_id, Kind.ACK)]
