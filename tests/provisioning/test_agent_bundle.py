"""The agent's first boot from a bundle: its own identity over TLS, or a clear refusal."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from edge.bundle import read_bundle
from provisioning.bundle import BundleFile, build_bundle, write_bundle_dir
from provisioning.enroll import EnrollResponse, SigningKeyInfo
from provisioning.keys import generate_key
from tests.provisioning.support import (
    POLEKIT,
    TlsFiles,
    auth_broker,
    make_tls,
    polekit,
    secrets_in,
)
from tests.services import REPO


def test_no_bundle_says_how_to_provision(tmp_path: Path) -> None:
    done = polekit("agent", "run", "--bundle", str(tmp_path / "boot" / "polekit"), home=tmp_path)
    assert done.returncode == 1
    assert "bundle error: no provisioning bundle at" in done.stderr
    assert "polekit provision --fleet URL --claim TOKEN --pole ID --target DIR" in done.stderr


def test_a_broken_bundle_names_the_missing_file(tmp_path: Path) -> None:
    target = tmp_path / "polekit"
    write_bundle_dir(target, _files(tmp_path, "mqtts://127.0.0.1:1", make_tls(tmp_path / "pki")))
    (target / "ca.pem").unlink()
    done = polekit("agent", "run", "--bundle", str(target), home=tmp_path)
    assert done.returncode == 1
    assert "incomplete: ca.pem missing; provision the gateway again" in done.stderr


def test_config_or_bundle_is_required(tmp_path: Path) -> None:
    done = polekit("agent", "run", home=tmp_path)
    assert done.returncode == 2
    assert "one of the arguments --config --bundle is required" in done.stderr


@pytest.mark.timeout(90)
async def test_first_boot_connects_over_tls_with_its_certificate_and_reports_online(
    tmp_path: Path,
) -> None:
    broker, tls = auth_broker(tls=True)
    assert tls is not None
    broker.start()
    target = tmp_path / "boot" / "polekit"
    target.parent.mkdir()
    write_bundle_dir(target, _files(tmp_path, f"mqtts://127.0.0.1:{broker.port}", tls))
    bundle = read_bundle(target)
    assert bundle.cert_file is not None
    assert bundle.username is None
    log_path = tmp_path / "agent.log"
    try:
        async with _observer(broker.port, tls, tmp_path) as observer:
            await observer.subscribe("pk/v1/pole-tls/state", qos=1)
            with log_path.open("wb") as log:
                agent = await asyncio.create_subprocess_exec(
                    *POLEKIT, "agent", "run", "--bundle", str(target),
                    cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            try:
                async with asyncio.timeout(30):
                    async for message in observer.messages:
                        if message.payload == b"online":
                            break
            finally:
                agent.terminate()
                await asyncio.wait_for(agent.wait(), 20)
    finally:
        broker.close()
    key = (target / "device.key").read_text()
    assert secrets_in([log_path.read_text()], [key]) == []


def _files(tmp_path: Path, broker_url: str, tls: TlsFiles) -> list[BundleFile]:
    """A certificate-authenticated bundle for pole-tls, no sensors."""
    key = generate_key()
    response = EnrollResponse(
        device_id="pole-tls",
        broker_urls=[broker_url],
        config_signing_public_key=SigningKeyInfo(kid="k1", ed25519_b64="AAAA"),
        initial_config={
            "device_id": "pole-tls",
            "buffer": {"path": str(tmp_path / "buffer.db")},
            "health": {"interval": "1s"},
        },
        client_cert_pem=tls.issue_client(key.public_pem, "pole-tls"),
        ca_cert_pem=tls.ca.read_text(),
        fleet_url="http://fleet.invalid",
    )
    return build_bundle(response, key)


def _observer(port: int, tls: TlsFiles, tmp_path: Path) -> aiomqtt.Client:
    """A client authenticated as the fleet (certificate CN=fleet) to watch the device."""
    key = generate_key()
    cert = tmp_path / "fleet.pem"
    cert.write_text(tls.issue_client(key.public_pem, "fleet"))
    key_file = tmp_path / "fleet.key"
    key_file.write_bytes(key.private_pem)
    context = ssl.create_default_context(cafile=str(tls.ca))
    context.load_cert_chain(cert, key_file)
    return aiomqtt.Client("127.0.0.1", port, tls_context=context, timeout=10)
