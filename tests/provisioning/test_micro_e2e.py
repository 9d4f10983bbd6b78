"""End to end: `polekit provision --serial` enrolls with the real fleet (dynsec broker) and
writes agent + bundle to a fake MicroPython board on a pty, which the agent's loader accepts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.micro_install import agent_files
from tests.provisioning.flow import Site, site
from tests.provisioning.micro_boot import boot
from tests.provisioning.support import polekit, secrets_in
from tests.provisioning_services import SUCCESS, device_client
from tests.unit.micro.wasm import run_script
from tests.unit.provisioning.fake_board import FakeBoard

pytestmark = pytest.mark.timeout(240)
PSK = "wpa2-passphrase-for-the-pole-net"
CONFIG = """\
buses:
  - name: rs485-1
    modbus_rtu: {baud: 9600}
    devices:
      - {name: meter, driver: eastron_sdm120, unit: 1, poll: 10s}
      - name: env
        driver: rs485_env
        unit: 2
        poll: 30s
        channels: {pm2_5: {filters: [{deadband: 2}, {heartbeat: 5m}]}}
health: {interval: 20s}
"""


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Broker with per-device logins and the fleet with enrollment, for this module."""
    with site(tmp_path_factory.mktemp("micro-site")) as started:
        yield started


@pytest.fixture
def board(tmp_path: Path) -> Iterator[FakeBoard]:
    """An empty MicroPython board on a pty."""
    (tmp_path / "flash").mkdir()
    fake = FakeBoard(tmp_path / "flash")
    yield fake
    fake.close()


def provision(
    place: Site, board: FakeBoard, tmp_path: Path, *, pole: str, config: str = CONFIG
) -> tuple[list[str], str]:
    """The technician's command line (Wi-Fi passphrase in a file) and the claim token."""
    (tmp_path / "wifi.psk").write_text(PSK + "\n")
    (tmp_path / "local.yaml").write_text(config)
    token = place.create_claim()
    args = [
        "provision", "--fleet", place.enroll_url, "--claim", token, "--pole", pole,
        "--serial", board.port, "--wifi-ssid", "pole-net",
        "--wifi-password-file", str(tmp_path / "wifi.psk"),
        "--config", str(tmp_path / "local.yaml"), "--retry-delay", "0.2",
    ]  # fmt: skip
    return args, token


