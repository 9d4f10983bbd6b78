"""ACL matrix: 20 enrolled devices try every other device's topics; nothing crosses over."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

import aiomqtt

from protocol.topics import Kind, topic_for
from tests.provisioning_services import (
    NOT_AUTHORIZED,
    SUCCESS,
    CheckedClient,
    DeviceKey,
    FleetClient,
    codes,
    device_client,
    fleet_observer,
)

N_DEVICES = 20
OWN_SUBSCRIPTIONS = (Kind.ACK, Kind.CONFIG_DESIRED)


async def _collect(client: aiomqtt.Client, sink: list[aiomqtt.Message]) -> None:
    async for message in client.messages:
        sink.append(message)


async def test_no_device_reaches_another_devices_topics(fleet_client: FleetClient) -> None:
    claim = await fleet_client.create_claim(max_uses=N_DEVICES)
    bundles = [
        await fleet_client.enroll_ok(claim["token"], f"ACL-{i:02d}", DeviceKey.generate())
        for i in range(N_DEVICES)
    ]
    ids = [bundle["device_id"] for bundle in bundles]
    assert len(set(ids)) == N_DEVICES
    inbox: dict[str, list[aiomqtt.Message]] = defaultdict(list)
    observed: list[aiomqtt.Message] = []
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, CheckedClient] = {}
        for bundle in bundles:
            client = device_client(
                fleet_client.broker, bundle["mqtt_username"], bundle["mqtt_password"]
            )
            clients[bundle["device_id"]] = await stack.enter_async_context(client)
        observer = await stack.enter_async_context(fleet_observer(fleet_client.broker))
        await observer.subscribe("pk/v1/#", qos=1)
        readers = [asyncio.create_task(_collect(observer, observed))]
        readers += [asyncio.create_task(_collect(c, inbox[d])) for d, c in clients.items()]

        async def attack(me: str, client: CheckedClient) -> tuple[list[int], list[int], list[int]]:
            own = await client.subscribe([(topic_for(me, kind), 1) for kind in OWN_SUBSCRIPTIONS])
            others = [o for o in ids if o != me]
            foreign = await client.subscribe(
                [(f"pk/v1/{o}/#", 1) for o in others] + [("#", 1), ("pk/v1/+/telemetry", 1)]
            )
            own_publish = await client.publish_checked(topic_for(me, Kind.TELEMETRY), me.encode())
            foreign_publishes = []
            for other in others:
                for kind in (Kind.TELEMETRY, Kind.ACK, Kind.CONFIG_DESIRED):
                    rc = await client.publish_checked(topic_for(other, kind), me.encode())
                    foreign_publishes.append(rc)
            return codes(own), codes(foreign), [own_publish, *foreign_publishes]

        results = await asyncio.gather(*(attack(me, c) for me, c in clients.items()))
        # The fleet answers each device on its own ack topic; only that device may get it.
        for device_id in ids:
            assert (
                await observer.publish_checked(topic_for(device_id, Kind.ACK), device_id.encode())
                == SUCCESS
            )
        await asyncio.sleep(1.0)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

    for own_subs, foreign_subs, publishes in results:
        assert all(rc < 0x80 for rc in own_subs), own_subs
        assert foreign_subs == [NOT_AUTHORIZED] * len(foreign_subs)
        assert publishes[0] == SUCCESS  # every own publish accepted
        assert publishes[1:] == [NOT_AUTHORIZED] * (N_DEVICES - 1) * 3
    # The observer saw exactly one telemetry message per device, each on its sender's topic.
    telemetry = [m for m in observed if m.topic.value.endswith("/telemetry")]
    assert sorted(m.topic.value for m in telemetry) == sorted(
        topic_for(d, Kind.TELEMETRY) for d in ids
    )
    cross = [m for m in telemetry if m.topic.value.split("/")[2] != m.payload.decode()]
    assert cross == []
    # Each device received its own ack and nothing else.
    for device_id in ids:
        got = [(m.topic.value, m.payload) for m in inbox[device_id]]
        assert got == [(topic_for(device_id, Kind.ACK), device_id.encode())]
