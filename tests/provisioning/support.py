"""Helpers for the provisioning tests: the CLI as a subprocess, a broker with per-device logins,
TLS material, a board profile pointing at a simulator's pty."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.services import REPO, MosquittoProcess

POLEKIT = (sys.executable, "-m", "polekit.cli")
FLEET_USER = "fleet"
FLEET_PASSWORD = "fleet-pw-for-tests"


def polekit(
    *args: str, home: Path, timeout: float = 120.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `polekit ARGS` with HOME=home (its pending claims live there); output captured."""
    return subprocess.run(
        [*POLEKIT, *args],
        cwd=REPO,
        env={**os.environ, "HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def sim_board(folder: Path, pty_path: str, name: str = "sim-gateway") -> Path:
    """A board profile whose rs485-1 is the simulator's pty (as a HAT's /dev/ttySC0 would be)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(
        f"name: {name}\ndescription: simulated gateway for tests\nruntime: linux\n"
        f"ports:\n  - {{name: rs485-1, device: {pty_path}}}\n"
    )
    return folder


def local_config(path: Path, workdir: Path, *, poll: str = "1s") -> Path:
    """The technician's local config: one RS-485 bus by logical name, two sensors."""
    path.write_text(
        "buses:\n"
        "  - name: rs485-1\n"
        "    modbus_rtu: {baud: 9600}\n"
        "    devices:\n"
        f"      - {{name: meter, driver: eastron_sdm120, unit: 1, poll: {poll}}}\n"
        f"      - {{name: env, driver: rs485_env, unit: 2, poll: {poll}}}\n"
        f"buffer: {{path: {workdir / 'buffer.db'}, commit_interval: 0.05s}}\n"
        "health: {interval: 1s}\n"
    )
    return path


# --------------------------------------------------------------------------- brokers


def auth_broker(*, tls: bool = False) -> tuple[MosquittoProcess, TlsFiles | None]:
    """A mosquitto (not started) with a password file and per-device ACLs, and with tls a
    listener that requires a client certificate (its CN is the user name); its test PKI."""
    broker = MosquittoProcess()
    workdir = broker.workdir
    workdir.chmod(0o755)  # mosquitto drops root for its own user, which must read these
    pki = make_tls(workdir / "pki") if tls else None
    passwords = workdir / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwords), FLEET_USER, FLEET_PASSWORD],
        check=True,
        capture_output=True,
    )
    passwords.chmod(0o644)
    acl = workdir / "acl"
    acl.write_text(f"user {FLEET_USER}\ntopic readwrite #\n\npattern readwrite pk/v1/%u/#\n")
    acl.chmod(0o644)
    config = ["allow_anonymous false", f"password_file {passwords}", f"acl_file {acl}"]
    if pki is not None:
        config += [
            f"cafile {pki.ca}",
            f"certfile {pki.server_cert}",
            f"keyfile {pki.server_key}",
            "require_certificate true",
            "use_identity_as_username true",
        ]
    broker.extra_config = tuple(config)
    return broker, pki


def reload(broker: MosquittoProcess) -> None:
    """SIGHUP: mosquitto rereads its password and ACL files."""
    assert broker.process is not None
    broker.process.send_signal(signal.SIGHUP)


def fleet_mqtt_url(broker: MosquittoProcess) -> str:
    """The fleet's broker URL with its login."""
    return f"mqtt://{FLEET_USER}:{FLEET_PASSWORD}@{broker.host}:{broker.port}"


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class TlsFiles:
    """A test CA and a server certificate for 127.0.0.1."""

    ca: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    def issue_client(self, public_pem: str, common_name: str) -> str:
        """A client certificate for a device's public key (what a fleet would issue)."""
        ca_cert = x509.load_pem_x509_certificate(self.ca.read_bytes())
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        public = serialization.load_pem_public_key(public_pem.encode())
        cert = _builder(common_name, ca_cert.subject, public).sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_tls(folder: Path) -> TlsFiles:
    """A CA plus a server certificate for 127.0.0.1, readable by mosquitto's user."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "polekit test CA")])
    ca = (
        _builder("polekit test CA", ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        _builder("127.0.0.1", ca_name, server_key.public_key())
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(
        ca=folder / "ca.pem",
        ca_key=folder / "ca.key",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
    )
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    for path, key in ((files.ca_key, ca_key), (files.server_key, server_key)):
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    for path in (files.ca, files.server_cert, files.server_key):
        path.chmod(0o644)
    return files


def _builder(common_name: str, issuer: x509.Name, public: object) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def secrets_in(texts: Sequence[str], secrets: Sequence[str]) -> list[str]:
    """The secrets (or a private key's body lines) that appear in any of the texts."""
    found = []
    for secret in secrets:
        probes = [line for line in secret.splitlines() if line and "-----" not in line] or [secret]
        if any(probe in text for probe in probes for text in texts):
            found.append(secret[:12] + "...")
    return found
