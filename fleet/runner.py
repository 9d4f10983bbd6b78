"""Run the fleet (migrations, API server, MQTT bridge) in the current event loop.

`run_fleet` is what `polekit fleet serve`, the demo and the tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import uvicorn
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fleet.app import Provisioning, create_app
from fleet.bridge.bridge import Bridge
from fleet.bridge.dynsec import DynsecAccounts
from fleet.db.engine import create_engine, session_factory
from fleet.db.migrate import upgrade_to_head
from fleet.domain.enrollment.bundles import BundleIssuer
from fleet.domain.ingest.services import IngestService
from fleet.domain.rollouts.engine import RolloutEngine
from fleet.operations import Operations
from fleet.security.keys import FleetKeys
from fleet.security.ratelimit import RateLimiter
from fleet.settings import FleetSettings

log = logging.getLogger("fleet")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the fleet stops the server and the bridge."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signals to the caller (uvicorn would re-raise them after shutdown)."""
        yield


@dataclass
class RunningFleet:
    """A started fleet: where its API listens and what its bridge has done."""

    settings: FleetSettings
    app: Litestar
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bridge: Bridge | None
    rollout_engine: RolloutEngine | None
    http_url: str | None
    """e.g. http://127.0.0.1:43121; None when started without HTTP."""
    _tasks: list[asyncio.Task[None]]
    operations: Operations | None = None
    """Alerts, notifications, commands and schedules; None when started without them."""

    async def wait_closed(self) -> None:
        """Return when the API server or the bridge stops on its own (it should not)."""
        if self._tasks:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)


@contextlib.asynccontextmanager
async def run_fleet(
    settings: FleetSettings, *, http: bool = True, bridge: bool = True, operations: bool = True
) -> AsyncIterator[RunningFleet]:
    """Migrate the database to head, then run the API and the bridge until the block exits."""
    revision = await upgrade_to_head(settings.db)
    log.info("database %s at schema revision %s", _redact(settings.db.url), revision)
    db_engine = create_engine(settings.db)
    sessions = session_factory(db_engine)
    the_bridge = None
    if bridge:
        the_bridge = Bridge(
            mqtt=settings.mqtt, ingest=settings.ingest, service=IngestService(sessions)
        )
    provisioning = build_provisioning(settings)
    engine = None
    if the_bridge is not None and provisioning.issuer is not None:
        # Rollouts need the signing key (provisioning) and a way to publish (the bridge).
        engine = RolloutEngine(
            sessions=sessions, signer=provisioning.issuer.keys, publisher=the_bridge
        )
        the_bridge.on_online = engine.devices_online
    app = create_app(
        sessions,
        bridge_counters=the_bridge.counters if the_bridge else None,
        provisioning=provisioning,
        rollout_engine=engine,
    )
    ops = Operations(sessions, settings, the_bridge) if operations else None
    app.state.operations = ops
    app.state.tile_url = settings.dashboard.tile_url
    app.state.tile_attribution = settings.dashboard.tile_attribution
    app.state.cookie_secure = settings.dashboard.cookie_secure
    tasks: list[asyncio.Task[None]] = []
    server: _Server | None = None
    server_task: asyncio.Task[None] | None = None
    http_url = None
    try:
        if the_bridge is not None:
            tasks.append(asyncio.create_task(the_bridge.run(), name="fleet-bridge"))
        if engine is not None:
            tasks.append(asyncio.create_task(engine.run(), name="fleet-rollouts"))
        if ops is not None:
            tasks.extend(ops.start())
        if http:
            server, server_task, http_url = await _start_server(app, settings)
            tasks.append(server_task)
            if provisioning.issuer is not None and provisioning.issuer.fleet_url is None:
                app.state.bundle_issuer = replace(provisioning.issuer, fleet_url=http_url)
        yield RunningFleet(
            settings, app, db_engine, sessions, the_bridge, engine, http_url, tasks, ops
        )
    finally:
        # The API first (it finishes open requests), then the bridge, then the pool.
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(server_task), timeout=10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await db_engine.dispose()
        log.info("fleet stopped")


def build_provisioning(settings: FleetSettings) -> Provisioning:
    """Keys, broker accounts and the enrollment rate limit; off unless an admin key or broker
    admin is configured (so a plain `fleet serve` writes no key files)."""
    prov = settings.provisioning
    limiter = RateLimiter(attempts=prov.enroll_attempts, window_s=prov.enroll_window_s)
    if prov.admin_key is None and prov.broker_admin is None:
        return Provisioning(admin_key=None, issuer=None, limiter=limiter)
    keys = FleetKeys.load_or_create(prov.keys_dir, passphrase=prov.key_passphrase)
    mqtt = settings.mqtt
    default_url = f"{'mqtts' if mqtt.tls else 'mqtt'}://{mqtt.host}:{mqtt.port}"
    issuer = BundleIssuer(
        keys=keys,
        broker=DynsecAccounts(prov.broker_admin) if prov.broker_admin is not None else None,
        broker_urls=prov.broker_urls or (default_url,),
        ca_cert_pem=Path(prov.broker_ca_path).read_text() if prov.broker_ca_path else None,
        fleet_url=prov.public_url,
    )
    log.info(
        "provisioning on: signing key %s, broker accounts %s, admin API %s",
        keys.kid,
        "via dynamic-security" if issuer.broker else "off (no --broker-admin)",
        "on" if prov.admin_key else "off (no admin key)",
    )
    return Provisioning(admin_key=prov.admin_key, issuer=issuer, limiter=limiter)


async def _start_server(
    app: Litestar, settings: FleetSettings
) -> tuple[_Server, asyncio.Task[None], str]:
    family = socket.AF_INET6 if ":" in settings.http.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.http.host, settings.http.port))  # port 0: the OS picks one
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="fleet-http")
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError(f"the API server could not start on {settings.http.host}")
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{port}"
    log.info("fleet API listening on %s (OpenAPI at %s/schema)", url, url)
    return server, task, url


async def serve(settings: FleetSettings) -> None:
    """Run until SIGINT or SIGTERM, then stop the API and the bridge cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with run_fleet(settings) as fleet:
            stopper = asyncio.create_task(stop.wait(), name="fleet-stop")
            closed = asyncio.create_task(fleet.wait_closed(), name="fleet-closed")
            await asyncio.wait([stopper, closed], return_when=asyncio.FIRST_COMPLETED)
            for task in (stopper, closed):
                task.cancel()
            log.info("stopping the fleet")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _redact(url: str) -> str:
    """A database URL without its password, for logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
