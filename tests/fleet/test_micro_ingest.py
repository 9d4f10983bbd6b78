"""Telemetry and health encoded by the micro agent on the MicroPython interpreter, ingested
by the real bridge into SQLite and PostgreSQL; the fleet's acks parsed by the micro agent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiomqtt
import pytest

from fleet.runner import run_fleet
from protocol.senml import decode_batch
from protocol.topics import Kind, topic_for
from tests.fleet.db_helpers import count_points, stored_seqs
from tests.fleet.edge_stub import eventually, unique_device
from tests.services import Broker
from tests.unit.micro.wasm import run_script

MICRO_AGENT_RUN = """
from tests.micro.test_agent import _run, _setup
agent, uart, mqtt, clock = _setup()
agent.uplink.window = 100  # publish every batch; the fleet below does the acking
_run(agent, clock, 15)
for payload in mqtt.on('/telemetry'):
    print('T', payload.hex())
for payload in mqtt.on('/health'):
    print('H', payload.hex())
"""


@pytest.fixture(scope="module")
def micro_output() -> dict[str, list[bytes]]:
    """Payloads the micro agent published, run once on MicroPython for both databases."""
    out: dict[str, list[bytes]] = {"T": [], "H": []}
    for line in run_script(MICRO_AGENT_RUN).splitlines():
        kind, _, payload = line.partition(" ")
        out[kind].append(bytes.fromhex(payload))
    assert len(out["T"]) >= 4
    assert len(out["H"]) == 1
    return out


def _micro_parse_acks(acks: list[bytes]) -> list[Any]:
    """The micro agent's own ack parser, run on MicroPython over the fleet's bytes."""
    script = (
        "from edge.micro.uplink import parse_ack\n"
        f"for raw in {[ack.hex() for ack in acks]!r}:\n"
        "    for boot_id, ranges in parse_ack(bytes.fromhex(raw)):\n"
        "        for first, last in ranges:\n"
        "            print(boot_id, first, last)\n"
    )
    return [line.split() for line in run_script(script).splitlines()]


async def test_micro_batches_are_stored_and_acked(
    fleet_settings: Callable[..., Any],
    private_broker: Broker,
    micro_output: dict[str, list[bytes]],
) -> None:
    device = unique_device("micro")
    batches = [decode_batch(payload) for payload in micro_output["T"]]
    boot_id = batches[0].boot_id
    async with (
        run_fleet(fleet_settings(), http=False) as fleet,
        aiomqtt.Client(
            private_broker.host,
            private_broker.port,
            identifier=f"micro-{device}",
            protocol=aiomqtt.ProtocolVersion.V311,  # what umqtt.simple speaks
        ) as client,
    ):
        bridge = fleet.bridge
        assert bridge is not None
        await bridge.subscribed.wait()
        await client.subscribe(topic_for(device, Kind.ACK), qos=1)
        for payload in micro_output["T"]:
            await client.publish(topic_for(device, Kind.TELEMETRY), payload, qos=1)
        await client.publish(topic_for(device, Kind.HEALTH), micro_output["H"][0], qos=1)
        acks: list[bytes] = []
        acked: set[int] = set()

        async def collect() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                acks.append(message.payload)
                for _, first, last in _micro_parse_acks([message.payload]):
                    acked.update(range(int(first), int(last) + 1))
                if acked >= {b.seq for b in batches}:
                    return

        await asyncio.wait_for(collect(), 30)
        assert await stored_seqs(fleet.sessions, device) == [(boot_id, b.seq) for b in batches]
        assert await count_points(fleet.sessions, device) == sum(len(b.records) for b in batches)
        assert {line[0] for line in _micro_parse_acks(acks)} == {boot_id}

        async def health_stored() -> bool:
            return bridge.counters.healths >= 1

        await eventually(health_stored)
        assert bridge.counters.rejected == {}
