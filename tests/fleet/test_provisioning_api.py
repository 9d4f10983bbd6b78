"""Provisioning through the fleet's HTTP API on both backends, against a real dynsec Mosquitto."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protocol.messages import Ack, decode_message
from protocol.senml import Record, TelemetryBatch, encode_batch
from protocol.topics import Kind, topic_for
from tests.fleet.db_helpers import count_batches, get_device
from tests.provisioning_services import (
    DeviceKey,
    DynsecBroker,
    FleetClient,
    device_client,
    dynsec_broker,
    dynsec_broker_factory,
    provisioned_fleet,
)

__all__ = ["dynsec_broker", "dynsec_broker_factory"]


@pytest.fixture
async def fleet(
    db_url: str, dynsec_broker: DynsecBroker, tmp_path: Path
) -> AsyncIterator[FleetClient]:
    """A whole fleet (API + bridge logged in as the fleet account) with provisioning on."""
    async with provisioned_fleet(db_url, dynsec_broker, tmp_path / "keys") as client:
        assert client.fleet.bridge is not None
        await asyncio.wait_for(client.fleet.bridge.subscribed.wait(), 10)
        yield client


async def _login_fails(broker: DynsecBroker, username: str, password: str) -> bool:
    try:
        async with device_client(broker, username, password):
            return False
    except aiomqtt.MqttError:
        return True


async def test_claims_need_the_admin_key(fleet: FleetClient) -> None:
    http = fleet.http
    body = {"group": "chengdu/wuhou/street-7"}
    assert (await http.post("/api/v1/claims", json=body)).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    refused = await http.post("/api/v1/claims", json=body, headers=wrong)
    assert refused.status_code == 401
    assert "Authorization: Bearer" in refused.json()["detail"]
    assert (await http.get("/api/v1/claims", headers=wrong)).status_code == 401
    assert (await http.post("/api/v1/devices/x/revoke", headers=wrong)).status_code == 401


async def test_claim_create_list_qr_and_revoke(fleet: FleetClient) -> None:
    http, admin = fleet.http, fleet.admin
    created = await http.post(
        "/api/v1/claims",
        json={"group": "chengdu/wuhou/street-7", "ttl_s": 86400, "max_uses": 10},
        headers=admin,
    )
    assert created.status_code == 201
    claim = created.json()
    assert set(claim) >= {"id", "token", "group", "expires_at", "max_uses", "uses"}
    assert (claim["group"], claim["max_uses"], claim["uses"]) == ("chengdu/wuhou/street-7", 10, 0)
    assert claim["token"].startswith("PKC-")

    svg = await http.get(f"/api/v1/claims/{claim['id']}/qr.svg", headers=admin)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    png = await http.get(f"/api/v1/claims/{claim['id']}/qr.png", headers=admin)
    assert png.content.startswith(b"\x89PNG")
    txt = await http.get(f"/api/v1/claims/{claim['id']}/qr.txt", headers=admin)
    assert txt.text.rstrip().endswith(claim["token"])

    page = (await http.get("/api/v1/claims", headers=admin)).json()
    assert [item["id"] for item in page["items"]] == [claim["id"]]
    assert "token" not in page["items"][0]
    assert page["items"][0]["state"] == "active"

    revoked = await http.delete(f"/api/v1/claims/{claim['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    gone = await http.get(f"/api/v1/claims/{claim['id']}/qr.svg", headers=admin)
    assert (gone.status_code, gone.json()["error"]) == (409, "claim_revoked")
    bad_group = await http.post("/api/v1/claims", json={"group": "Chengdu/../x"}, headers=admin)
    assert bad_group.status_code == 400


async def test_enrolled_device_is_ingested_and_acked(fleet: FleetClient) -> None:
    """The device role allows exactly what the protocol needs: telemetry in, acks back."""
    claim = await fleet.create_claim()
    key = DeviceKey.generate()
    bundle = await fleet.enroll_ok(claim["token"], "RPI4-0000c3a1", key)
    device_id = bundle["device_id"]
    assert device_id.startswith("gw-rpi4-0000c3a1-")
    assert bundle["mqtt_username"] == device_id
    assert bundle["broker_urls"] == [fleet.broker.url]
    assert bundle["initial_config"] == {
        "device_id": device_id,
        "uplink": {"broker": fleet.broker.url},
    }
    assert bundle["config_signing_public_key"]["kid"].startswith("fleet-")
    assert bundle["fleet_url"] == fleet.fleet.http_url
    assert "client_cert_pem" not in bundle
    batch = TelemetryBatch(
        boot_id="0123456789abcdef",
        seq=1,
        records=(Record(name="meter/v", time=1.7e9, value=230.0),),
    )
    async with device_client(fleet.broker, device_id, bundle["mqtt_password"]) as device:
        await device.subscribe(topic_for(device_id, Kind.ACK), qos=1)
        await device.publish(topic_for(device_id, Kind.TELEMETRY), encode_batch(batch), qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(device.messages))
    assert isinstance(message.payload, bytes)
    ack = decode_message(message.payload, Ack)
    assert [(e.boot_id, e.ranges) for e in ack.entries] == [("0123456789abcdef", [(1, 1)])]
    assert await count_batches(fleet.fleet.sessions, device_id) == 1
    device_row = await get_device(fleet.fleet.sessions, device_id)
    assert device_row is not None
    assert device_row.registered is True
    identity = (
        await fleet.http.get(f"/api/v1/devices/{device_id}/identity", headers=fleet.admin)
    ).json()
    assert identity["serial"] == "RPI4-0000c3a1"
    assert identity["group"] == "chengdu/wuhou/street-7"
    assert identity["pole"]["pole_id"] == "pole-RPI4-0000c3a1"
    assert identity["key_algorithm"] == "ed25519"


async def test_enroll_again_reissues_and_old_password_dies(fleet: FleetClient) -> None:
    claim = await fleet.create_claim()
    key = DeviceKey.generate()
    first = await fleet.enroll_ok(claim["token"], "RETRY-1", key)
    second = await fleet.enroll_ok(claim["token"], "RETRY-1", key)
    assert second["device_id"] == first["device_id"]
    assert second["mqtt_password"] != first["mqtt_password"]
    assert await _login_fails(fleet.broker, first["device_id"], first["mqtt_password"])
    assert not await _login_fails(fleet.broker, second["device_id"], second["mqtt_password"])


async def test_a_csr_enrolls_and_a_private_key_is_refused(fleet: FleetClient) -> None:
    claim = await fleet.create_claim(max_uses=2)
    private = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CSR-1")]))
        .sign(private, hashes.SHA256())
    )
    pole = {"pole_id": "P-CSR", "lat": 30.6, "lon": 104.0}
    body = {
        "claim_token": claim["token"],
        "serial": "CSR-1",
        "public_key": csr.public_bytes(serialization.Encoding.PEM).decode(),
        "pole": pole,
    }
    assert (await fleet.http.post("/api/v1/enroll", json=body)).status_code == 200
    leaked = DeviceKey.generate()
    body = {**body, "serial": "CSR-2", "public_key": leaked.private_pem, "pole": {"pole_id": "P2"}}
    refused = await fleet.http.post("/api/v1/enroll", json=body)
    assert (refused.status_code, refused.json()["error"]) == (400, "bad_key")
    assert "PRIVATE key" in refused.json()["detail"]
    # A refused key does not use up the claim.
    claim_now = await fleet.http.get(f"/api/v1/claims/{claim['id']}", headers=fleet.admin)
    assert claim_now.json()["uses"] == 1


async def test_rekey_replace_and_decommission(fleet: FleetClient) -> None:
    http, admin, broker = fleet.http, fleet.admin, fleet.broker
    claim = await fleet.create_claim(max_uses=2)
    old = await fleet.enroll_ok(claim["token"], "LIFE-1", DeviceKey.generate())
    device_id = old["device_id"]

    rekeyed = await http.post(f"/api/v1/devices/{device_id}/rekey", json={}, headers=admin)
    assert rekeyed.status_code == 200
    assert await _login_fails(broker, device_id, old["mqtt_password"])
    assert not await _login_fails(broker, device_id, rekeyed.json()["mqtt_password"])

    spare_key = DeviceKey.generate()
    replaced = await http.post(
        f"/api/v1/devices/{device_id}/replace",
        json={"serial": "LIFE-SPARE", "public_key": spare_key.public_pem},
        headers=admin,
    )
    assert replaced.status_code == 200
    assert replaced.json()["device_id"] == device_id  # pole, config and history stay with it
    assert await _login_fails(broker, device_id, rekeyed.json()["mqtt_password"])
    identity = (await http.get(f"/api/v1/devices/{device_id}/identity", headers=admin)).json()
    assert identity["serial"] == "LIFE-SPARE"
    assert identity["pole"]["pole_id"] == "pole-LIFE-1"
    # The broken gateway's serial cannot come back with the old token; the spare's is taken.
    taken = await http.post(
        f"/api/v1/devices/{device_id}/replace",
        json={"serial": "LIFE-SPARE", "public_key": spare_key.public_pem},
        headers=admin,
    )
    assert taken.status_code == 200  # same serial again: a retry of the same RMA

    # Another gateway on the same pole is refused until the first is decommissioned.
    newcomer = DeviceKey.generate()
    blocked = await fleet.enroll(claim["token"], "LIFE-2", newcomer, pole_id="pole-LIFE-1")
    assert (blocked.status_code, blocked.json()["error"]) == (409, "pole_taken")
    done = await http.post(f"/api/v1/devices/{device_id}/decommission", headers=admin)
    assert done.json()["status"] == "decommissioned"
    assert done.json()["pole"]["pole_id"] == "pole-LIFE-1"  # where it was; the pole is free
    assert await _login_fails(broker, device_id, replaced.json()["mqtt_password"])
    moved_in = await fleet.enroll(claim["token"], "LIFE-2", newcomer, pole_id="pole-LIFE-1")
    assert moved_in.status_code == 200
    again = await http.post(f"/api/v1/devices/{device_id}/rekey", json={}, headers=admin)
    assert (again.status_code, again.json()["error"]) == (409, "device_decommissioned")


async def test_enrollment_is_rate_limited_per_token(
    db_url: str, dynsec_broker: DynsecBroker, tmp_path: Path
) -> None:
    async with provisioned_fleet(
        db_url, dynsec_broker, tmp_path / "keys", bridge=False, enroll_attempts=3
    ) as fleet:
        claim = await fleet.create_claim(max_uses=10)
        other = await fleet.create_claim(max_uses=10)
        for i in range(3):
            await fleet.enroll_ok(claim["token"], f"RATE-{i}", DeviceKey.generate())
        limited = await fleet.enroll(claim["token"], "RATE-3", DeviceKey.generate())
        assert (limited.status_code, limited.json()["error"]) == (429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "wait" in limited.json()["detail"]
        # Other tokens are not affected.
        await fleet.enroll_ok(other["token"], "RATE-OTHER", DeviceKey.generate())


async def test_bundle_over_tls_carries_the_broker_ca(
    db_url: str, dynsec_broker_factory: object, tmp_path: Path
) -> None:
    broker: DynsecBroker = dynsec_broker_factory(tls=True)  # type: ignore[operator]
    assert broker.ca_pem is not None
    ca_path = tmp_path / "broker-ca.pem"
    ca_path.write_text(broker.ca_pem)
    async with provisioned_fleet(
        db_url,
        broker,
        tmp_path / "keys",
        bridge=False,
        broker_urls=(broker.tls_url,),
        broker_ca_path=str(ca_path),
    ) as fleet:
        claim = await fleet.create_claim()
        bundle = await fleet.enroll_ok(claim["token"], "TLS-1", DeviceKey.generate())
    assert bundle["broker_urls"] == [broker.tls_url]
    assert bundle["ca_cert_pem"] == broker.ca_pem
    context = ssl.create_default_context(cadata=bundle["ca_cert_pem"])
    async with aiomqtt.Client(
        broker.host,
        broker.tls_port,
        username=bundle["mqtt_username"],
        password=bundle["mqtt_password"],
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=context,
    ) as client:
        await client.publish(topic_for(bundle["device_id"], Kind.STATE), b"online", qos=1)
