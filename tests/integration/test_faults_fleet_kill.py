"""SIGKILL the fleet mid-stream, restart it: the broker queue and the agent's resends land once."""

from __future__ import annotations

from tests.integration.e2e_harness import (
    E2E,
    Bus,
    SimDevice,
    fleet_health,
    unique_id,
    wait_until,
)
from tests.services import Broker

INFLIGHT = 4


def test_fleet_crash_loses_and_duplicates_nothing(
    e2e: E2E, db_url: str, private_broker: Broker
) -> None:
    fleet = e2e.fleet(db_url=db_url, broker_url=private_broker.url)
    sim = e2e.simulator("eastron_sdm120:1", "rs485_env:2")
    agent = e2e.agent(
        device_id=unique_id("fkill"),
        broker_url=private_broker.url,
        ack_timeout="3s",
        inflight=INFLIGHT,
        buses=[
            Bus(
                name="lan",
                tcp_port=sim.port,
                devices=[
                    SimDevice(name="meter", driver="eastron_sdm120", unit=1, poll="200ms"),
                    SimDevice(name="env", driver="rs485_env", unit=2, poll="300ms"),
                ],
            )
        ],
    )
    wait_until(
        lambda: agent.delivered() >= 100,
        timeout=60,
        what="100 readings acked",
        logs=e2e.logs,
    )

    resent_before = agent.uplink().get("republished_batches", 0)
    fleet.kill()  # mid-stream: received-but-uncommitted batches and unsent acks die with it
    # The agent keeps publishing into the fleet's persistent session and, with no ack within
    # ack_timeout, publishes its in-flight batches again; the broker queues every copy. Only
    # the first re-send of a batch the dead fleet had taken in can be its sole copy, and at
    # most INFLIGHT batches were in flight: one re-send more surely makes a duplicate.
    wait_until(
        lambda: agent.uplink().get("republished_batches", 0) >= resent_before + INFLIGHT + 1,
        timeout=60,
        what="the agent to re-send unacked batches",
        logs=e2e.logs,
    )
    read_while_down = agent.buffer_status().accounting.read
    fleet.start()  # same client id: resumes the session the broker kept

    wait_until(
        lambda: agent.delivered() >= read_while_down,
        timeout=90,
        what="the restarted fleet to commit and ack the backlog",
        logs=e2e.logs,
    )
    bridge = fleet_health(fleet)["bridge"]
    # Some batches reached the restarted fleet twice (queued original + re-sent copy): deduped.
    assert bridge["batches_duplicate"] >= 1, bridge

    e2e.stop_and_check([agent], db_url)
