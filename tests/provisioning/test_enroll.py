"""`polekit provision` against a flaky or refusing fleet: retried, queued, resumed, explained.

The fleet's enrollment endpoint is played by a local double here (to script refusals and
outages); test_e2e.py runs the same command against the real fleet.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.bundle import read_bundle
from tests.provisioning.enroll_double import EnrollDouble
from tests.provisioning.support import POLEKIT, polekit
from tests.services import REPO, free_port, wait_for_port


@pytest.fixture
def double() -> Iterator[EnrollDouble]:
    """An enrollment endpoint (not started)."""
    endpoint = EnrollDouble(broker_url="mqtt://127.0.0.1:1883")
    yield endpoint
    endpoint.stop()


def provision_args(fleet: str, target: Path, *, claim: str = "good-token") -> list[str]:
    """A technician's command line (fast retries for the tests)."""
    return [
        "provision", "--fleet", fleet, "--claim", claim, "--pole", "P7",
        "--gps", "30.66,104.06", "--target", str(target), "--retry-delay", "0.2",
    ]  # fmt: skip


def pending_claims(home: Path) -> list[Path]:
    """The queued claims under HOME."""
    root = home / ".polekit" / "pending-claims"
    return sorted(root.iterdir()) if root.exists() else []


def test_provision_writes_the_bundle_and_forgets_the_claim(
    double: EnrollDouble, tmp_path: Path
) -> None:
    url = double.start()
    done = polekit(*provision_args(url, tmp_path / "polekit"), home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_bundle(tmp_path / "polekit").config.device_id == "pole-p7"
    assert pending_claims(tmp_path) == []
    assert "polekit verify pole-p7" in done.stdout
    (sent,) = double.requests
    assert sent["pole"] == {
        "pole_id": "P7", "lat": 30.66, "lon": 104.06, "street": None, "district": None,
    }  # fmt: skip
    assert sent["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in json.dumps(sent)


def test_a_temporary_fleet_error_is_retried(double: EnrollDouble, tmp_path: Path) -> None:
    double.scripted = [(503, {"error": "broker_unavailable", "detail": "try again"})] * 2
    url = double.start()
    done = polekit(*provision_args(url, tmp_path / "polekit"), home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("retrying in") == 2
    assert len({r["public_key"] for r in double.requests}) == 1  # the same request each time


def test_connection_refused_then_up_is_retried_to_success(
    double: EnrollDouble, tmp_path: Path
) -> None:
    port = free_port()
    args = [*provision_args(f"http://127.0.0.1:{port}", tmp_path / "polekit"), "--retries", "6"]
    with subprocess.Popen(
        [*POLEKIT, *args], cwd=REPO, env={**os.environ, "HOME": str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as proc:  # fmt: skip
        time.sleep(1.0)  # the first attempts meet a closed port
        double.start(port)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "fleet unreachable" in out
    assert "retrying in" in out
    assert read_bundle(tmp_path / "polekit").config.device_id == "pole-p7"


def test_an_unreachable_fleet_queues_the_claim_and_resume_completes_it(
    double: EnrollDouble, tmp_path: Path
) -> None:
    port = free_port()
    fleet = f"http://127.0.0.1:{port}"
    args = [*provision_args(fleet, tmp_path / "polekit"), "--retries", "2"]
    queued = polekit(*args, home=tmp_path)
    assert queued.returncode == 75, queued.stdout + queued.stderr
    assert "polekit provision --resume" in queued.stdout
    (entry,) = pending_claims(tmp_path)
    assert stat_mode(entry) == 0o700
    assert {p.name: stat_mode(p) for p in entry.iterdir()} == {
        "claim.json": 0o600, "device.key": 0o600,
    }  # fmt: skip
    assert not (tmp_path / "polekit").exists()

    nothing_yet = polekit("provision", "--resume", "--retries", "1", home=tmp_path)
    assert nothing_yet.returncode == 75

    double.start(port)
    wait_for_port("127.0.0.1", port)
    resumed = polekit("provision", "--resume", home=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert read_bundle(tmp_path / "polekit").config.device_id == "pole-p7"
    assert pending_claims(tmp_path) == []
    # The key written to the gateway is the one generated (and queued) on the first run.
    (request,) = double.requests
    assert request["serial"].startswith("pk-")


def test_running_the_same_command_again_reuses_the_queued_key(
    double: EnrollDouble, tmp_path: Path
) -> None:
    port = free_port()
    args = [*provision_args(f"http://127.0.0.1:{port}", tmp_path / "polekit"), "--retries", "1"]
    assert polekit(*args, home=tmp_path).returncode == 75
    (entry,) = pending_claims(tmp_path)
    key = (entry / "device.key").read_bytes()
    double.start(port)
    again = polekit(*args, home=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reusing the key of the queued claim" in again.stdout
    assert (tmp_path / "polekit" / "device.key").read_bytes() == key


@pytest.mark.parametrize(
    ("token", "state", "expected"),
    [
        ("nope", None, "check it for typos and that --fleet is the fleet that issued it"),
        ("old-token", "expired", "has expired: ask a fleet admin for a new one"),
        ("used-token", "exhausted", "used for as many gateways as it allows"),
        ("revoked-token", "revoked", "was revoked: ask a fleet admin for a new one"),
    ],
)
def test_refused_claims_say_what_to_do(
    double: EnrollDouble, tmp_path: Path, token: str, state: str | None, expected: str
) -> None:
    if state:
        double.tokens[token] = state
    url = double.start()
    refused = polekit(*provision_args(url, tmp_path / "polekit", claim=token), home=tmp_path)
    assert refused.returncode == 1
    assert expected in refused.stdout
    assert token not in refused.stdout + refused.stderr
    assert pending_claims(tmp_path) == []
    assert len(double.requests) == 1  # a refusal is not retried


def test_missing_options_and_bad_values_are_named(tmp_path: Path) -> None:
    missing = polekit("provision", "--fleet", "http://x", home=tmp_path)
    assert missing.returncode == 2
    assert "missing --claim, --pole, --target" in missing.stderr
    bad = polekit(*provision_args("ftp://x", tmp_path / "p"), home=tmp_path)
    assert "must look like https://fleet.example" in bad.stderr
    gps = polekit(*provision_args("http://x", tmp_path / "p"), "--gps", "104,30.6", home=tmp_path)
    assert "off the globe" in gps.stderr
    board = polekit(*provision_args("http://x", tmp_path / "p"), "--board", "pi9", home=tmp_path)
    assert "unknown board 'pi9'" in board.stderr


def test_a_target_that_is_not_writable_is_refused_before_enrolling(
    double: EnrollDouble, tmp_path: Path
) -> None:
    url = double.start()
    boot = Path(tempfile.mkdtemp(prefix="pk-readonly-boot-"))
    try:
        boot.chmod(0o555)
        prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        home = Path(tempfile.mkdtemp(prefix="pk-home-"))
        home.chmod(0o777)
        done = subprocess.run(
            [*prefix, *POLEKIT, *provision_args(url, boot / "polekit")],
            cwd=REPO, env={**os.environ, "HOME": str(home)},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"cannot write the bundle: {boot} is not writable" in done.stderr
        assert "read-only" in done.stderr
        assert double.requests == []  # the claim was not spent
    finally:
        boot.chmod(0o755)
        shutil.rmtree(boot, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def stat_mode(path: Path) -> int:
    """Permission bits."""
    return path.stat().st_mode & 0o777
