"""Real services for tests: Mosquitto brokers, PostgreSQL, and the fleet as a subprocess.

Nothing here skips: a service that is not running is started (see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from fleet.settings import FleetSettings

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
ADMIN_KEY = "pk-test-admin-key-0123456789"
"""The fleet-wide admin key of every test fleet (in-process and subprocess)."""
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    """Block until host:port accepts connections; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port, timeout=0.2):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")
        time.sleep(0.02)


# --------------------------------------------------------------------------- MQTT


@dataclass(frozen=True)
class Broker:
    """Where a broker listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """mqtt://host:port, as `polekit fleet serve --mqtt` takes it."""
        return f"mqtt://{self.host}:{self.port}"


def mosquitto_binary() -> str:
    """The mosquitto executable (Debian installs it in /usr/sbin, often not on PATH)."""
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )
    if found is None:
        raise RuntimeError("mosquitto is not installed: run `make setup` (scripts/bootstrap.sh)")
    return found


@dataclass
class MosquittoProcess:
    """A private mosquitto on its own port, with kill/restart for fault tests."""

    port: int = field(default_factory=free_port)
    persistence: bool = False
    """Keep sessions and queued messages on disk across restart() (autosave on every change)."""
    extra_config: tuple[str, ...] = ()
    host: str = LOOPBACK
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pk-mosq-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """mqtt://host:port of this broker."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def broker(self) -> Broker:
        """The address as a Broker."""
        return Broker(self.host, self.port)

    def write_config(self) -> Path:
        """The generated mosquitto.conf."""
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "max_queued_messages 100000",
            "persistent_client_expiration 1h",
        ]
        if self.persistence:
            # Run as root, mosquitto drops to its own user, which must be able to write here.
            self.workdir.chmod(0o777)
            lines += [
                "persistence true",
                f"persistence_location {self.workdir}/",
                "autosave_interval 1",
                "autosave_on_changes true",
            ]
        lines += list(self.extra_config)
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> MosquittoProcess:
        """Start (or start again, on the same port) and wait until it accepts connections."""
        if self.process is not None and self.process.poll() is None:
            return self
        config = self.write_config()
        log = (self.workdir / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        try:
            wait_for_port(self.host, self.port)
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"mosquitto did not start: {self.log_tail()}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no last persistence save."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait: a clean shutdown (mosquitto saves persistence on exit)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, *, kill: bool = True) -> MosquittoProcess:
        """Kill (or stop) and start again on the same port with the same persistence."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and remove the working directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, n_bytes: int = 2000) -> str:
        """The end of the broker's log, for failure messages."""
        path = self.workdir / "mosquitto.log"
        return path.read_bytes()[-n_bytes:].decode(errors="replace") if path.exists() else ""

    def __enter__(self) -> MosquittoProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def mqtt_broker() -> Iterator[Broker]:
    """The broker on 127.0.0.1:1883 if one answers, else a private mosquitto for the block."""
    if port_open(LOOPBACK, 1883):
        yield Broker(LOOPBACK, 1883)
        return
    with MosquittoProcess() as broker:
        yield broker.broker


# --------------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class PostgresServer:
    """A PostgreSQL server with a superuser that needs no password on loopback."""

    host: str
    port: int
    user: str = "postgres"

    def url(self, database: str) -> str:
        """The SQLAlchemy async URL of one database on this server."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """A plain libpq/asyncpg DSN."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"


_db_counter = itertools.count()


def unique_db_name(prefix: str = "pktest") -> str:
    """A database name unique on this machine for this run (pid + counter + time)."""
    return f"{prefix}_{os.getpid()}_{int(time.time() * 1000) % 10**8}_{next(_db_counter)}"


async def _admin(server: PostgresServer, sql: str) -> None:
    connection = await asyncpg.connect(server.dsn("postgres"), timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_database(server: PostgresServer, name: str) -> str:
    """CREATE DATABASE (empty, from template0); returns its SQLAlchemy URL."""
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}" TEMPLATE template0'))
    return server.url(name)


