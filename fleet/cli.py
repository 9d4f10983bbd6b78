"""`polekit fleet serve|migrate`: run the fleet service or bring its database schema up to date."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

import msgspec
from sqlalchemy.exc import SQLAlchemyError

from fleet.security.keys import KeyFileError
from fleet.settings import (
    DEFAULT_DB_URL,
    DEFAULT_MQTT_URL,
    DashboardSettings,
    DatabaseSettings,
    FleetSettings,
    HttpSettings,
    MqttSettings,
    ProvisioningSettings,
    normalise_db_url,
    parse_mqtt_url,
)

log = logging.getLogger("fleet")


def register(parser: argparse.ArgumentParser) -> None:
    """Add the fleet verbs to `polekit fleet`."""
    verbs = parser.add_subparsers(dest="fleet_verb", metavar="COMMAND", required=True)

    serve = verbs.add_parser(
        "serve",
        help="run the API and the MQTT bridge in one process",
        description="Run the fleet service: apply database migrations, then serve the HTTP API "
        "and ingest telemetry, state and health from the MQTT broker, acking each telemetry "
        "batch once it is committed. Stops cleanly on Ctrl-C or SIGTERM.",
    )
    _add_db(serve)
    serve.add_argument(
        "--mqtt",
        metavar="URL",
        default=os.environ.get("POLEKIT_FLEET_MQTT", DEFAULT_MQTT_URL),
        help="broker URL, mqtt[s]://[user:pass@]host[:port][?version=3.1.1][&client_id=ID] "
        "(default: $POLEKIT_FLEET_MQTT or %(default)s; MQTT v5 unless version=3.1.1)",
    )
    serve.add_argument(
        "--http",
        metavar="HOST:PORT",
        default="127.0.0.1:8080",
        help="where the API listens (default: %(default)s; port 0 picks a free one)",
    )
    serve.add_argument(
        "--share-group",
        metavar="NAME",
        help="subscribe through $share/NAME/ so N fleet replicas split the ingest (the broker "
        "keeps queueing a share of messages for a stopped replica until its session expires; "
        "edges resend those batches when no ack comes)",
    )
    serve.add_argument(
        "--client-id",
        metavar="ID",
        help="MQTT client id; must be stable across restarts (persistent session) and unique "
        "per replica (default: polekit-fleet-HOSTNAME)",
    )
    serve.add_argument(
        "--session-expiry",
        metavar="SECONDS",
        type=int,
        default=3600,
        help="how long the broker queues messages for a stopped fleet (default: %(default)s)",
    )
    serve.add_argument(
        "--tile-url",
        metavar="URL",
        default=os.environ.get("POLEKIT_TILE_URL"),
        help="map tiles of the dashboard, e.g. https://tiles.example/{z}/{x}/{y}.png "
        "(default: $POLEKIT_TILE_URL; none: markers on a blank map)",
    )
    _add_provisioning(serve)
    _add_log_level(serve)
    serve.set_defaults(func=_serve)

    migrate = verbs.add_parser(
        "migrate",
        help="apply database migrations and exit",
        description="Bring the fleet database schema to the newest revision (Alembic). "
        "`serve` does this too at start-up; run it alone before rolling out replicas.",
    )
    _add_db(migrate)
    _add_log_level(migrate)
    migrate.set_defaults(func=_migrate)

    from fleet import broker_cli, claims_cli, ota_cli

    claims_cli.register(verbs)
    broker_cli.register(verbs)
    ota_cli.register(verbs)


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=os.environ.get("POLEKIT_FLEET_DB", DEFAULT_DB_URL),
        help="database URL: sqlite:///path/fleet.db, a bare file path, or "
        "postgresql://user@host/db (default: $POLEKIT_FLEET_DB or %(default)s)",
    )


def _add_provisioning(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "provisioning",
        "Claims, enrollment and device credentials (docs/provisioning.md). Off unless an admin "
        "key or a broker admin is given. Secrets come from the environment, never argv.",
    )
    group.add_argument(
        "--broker-admin",
        metavar="URL",
        default=os.environ.get("POLEKIT_BROKER_ADMIN"),
        help="a Mosquitto dynamic-security admin account, mqtt://user:pass@host:port, used to "
        "create and delete device accounts (default: $POLEKIT_BROKER_ADMIN)",
    )
    group.add_argument(
        "--admin-key-file",
        metavar="FILE",
        help="file holding the admin API key (default: $POLEKIT_ADMIN_KEY; the admin API is "
        "off when neither is set)",
    )
    group.add_argument(
        "--keys-dir",
        default=os.environ.get("POLEKIT_FLEET_KEYS", "polekit-fleet-keys"),
        help="directory of the config-signing key and the claim secret, outside the database "
        "(default: $POLEKIT_FLEET_KEYS or %(default)s; $POLEKIT_KEY_PASSPHRASE encrypts the key)",
    )
    group.add_argument(
        "--device-broker-url",
        metavar="URL",
        action="append",
        default=[],
        help="broker URL devices use, put in their bundle (repeatable; default: the --mqtt "
        "address)",
    )
    group.add_argument(
        "--broker-ca", metavar="FILE", help="PEM CA of the broker's TLS certificate, for bundles"
    )
    group.add_argument("--public-url", metavar="URL", help="the fleet's URL as devices see it")
    group.add_argument(
        "--enroll-attempts",
        type=int,
        default=30,
        help="enrollment attempts per claim token per minute (default: %(default)s)",
    )


def _add_log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default: %(default)s)",
    )


def settings_from_args(args: argparse.Namespace) -> FleetSettings:
    """Validate the command line into settings; raises ValueError with a clear message."""
    base = MqttSettings(session_expiry_s=args.session_expiry, share_group=args.share_group)
    if args.client_id:
        base = msgspec.structs.replace(base, client_id=args.client_id)
    mqtt = parse_mqtt_url(args.mqtt, base=base)
    host, sep, port = args.http.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--http wants HOST:PORT, got {args.http!r}")
    broker_admin = None
    if args.broker_admin:
        broker_admin = parse_mqtt_url(args.broker_admin)
        if not broker_admin.username or not broker_admin.password:
            raise ValueError("--broker-admin needs a user and password: mqtt://user:pass@host")
    return FleetSettings(
        db=DatabaseSettings(url=normalise_db_url(args.db)),
        mqtt=mqtt,
        http=HttpSettings(host=host.strip("[]") or "127.0.0.1", port=int(port)),
        provisioning=ProvisioningSettings(
            admin_key=_admin_key(args.admin_key_file),
            keys_dir=args.keys_dir,
            key_passphrase=os.environ.get("POLEKIT_KEY_PASSPHRASE") or None,
            broker_admin=broker_admin,
            broker_urls=tuple(args.device_broker_url),
            broker_ca_path=args.broker_ca,
            public_url=args.public_url,
            enroll_attempts=args.enroll_attempts,
        ),
        dashboard=DashboardSettings(tile_url=getattr(args, "tile_url", None)),
    )


def _admin_key(path: str | None) -> str | None:
    """The admin key from --admin-key-file, else $POLEKIT_ADMIN_KEY; None if neither is set."""
    if path:
        try:
            key = Path(path).read_text().strip()
        except OSError as exc:
            raise ValueError(f"cannot read --admin-key-file: {exc}") from None
    else:
        key = os.environ.get("POLEKIT_ADMIN_KEY", "").strip()
    if key and len(key) < 16:
        raise ValueError("the admin key must be at least 16 characters long")
    return key or None


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _serve(args: argparse.Namespace) -> int:
    from fleet.runner import serve

    _setup_logging(args.log_level)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        log.error("%s", exc)  # noqa: TRY400 - a usage error, not a crash: no traceback
        return 2
    try:
        asyncio.run(serve(settings))
    except (OSError, SQLAlchemyError, KeyFileError) as exc:
        log.error("fleet cannot start: %s", exc)  # noqa: TRY400 - the cause is in the message
        return 1
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from fleet.db.migrate import upgrade_to_head

    _setup_logging(args.log_level)
    try:
        db = DatabaseSettings(url=normalise_db_url(args.db))
    except ValueError as exc:
        log.error("%s", exc)  # noqa: TRY400 - a usage error, not a crash: no traceback
        return 2
    try:
        revision = asyncio.run(upgrade_to_head(db))
    except (OSError, SQLAlchemyError) as exc:
        log.error("migration failed: %s", exc)  # noqa: TRY400 - the cause is in the message
        return 1
    log.info("database is at schema revision %s", revision)
    return 0
