"""SIGKILL an agent mid-burst and restart it: its committed batches of the old boot still land."""

from __future__ import annotations

import os
import signal

from tests.integration.e2e_harness import E2E, Bus, SimDevice, unique_id, wait_until
from tests.services import Broker


def test_agent_crash_delivers_committed_batches_of_the_old_boot(
    e2e: E2E, db_url: str, private_broker: Broker
) -> None:
    fleet = e2e.fleet(db_url=db_url, broker_url=private_broker.url)
    tcp = e2e.simulator("eastron_sdm120:1")
    pty = e2e.simulator("rs485_env:2", pty=True)
    agent = e2e.agent(
        device_id=unique_id("akill"),
        broker_url=private_broker.url,
        buses=[
            Bus(
                name="lan",
                tcp_port=tcp.port,
                devices=[SimDevice(name="meter", driver="eastron_sdm120", unit=1, poll="200ms")],
            ),
            Bus(
                name="rs485-1",
                serial_port=pty.pty_path,
                baud=4800,
                devices=[SimDevice(name="env", driver="rs485_env", unit=2, poll="200ms")],
            ),
        ],
    )
    wait_until(lambda: agent.delivered() >= 100, timeout=60, what="100 acked", logs=e2e.logs)

    # Freeze the fleet so acks stop while the agent keeps reading and committing: at the kill
    # the buffer surely holds committed, unacknowledged batches of this boot.
    assert fleet.process is not None
    os.kill(fleet.process.pid, signal.SIGSTOP)
    try:
        wait_until(
            lambda: agent.buffer_status().stats.batches >= 5,
            timeout=30,
            what="committed batches to pile up",
            logs=e2e.logs,
        )
        agent.kill()
    finally:
        os.kill(fleet.process.pid, signal.SIGCONT)
    at_kill = agent.buffer_status()
    assert at_kill.accounting.is_balanced(), at_kill  # counts are committed with the batches
    [old_boot] = agent.boot_ids()

    agent.start()  # same config, same buffer file, new boot id
    new_boot = agent.boot_ids()[-1]
    assert new_boot != old_boot
    wait_until(
        lambda: agent.delivered() >= at_kill.accounting.read + 100,
        timeout=90,
        what="the old boot's batches and new readings to be acked",
        logs=e2e.logs,
    )
    for name in ("meter", "env"):  # the serial port and the TCP link came back
        health = agent.device_health(name)
        assert health is not None, agent.log_tail()
        assert health["online"], health

    [rows] = e2e.stop_and_check([agent], db_url)
    boots = {boot for boot, _, _ in rows.batches}
    assert {old_boot, new_boot} <= boots, rows.batches[:5]
    old_points = sum(n for boot, _, n in rows.batches if boot == old_boot)
    # Everything the killed boot committed reached the fleet exactly once, nothing more.
    assert old_points == at_kill.accounting.delivered + at_kill.accounting.buffered
