"""End to end: an unprovisioned simulated gateway to verified, through provision and verify."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.provisioning.flow import Site, provision_and_verify, site
from tests.provisioning.support import polekit, secrets_in

pytestmark = pytest.mark.timeout(240)
PROVISION_TO_VERIFIED_BOUND_S = 30.0


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Broker with per-device logins, the fleet and the enrollment endpoint, for this module."""
    with site(tmp_path_factory.mktemp("prov-site")) as started:
        yield started


def test_provision_then_verify_under_30_s(place: Site) -> None:
    result = provision_and_verify(place, pole_id="P0042")

    assert result.verify.returncode == 0, result.verify.stdout + result.verify.stderr
    out = result.verify.stdout
    for line in ("[ok]   connected", "[ok]   ACL ok", "[ok]   sensor meter", "[ok]   sensor env",
                 "[ok]   clock in sync", "you can leave the pole"):  # fmt: skip
        assert line in out, out
    assert result.elapsed_s < PROVISION_TO_VERIFIED_BOUND_S, out
    print(f"provision {result.provision_s:.1f} s, provision -> verified {result.elapsed_s:.1f} s")
    password = (result.bundle / "mqtt.password").read_text()
    key = (result.bundle / "device.key").read_text()
    texts = [result.provision.stdout, result.provision.stderr, out, result.verify.stderr,
             result.agent_log]  # fmt: skip
    secrets = [password, key, result.claim, place.broker.fleet[1], place.broker.admin[1]]
    assert secrets_in(texts, secrets) == []


def test_verify_fails_with_a_checklist_when_a_sensor_is_silent(place: Site) -> None:
    sensors = ("eastron_sdm120:1:baud=9600", "rs485_env:2:baud=9600:silent")
    result = provision_and_verify(place, pole_id="P0043", sensors=sensors, verify_timeout=8.0)

    assert result.verify.returncode == 1
    out = result.verify.stdout
    assert "[ok]   sensor meter" in out, out
    assert "[FAIL] sensor env (bus rs485-1, unit 2)" in out, out
    assert "-> check env's power and wiring" in out, out
    assert "NOT verified" in out


def test_the_real_fleet_refuses_a_wrong_token_with_what_to_do(place: Site, tmp_path: Path) -> None:
    done = polekit(
        "provision", "--fleet", place.enroll_url, "--claim", "pkc_not-a-real-token",
        "--pole", "P0044", "--target", str(tmp_path / "polekit"),
        home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: the fleet refused the claim (claim_unknown" in done.stdout
    assert "check it for typos" in done.stdout
    assert not (tmp_path / "polekit").exists()


def test_verify_without_an_api_key_says_how_to_get_one(place: Site, tmp_path: Path) -> None:
    done = polekit(
        "verify", "pole-x", "--fleet", place.fleet.http_url, "--timeout", "30",
        home=tmp_path, env={"POLEKIT_API_KEY": ""},
    )  # fmt: skip
    assert done.returncode == 1
    assert "[FAIL] fleet reachable: HTTP 401: no API key was sent" in done.stdout
    assert "$POLEKIT_API_KEY" in done.stdout
    assert "(0." in done.stdout or "(1." in done.stdout  # fails at once, no 30 s wait
