"""The technician's flow as real processes: provision -> gateway boots from its bundle -> verify.

Shared by the end-to-end tests and tests/bench/bench_provision.py. The gateway is simulated:
`python -m drivers.sim` serves the sensors on a pty that a test board profile names rs485-1,
and `polekit agent run --bundle DIR` is the gateway's agent on first boot.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from drivers.sim.process import SimulatorProcess
from tests.provisioning.support import POLEKIT, local_config, polekit, sim_board
from tests.provisioning_services import DynsecBroker
from tests.services import REPO, FleetProcess


@dataclass
class FlowResult:
    """What each step printed, and how long provision -> verified took."""

    device_id: str
    provision: subprocess.CompletedProcess[str]
    verify: subprocess.CompletedProcess[str]
    elapsed_s: float
    provision_s: float
    agent_log: str
    bundle: Path
    claim: str


ADMIN_KEY = "provisioning-test-admin-key-0123456789"


@dataclass
class Site:
    """A broker with dynamic security, the real fleet with provisioning on, a claim token."""

    workdir: Path
    broker: DynsecBroker
    fleet: FleetProcess
    agents: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def enroll_url(self) -> str:
        """Where the technician enrolls: the fleet itself."""
        return self.fleet.http_url

    def create_claim(self, *, max_uses: int = 10) -> str:
        """A claim token from the fleet's admin API."""
        answer = httpx.post(
            f"{self.fleet.http_url}/api/v1/claims",
            json={"group": "chengdu/jinjiang/renmin-rd", "ttl_s": 3600, "max_uses": max_uses},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    def viewer_key(self) -> str:
        """A technician's read-only API key for the district the claims place poles in."""
        answer = httpx.post(
            f"{self.fleet.http_url}/api/v1/access/keys",
            json={"name": "technician", "role": "viewer", "scope": "chengdu/jinjiang"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["key"])


def fleet_process(workdir: Path, broker: DynsecBroker, **options: object) -> FleetProcess:
    """`polekit fleet serve` with provisioning on (not started)."""
    workdir.mkdir(parents=True, exist_ok=True)
    admin_key = workdir / "admin.key"
    admin_key.write_text(ADMIN_KEY)
    user, password = broker.fleet
    return FleetProcess(
        db_url=f"sqlite:///{workdir / 'fleet.db'}",
        mqtt_url=f"mqtt://{user}:{password}@{broker.host}:{broker.port}",
        client_id=f"pk-prov-fleet-{time.monotonic_ns()}",
        extra_args=(
            "--broker-admin",
            broker.admin_url,
            "--admin-key-file",
            str(admin_key),
            "--keys-dir",
            str(workdir / "keys"),
        ),
        **options,  # type: ignore[arg-type]
    )


@contextmanager
def site(workdir: Path) -> Iterator[Site]:
    """Start the dynamic-security broker and the fleet (enrollment included)."""
    broker = DynsecBroker()
    broker.start()
    fleet = fleet_process(workdir / "fleet", broker)
    state = Site(workdir=workdir, broker=broker, fleet=fleet)
    try:
        fleet.start()
        yield state
    finally:
        for agent in state.agents:
            if agent.poll() is None:
                agent.terminate()
                try:
                    agent.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    agent.kill()
        fleet.close()
        broker.close()


def provision_and_verify(
    place: Site,
    *,
    pole_id: str,
    sensors: Sequence[str] = ("eastron_sdm120:1:baud=9600", "rs485_env:2:baud=9600"),
    verify_timeout: float = 45.0,
    claim: str | None = None,
) -> FlowResult:
    """Run the whole flow once for a new pole; the timer covers provision to verify's exit."""
    work = place.workdir / pole_id
    work.mkdir(parents=True)
    token = claim or place.create_claim()
    viewer = place.viewer_key()
    home = work / "home"
    home.mkdir()
    target = work / "boot" / "polekit"
    target.parent.mkdir()
    with SimulatorProcess(list(sensors), pty=True) as sim:
        boards = sim_board(work / "boards", sim.pty_path)
        config = local_config(work / "local.yaml", work)
        started = time.monotonic()
        provision = polekit(
            "provision", "--fleet", place.enroll_url, "--claim", token,
            "--pole", pole_id, "--gps", "30.6586,104.0648", "--street", "Renmin Rd",
            "--district", "Jinjiang", "--target", str(target), "--board", "sim-gateway",
            "--board-path", str(boards), "--config", str(config),
            home=home,
        )  # fmt: skip
        provision_s = time.monotonic() - started
        assert provision.returncode == 0, provision.stdout + provision.stderr
        device_id = json.loads((target / "bundle.json").read_text())["device_id"]
        log_path = work / "agent.log"
        with log_path.open("wb") as log:
            agent = subprocess.Popen(
                [*POLEKIT, "agent", "run", "--bundle", str(target), "--board-path", str(boards)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        place.agents.append(agent)
        verify = polekit(
            "verify", device_id, "--fleet", place.fleet.http_url, "--bundle", str(target),
            "--timeout", str(verify_timeout), "--interval", "0.5",
            home=home, timeout=verify_timeout + 30, env={"POLEKIT_API_KEY": viewer},
        )  # fmt: skip
        elapsed = time.monotonic() - started
        agent.terminate()
        agent.wait(timeout=20)
    return FlowResult(
        device_id=device_id,
        provision=provision,
        verify=verify,
        elapsed_s=elapsed,
        provision_s=provision_s,
        agent_log=log_path.read_text(errors="replace"),
        bundle=target,
        claim=token,
    )
