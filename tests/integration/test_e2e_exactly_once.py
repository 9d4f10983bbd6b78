"""Three real agents (Modbus TCP and RTU on a pty) -> Mosquitto -> fleet: every reading once."""

from __future__ import annotations

from dataclasses import replace

from tests.integration.e2e_harness import (
    E2E,
    AgentProcess,
    Bus,
    SimDevice,
    api_points,
    assert_exactly_once,
    unique_id,
    wait_until,
)
from tests.services import Broker

METER = SimDevice(name="meter", driver="eastron_sdm120", unit=1, poll="200ms")
ENV = SimDevice(name="env", driver="rs485_env", unit=2, poll="300ms")


def test_three_agents_deliver_every_reading_exactly_once(
    e2e: E2E, db_url: str, private_broker: Broker
) -> None:
    fleet = e2e.fleet(db_url=db_url, broker_url=private_broker.url)
    tcp = e2e.simulator("eastron_sdm120:1", "rs485_env:2", "eastron_sdm120:3")
    pty_a = e2e.simulator("eastron_sdm120:1", "rs485_env:2", pty=True)
    pty_b = e2e.simulator("rs485_env:2", pty=True)
    layouts = {
        "tcp": [Bus(name="lan", tcp_port=tcp.port, devices=[METER, ENV])],
        "rtu": [Bus(name="rs485-1", serial_port=pty_a.pty_path, devices=[METER, ENV])],
        "mixed": [
            Bus(name="lan", tcp_port=tcp.port, devices=[replace(METER, unit=3)]),
            Bus(name="rs485-1", serial_port=pty_b.pty_path, baud=4800, devices=[ENV]),
        ],
    }
    agents: list[AgentProcess] = [
        e2e.agent(device_id=unique_id(f"e2e-{kind}"), buses=buses, broker_url=private_broker.url)
        for kind, buses in layouts.items()
    ]

    # Data flows: wait until every agent has a few hundred readings delivered (acked).
    for agent in agents:
        wait_until(
            lambda agent=agent: agent.delivered() >= 200,
            timeout=60,
            what=f"{agent.device_id} to get 200 readings acked",
            logs=e2e.logs,
        )
    for agent in agents:
        for name in ("meter", "env"):
            health = agent.device_health(name)
            assert health is not None, agent.log_tail()
            assert health["online"], health
            assert health["last_error"] is None, health

    # Graceful stop (the open batch is committed), then deliver what the last run left behind.
    for agent in agents:
        assert agent.terminate() == 0, agent.log_tail()
        assert "stopped" in agent.log_tail()
        status = agent.buffer_status()
        assert status.accounting.is_balanced(), status
    for agent in agents:
        e2e.drain(agent)

    for agent in agents:
        rows = assert_exactly_once(db_url, agent, e2e.logs)
        assert {channel.split("/")[0] for channel in rows.channels} == {"meter", "env"}
        assert len(agent.boot_ids()) == 2  # the polling run and the draining run
        report = agent.status_cli()
        assert report["accounting_balanced"] is True
        assert report["accounting"]["delivered"] == rows.points
        assert report["buffer"]["batches"] == 0
        # The API serves the same rows: all pages, each point once, in time order.
        points = api_points(fleet, agent.device_id)
        assert len(points) == rows.points
        assert [p["ts"] for p in points] == sorted(p["ts"] for p in points)
        voltage = api_points(fleet, agent.device_id, channel="meter/voltage")
        assert voltage
        assert {p["channel"] for p in voltage} == {"meter/voltage"}
        assert all(p["unit"] == "V" for p in voltage)
    assert fleet.process is not None
    assert fleet.process.poll() is None, fleet.log_tail()
