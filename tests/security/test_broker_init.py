"""`polekit fleet broker-init` writes a dynamic-security.json a real Mosquitto accepts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from fleet.bridge.dynsec import DynsecAccounts
from polekit.cli import main
from tests.provisioning_services import DynsecBroker, device_client, fleet_observer


async def test_broker_init_file_runs_a_broker_the_fleet_can_manage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin, fleet = ("polekit-admin", "admin-secret-1"), ("polekit-fleet", "fleet-secret-1")
    monkeypatch.setenv("POLEKIT_BROKER_ADMIN_PASSWORD", admin[1])
    monkeypatch.setenv("POLEKIT_BROKER_FLEET_PASSWORD", fleet[1])
    workdir = Path(tempfile.mkdtemp(prefix="pk-mosq-"))
    out = workdir / "dynamic-security.json"
    assert main(["fleet", "broker-init", "--out", str(out)]) == 0
    assert admin[1] not in out.read_text()
    assert "secret" not in capsys.readouterr().out  # given passwords are not echoed
    assert main(["fleet", "broker-init", "--out", str(out)]) == 2  # never overwrites
    out.chmod(0o666)
    broker = DynsecBroker(workdir=workdir, admin=admin, fleet=fleet)
    broker.start()
    try:
        await DynsecAccounts(broker.admin_mqtt).issue("pole-init-1", "device-secret-1")
        async with fleet_observer(broker) as observer:
            await observer.subscribe("pk/v1/+/telemetry", qos=1)
            async with device_client(broker, "pole-init-1", "device-secret-1") as device:
                rc = await device.publish_checked("pk/v1/pole-init-1/telemetry", b"x")
        assert rc == 0
        await DynsecAccounts(broker.admin_mqtt).remove("pole-init-1")
    finally:
        broker.close()
