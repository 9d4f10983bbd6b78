"""Provisioning pieces on their own: device ids, keys, tokens, rate limits, ACLs, the CLI."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fleet.bridge.dynsec_acl import device_acls, device_role_name, initial_config
from fleet.domain.enrollment.device_ids import device_id_for
from fleet.security.device_keys import BadKeyError, parse_device_key
from fleet.security.keys import FleetKeys, KeyFileError, hash_token, normalise_token
from fleet.security.ratelimit import RateLimiter
from polekit.cli import main
from protocol.errors import ProtocolError
from protocol.ids import validate_device_id
from tests.provisioning_services import DeviceKey


@pytest.mark.parametrize(
    "serial",
    ["RPI4-10000000c3a1f2e7", "ab_1", "AB-1", "x" * 64, "a/b+c#d", "...", "序列号-7"],
)
def test_device_ids_are_safe_and_deterministic(serial: str) -> None:
    device_id = device_id_for(serial)
    assert validate_device_id(device_id) == device_id
    assert device_id == device_id_for(serial)
    assert validate_device_id(device_id_for(serial, attempt=42))


def test_serials_that_slug_alike_get_different_ids() -> None:
    assert device_id_for("AB_1") != device_id_for("ab-1")
    assert device_id_for("AB_1").startswith("gw-ab-1-")


def test_device_keys_accept_public_keys_and_refuse_the_rest() -> None:
    ed = parse_device_key(DeviceKey.generate().public_pem)
    assert (ed.algorithm, len(ed.fingerprint)) == ("ed25519", 64)
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = p256.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert parse_device_key("\n" + pem + "\n").algorithm == "ec-p256"
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    weak_pem = weak.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(BadKeyError, match="2048"):
        parse_device_key(weak_pem)
    with pytest.raises(BadKeyError, match="PRIVATE key"):
        parse_device_key(DeviceKey.generate().private_pem)
    with pytest.raises(BadKeyError, match="not a PEM"):
        parse_device_key("hello")


def test_fleet_keys_are_created_private_and_reloaded(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    keys = FleetKeys.load_or_create(keys_dir, passphrase="correct horse")
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for name in ("signing-ed25519.pem", "claim-secret.key"):
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (keys_dir / "signing-ed25519.pem").read_bytes()
    again = FleetKeys.load_or_create(keys_dir, passphrase="correct horse")
    assert again.kid == keys.kid
    assert again.claim_token("abc") == keys.claim_token("abc") != keys.claim_token("abd")
    with pytest.raises(KeyFileError, match="passphrase"):
        FleetKeys.load_or_create(keys_dir, passphrase="wrong")


def test_tokens_typed_by_hand_normalise_to_the_same_hash() -> None:
    token = "PKC-ABCDEFGHIJKLMNOP"
    for typed in ("pkc-abcdefghijklmnop", " PKC ABCD-EFGH IJKL-MNOP ", "ABCDEFGHIJKLMNOP"):
        assert normalise_token(typed) == token
        assert hash_token(typed) == hash_token(token)


def test_rate_limiter_windows_and_keys() -> None:
    now = [0.0]
    limiter = RateLimiter(attempts=2, window_s=60, clock=lambda: now[0])
    assert limiter.hit("a") is None
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(60)
    assert limiter.hit("b") is None
    now[0] = 60.5
    assert limiter.hit("a") is None


def test_device_role_allows_only_its_own_topics() -> None:
    acls = device_acls("pole-1")
    allowed = {(a["acltype"], a["topic"]) for a in acls if a["allow"]}
    assert all(topic.startswith("pk/v1/pole-1/") for _, topic in allowed)
    assert ("publishClientSend", "pk/v1/pole-1/telemetry") in allowed
    assert ("publishClientSend", "pk/v1/pole-1/ack") not in allowed  # acks come from the fleet
    assert ("subscribePattern", "pk/v1/pole-1/config/desired") in allowed
    assert {a["topic"] for a in acls if not a["allow"]} == {"#"}
    with pytest.raises(ProtocolError):
        device_role_name("a/#")
    document = initial_config(admin=("admin", "pw"), fleet=("fleet", "pw2"))
    assert {c["password"] for c in document["clients"]}.isdisjoint({"pw", "pw2"})
    assert document["defaultACLAccess"]["publishClientSend"] is False


def test_claims_cli_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--db", f"sqlite:///{tmp_path / 'fleet.db'}", "--keys-dir", str(tmp_path / "keys")]
    qr_file = tmp_path / "claim.svg"
    created = main(
        ["fleet", "claims", "create", "--group", "chengdu/wuhou/street-7", "--ttl", "2h",
         "--max-uses", "10", "--qr", str(qr_file), *common]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert created == 0
    fields = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert fields["uses"] == "0/10"
    assert fields["token"].startswith("PKC-")
    assert b"<svg" in qr_file.read_bytes()
    assert main(["fleet", "claims", "list", *common]) == 0
    listing = capsys.readouterr().out
    assert fields["claim"] in listing
    assert "active" in listing
    assert fields["token"] not in listing
    assert main(["fleet", "claims", "revoke", fields["claim"], *common]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["fleet", "claims", "revoke", "nope", *common]) == 1
    assert "no claim" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fleet", "claims", "create", "--group", "x", "--ttl", "soon", *common])