def drop_database(server: PostgresServer, name: str) -> None:
    """DROP DATABASE, disconnecting anyone still connected."""
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The server on 127.0.0.1:5432 if we may log in to it, else a throwaway cluster.

    A freshly installed Debian PostgreSQL answers on 5432 but wants a password over TCP,
    so answering is not enough: the test suite must be able to create databases there.
    """
    shared = PostgresServer(LOOPBACK, 5432)
    if port_open(LOOPBACK, 5432) and _can_log_in(shared):
        yield shared
        return
    with throwaway_cluster() as server:
        yield server


def _can_log_in(server: PostgresServer) -> bool:
    try:
        asyncio.run(_admin(server, "SELECT 1"))
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    return True


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PostgresServer]:
    """initdb + pg_ctl in a temp dir on a free port, trust auth; removed afterwards."""
    bindir = _postgres_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="pk-pg-"))
    data = workdir / "data"
    port = free_port()
    run_as = _run_as_prefix(workdir)
    user = "postgres"
    subprocess.run(
        [*run_as, f"{bindir}/initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -c listen_addresses={LOOPBACK} -k {workdir} -c fsync=off"
    subprocess.run(
        [
            *run_as,
            f"{bindir}/pg_ctl",
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(workdir / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        wait_for_port(LOOPBACK, port)
        yield PostgresServer(LOOPBACK, port, user)
    finally:
        subprocess.run(
            [*run_as, f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


def _postgres_bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    if initdb:
        return str(Path(initdb).parent)
    raise RuntimeError("PostgreSQL is not installed: run `make setup` (scripts/bootstrap.sh)")


def _run_as_prefix(workdir: Path) -> list[str]:
    """initdb refuses to run as root: run the cluster as the `postgres` system user then."""
    if os.geteuid() != 0:
        return []
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root without a `postgres` user to own the cluster") from None
    os.chown(workdir, account.pw_uid, account.pw_gid)
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"]
    return ["su", "postgres", "-s", "/bin/sh", "-c", '"$0" "$@"']


# --------------------------------------------------------------------------- the fleet


def fleet_settings(db_url: str, broker: Broker, **ingest: float) -> FleetSettings:
    """Settings for an in-process fleet (fleet.runner.run_fleet): free HTTP port, unique id.

    `ingest` overrides IngestSettings fields (max_messages, max_delay_s, queue_size).
    """
    from fleet.settings import (
        DatabaseSettings,
        FleetSettings,
        HttpSettings,
        IngestSettings,
        MqttSettings,
        ProvisioningSettings,
        normalise_db_url,
    )

    return FleetSettings(
        db=DatabaseSettings(url=normalise_db_url(db_url)),
        mqtt=MqttSettings(
            host=broker.host,
            port=broker.port,
            client_id=f"pk-test-fleet-{os.getpid()}-{next(_db_counter)}",
            session_expiry_s=60,
        ),
        ingest=IngestSettings(**ingest),  # type: ignore[arg-type]
        http=HttpSettings(host=LOOPBACK, port=0),
        provisioning=ProvisioningSettings(
            admin_key=ADMIN_KEY, keys_dir=tempfile.mkdtemp(prefix="pk-fleet-keys-")
        ),
    )


def _temp_file(prefix: str, suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    os.close(handle)
    return Path(name)


@dataclass
class FleetProcess:
    """`polekit fleet serve` in a subprocess, for tests that SIGKILL it."""

    db_url: str
    mqtt_url: str
    client_id: str
    http_port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    log_path: Path = field(default_factory=lambda: _temp_file("pk-fleet-", ".log"))
    process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        """Base URL of the API."""
        return f"http://{LOOPBACK}:{self.http_port}"

    def start(self, timeout: float = 30.0) -> FleetProcess:
        """Start and wait until /healthz says the bridge is connected."""
        argv = [
            sys.executable, "-m", "polekit.cli", "fleet", "serve",
            "--db", self.db_url, "--mqtt", self.mqtt_url,
            "--http", f"{LOOPBACK}:{self.http_port}", "--client-id", self.client_id,
            "--session-expiry", "300", *self.extra_args,
        ]  # fmt: skip
        log = self.log_path.open("ab")
        env = dict(os.environ)
        env.setdefault("POLEKIT_ADMIN_KEY", ADMIN_KEY)
        env.setdefault("POLEKIT_FLEET_KEYS", tempfile.mkdtemp(prefix="pk-fleet-keys-"))
        self.process = subprocess.Popen(
            argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Poll /healthz until it answers 200 (database up, bridge subscribed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"fleet exited with {self.process.returncode}: {self.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.http_url}/healthz", timeout=1) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"fleet not healthy after {timeout}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: whatever was in flight is lost, nothing is cleaned up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def log_tail(self, n_bytes: int = 4000) -> str:
        """The end of the fleet's log, for failure messages."""
        return self.log_path.read_bytes()[-n_bytes:].decode(errors="replace")

    def close(self) -> None:
        """Stop the process and remove its log."""
        self.terminate()
        self.log_path.unlink(missing_ok=True)