def test_provision_writes_agent_and_bundle_the_loader_accepts(
    place: Site, board: FakeBoard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, token = provision(place, board, tmp_path, pole="M0001")
    done = polekit(*args, home=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    flash = board.root
    for path, data in agent_files().items():
        assert (flash / path.lstrip("/")).read_bytes() == data
    written = sorted(
        p.relative_to(flash / "polekit").as_posix() for p in flash.glob("polekit/**/*")
    )
    assert written == ["bundle.json", "drivers", "drivers/eastron_sdm120.pkd",
                       "drivers/rs485_env.pkd"]  # fmt: skip
    assert not list(flash.rglob("*.tmp"))
    settings = json.loads((flash / "polekit/bundle.json").read_text())
    device_id = settings["device_id"]
    assert f"enrolled as device {device_id}" in done.stdout
    assert f"polekit verify {device_id}" in done.stdout
    deadline = time.monotonic() + 5
    while board.main_runs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert board.main_runs == 1  # soft-rebooted into main.py

    booted = boot(flash / "polekit", monkeypatch)
    assert booted.wifi == ("pole-net", PSK)
    assert booted.uart == {"id": 2, "baudrate": 9600, "bits": 8, "parity": None, "stop": 1,
                           "tx": 17, "rx": 16}  # fmt: skip
    assert booted.de_pin == 4
    agent = booted.agent
    assert [(d.name, d.unit, d.poll_ms) for d in agent.devices] == [
        ("meter", 1, 10000), ("env", 2, 30000)
    ]  # fmt: skip
    assert agent.health_ms == 20000
    assert len(agent.guard.keys) == 1
    mqtt = booted.mqtt
    assert (mqtt["server"], mqtt["port"]) == (place.broker.host, place.broker.port)
    assert mqtt["client_id"] == mqtt["user"] == device_id
    assert mqtt["ssl"] is None
    assert asyncio.run(_publish_health(place, device_id, mqtt["password"])) == SUCCESS

    micro = _load_on_micropython(flash / "polekit")
    assert "DEVICES meter:eastron_sdm120,env:rs485_env" in micro
    assert f"KEYS {next(iter(agent.guard.keys))}" in micro

    assert not list((tmp_path / ".polekit" / "pending-claims").glob("*"))
    secrets = [PSK, mqtt["password"], token, place.broker.admin[1]]
    assert secrets_in([done.stdout, done.stderr], secrets) == []


def test_refuses_before_enrolling_what_the_micro_agent_cannot_run(
    place: Site, board: FakeBoard, tmp_path: Path
) -> None:
    tcp = "buses:\n  - {name: rs485-1, modbus_tcp: {host: 10.0.0.9}}\n"
    args, token = provision(place, board, tmp_path, pole="M0002", config=tcp)
    done = polekit(*args, home=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "bus rs485-1 is Modbus TCP, which the micro agent cannot run" in done.stderr
    assert "use a gateway (--target/--ssh)" in done.stderr
    assert list(board.root.iterdir()) == []
    assert not (tmp_path / ".polekit" / "pending-claims").exists()  # nothing enrolled
    assert secrets_in([done.stdout, done.stderr], [PSK, token]) == []

    args[args.index(board.port)] = str(tmp_path / "no-such-tty")
    (tmp_path / "local.yaml").write_text(CONFIG)
    done = polekit(*args, home=tmp_path)
    assert done.returncode == 2
    assert "Nothing was enrolled" in done.stderr
    assert "the board must run MicroPython" in done.stderr


def test_a_failed_write_stays_queued_and_resume_finishes_it(
    place: Site, board: FakeBoard, tmp_path: Path
) -> None:
    blocker = board.root / "polekit"
    blocker.write_text("a file where the bundle folder goes")
    args, token = provision(place, board, tmp_path, pole="M0003")
    failed = polekit(*args, home=tmp_path)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "The device is enrolled" in failed.stdout
    assert "polekit provision --resume" in failed.stdout
    blocker.unlink()
    resumed = polekit("provision", "--resume", home=tmp_path)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    settings = json.loads((board.root / "polekit/bundle.json").read_text())
    assert settings["wifi"] == {"ssid": "pole-net", "psk": PSK}
    assert not list((tmp_path / ".polekit" / "pending-claims").glob("*"))
    texts = [failed.stdout, failed.stderr, resumed.stdout, resumed.stderr]
    assert secrets_in(texts, [PSK, settings["mqtt"]["password"], token]) == []


async def _publish_health(place: Site, device_id: str, password: str) -> int:
    """The bundle's login works on the dynsec broker and may publish the device's health."""
    async with device_client(place.broker, device_id, password) as client:
        return await client.publish_checked(f"pk/v1/{device_id}/health", b"\xa0")


def _load_on_micropython(root: Path) -> str:
    """Construct the agent from the written bundle on the MicroPython interpreter."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return run_script(
        "import json, os\n"
        "from edge.micro.agent import Agent\n"
        "from edge.micro.modbus import ModbusMaster\n"
        "from tests.micro.fake_uart import FakeUart\n"
        "from tests.micro.support import FakeMqtt\n"
        "root = '/work/polekit'\n"
        "os.mkdir(root)\nos.mkdir(root + '/drivers')\n"
        f"for name, data in {files!r}.items():\n"
        "    with open(root + '/' + name, 'wb') as handle:\n"
        "        handle.write(data)\n"
        "with open(root + '/bundle.json') as handle:\n"
        "    bundle = json.load(handle)\n"
        "agent = Agent(bundle, root, ModbusMaster(FakeUart(unit=1), 20), FakeMqtt, '0' * 16,\n"
        "              lambda: 1700000000000, lambda: (1, 2), lambda: None)\n"
        "print('DEVICES', ','.join(d.name + ':' + d.driver.name for d in agent.devices))\n"
        "print('KEYS', ','.join(agent.guard.keys))\n"
    )
