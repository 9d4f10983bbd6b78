"""No secrets at rest: tokens, passwords and private keys are in no database row and no log line."""

from __future__ import annotations

import base64
import logging
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from fleet.security.keys import FleetKeys, hash_token
from tests.provisioning_services import ADMIN_KEY, DeviceKey, FleetClient, device_client


def _dump(db_url: str) -> str:
    """The whole database as text: pg_dump for PostgreSQL, iterdump for SQLite."""
    if db_url.startswith("sqlite"):
        path = db_url.split(":///", 1)[1]
        with sqlite3.connect(path) as connection:
            return "\n".join(connection.iterdump())
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
    pg_dump = shutil.which("pg_dump")
    assert pg_dump is not None, "pg_dump is part of the PostgreSQL client tools the tests need"
    return subprocess.run(
        [pg_dump, "--data-only", "--inserts", dsn], check=True, capture_output=True, text=True
    ).stdout


def _variants(secret: str) -> list[str]:
    """A secret as it could appear: as is, and its bytes in hex and base64."""
    raw = secret.encode()
    return [secret, raw.hex(), base64.b64encode(raw).decode()]


async def test_no_secret_in_database_or_logs(
    fleet_client: FleetClient, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = fleet_client.admin
    http = fleet_client.http
    secrets: list[str] = [ADMIN_KEY, fleet_client.broker.admin[1], fleet_client.broker.fleet[1]]
    device_keys: list[DeviceKey] = []
    claim = await fleet_client.create_claim(max_uses=3)
    other = await fleet_client.create_claim(max_uses=1)
    await http.delete(f"/api/v1/claims/{other['id']}", headers=admin)
    secrets += [claim["token"], other["token"]]
    bundles = []
    for serial in ("SECRET-1", "SECRET-2", "SECRET-3"):
        key = DeviceKey.generate()
        device_keys.append(key)
        bundles.append(await fleet_client.enroll_ok(claim["token"], serial, key))
    bundles.append(await fleet_client.enroll_ok(claim["token"], "SECRET-1", device_keys[0]))
    new_key = DeviceKey.generate()
    device_keys.append(new_key)
    rekeyed = await http.post(
        f"/api/v1/devices/{bundles[0]['device_id']}/rekey",
        json={"public_key": new_key.public_pem},
        headers=admin,
    )
    spare = DeviceKey.generate()
    device_keys.append(spare)
    replaced = await http.post(
        f"/api/v1/devices/{bundles[1]['device_id']}/replace",
        json={"serial": "SECRET-RMA", "public_key": spare.public_pem},
        headers=admin,
    )
    assert rekeyed.status_code == replaced.status_code == 200
    bundles += [rekeyed.json(), replaced.json()]
    await http.post(f"/api/v1/devices/{bundles[2]['device_id']}/revoke", headers=admin)
    for bundle in bundles:
        secrets.append(bundle["mqtt_password"])
    # The passwords work, so they are real secrets worth hiding.
    last = bundles[-1]
    async with device_client(fleet_client.broker, last["mqtt_username"], last["mqtt_password"]):
        pass
    for key in device_keys:
        secrets.append(key.private_pem)
        raw = key.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        secrets += [raw.hex(), base64.b64encode(raw).decode()]
    keys = FleetKeys.load_or_create(tmp_path / "keys")
    signing_raw = keys.signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    secrets += [
        (tmp_path / "keys" / "signing-ed25519.pem").read_text(),
        signing_raw.hex(),
        base64.b64encode(signing_raw).decode(),
        keys.claim_secret.hex(),
    ]

    dump = _dump(db_url)
    assert "SECRET-RMA" in dump  # the dump is real and complete
    assert hash_token(claim["token"]) in dump  # tokens are stored, hashed
    leaks = [s[:12] for s in secrets for v in _variants(s) if v in dump]
    assert leaks == []

    lines = [record.getMessage() for record in caplog.records]
    lines += [record.exc_text or "" for record in caplog.records]
    lines.append(fleet_client.broker.log_tail(1_000_000))
    log_text = "\n".join(lines)
    assert "enrolled" in log_text  # the logs were captured
    assert [s[:12] for s in secrets for v in _variants(s) if v in log_text] == []
