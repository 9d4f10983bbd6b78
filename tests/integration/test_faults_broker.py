"""SIGKILL Mosquitto mid-stream, restart it: agents and fleet reconnect, nothing lost or doubled."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.e2e_harness import (
    E2E,
    Bus,
    SimDevice,
    fleet_health,
    unique_id,
    wait_until,
)
from tests.services import MosquittoProcess


def test_broker_crash_loses_and_duplicates_nothing(
    e2e: E2E, db_url: str, mosquitto_factory: Callable[..., MosquittoProcess]
) -> None:
    broker = mosquitto_factory(persistence=True)
    fleet = e2e.fleet(db_url=db_url, broker_url=broker.url)
    sim = e2e.simulator("eastron_sdm120:1", "rs485_env:2", "eastron_sdm120:3", "rs485_env:4")
    agents = [
        e2e.agent(
            device_id=unique_id(f"brk-{first}"),
            broker_url=broker.url,
            buses=[
                Bus(
                    name="lan",
                    tcp_port=sim.port,
                    devices=[
                        SimDevice(name="meter", driver="eastron_sdm120", unit=first, poll="200ms"),
                        SimDevice(name="env", driver="rs485_env", unit=first + 1, poll="300ms"),
                    ],
                )
            ],
        )
        for first in (1, 3)
    ]
    for agent in agents:
        wait_until(
            lambda agent=agent: agent.delivered() >= 100,
            timeout=60,
            what=f"{agent.device_id} to get 100 readings acked",
            logs=e2e.logs,
        )

    broker.kill()  # mid-stream: batches in flight, acks in flight, fleet mid-commit
    for agent in agents:
        wait_until(
            lambda agent=agent: agent.uplink().get("connected") is False,
            timeout=30,
            what=f"{agent.device_id} to notice the broker is gone",
            logs=lambda: e2e.logs() + broker.log_tail(),
        )
    read_while_down = [agent.buffer_status().accounting.read for agent in agents]
    broker.start()  # same port, same persistence directory

    for agent, read_before in zip(agents, read_while_down, strict=True):
        wait_until(
            lambda agent=agent, read_before=read_before: (
                agent.uplink_connects() >= 2 and agent.delivered() >= read_before
            ),
            timeout=90,
            what=f"{agent.device_id} to reconnect and deliver what it read while cut off",
            logs=lambda: e2e.logs() + broker.log_tail(),
        )
    bridge = fleet_health(fleet)["bridge"]
    assert bridge["connected"] is True
    assert bridge["connects"] >= 2, bridge
    assert bridge["db_errors"] == 0, bridge

    e2e.stop_and_check(agents, db_url)
