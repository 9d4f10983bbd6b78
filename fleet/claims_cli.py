"""`polekit fleet claims create|list|revoke`: manage claim tokens directly in the database.

Works without a running fleet (on the fleet's host): it needs the database URL and the
fleet's keys directory, since tokens are derived from the claim secret kept there.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from sqlalchemy.exc import SQLAlchemyError

from fleet.db.engine import create_engine, session_factory
from fleet.db.migrate import upgrade_to_head
from fleet.domain.claims import qr
from fleet.domain.claims.schemas import ClaimCreate
from fleet.domain.claims.services import ClaimService
from fleet.domain.errors import DomainError
from fleet.security.keys import FleetKeys, KeyFileError
from fleet.settings import DatabaseSettings, normalise_db_url

log = logging.getLogger("fleet")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `claims` to `polekit fleet`."""
    claims = verbs.add_parser(
        "claims",
        help="create, list and revoke claim tokens (directly in the database)",
        description="Manage claim tokens. A claim lets technicians enroll up to --max-uses "
        "gateways into one group until it expires. Talks to the database directly; run it "
        "where the fleet's keys directory is (tokens are derived from its claim secret).",
    )
    sub = claims.add_subparsers(dest="claims_verb", metavar="COMMAND", required=True)
    create = sub.add_parser("create", help="create a claim and print its token")
    create.add_argument(
        "--group", required=True, help="city/district/street, e.g. chengdu/wuhou/street-7"
    )
    create.add_argument(
        "--ttl",
        default="1d",
        type=duration,
        help="lifetime: 30m, 12h, 1d, 2w (default: %(default)s)",
    )
    create.add_argument(
        "--max-uses", type=int, default=1, help="gateways it may enroll (default: %(default)s)"
    )
    create.add_argument(
        "--qr", metavar="FILE", type=Path, help="also write the QR code (.svg, .png or .txt)"
    )
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="list claims (without tokens)")
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a claim: it enrolls nothing more")
    revoke.add_argument("claim_id", metavar="ID")
    revoke.set_defaults(func=_revoke)
    for parser in (create, listing, revoke):
        parser.add_argument(
            "--db",
            metavar="URL",
            default=os.environ.get("POLEKIT_FLEET_DB", "sqlite:///polekit-fleet.db"),
            help="database URL (default: $POLEKIT_FLEET_DB or %(default)s)",
        )
        parser.add_argument(
            "--keys-dir",
            default=os.environ.get("POLEKIT_FLEET_KEYS", "polekit-fleet-keys"),
            help="the fleet's keys directory (default: $POLEKIT_FLEET_KEYS or %(default)s)",
        )


def duration(text: str) -> int:
    """Parse 90s, 30m, 12h, 1d or 2w into seconds."""
    match = re.fullmatch(r"(\d+)([smhdw]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 30m, 12h, 1d)")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def _create(args: argparse.Namespace) -> int:
    fmt = args.qr.suffix.lstrip(".").lower() if args.qr else None
    if fmt is not None and fmt not in qr.MEDIA_TYPES:
        log.error("--qr wants a .svg, .png or .txt file")
        return 2
    try:
        data = msgspec.convert(
            {"group": args.group, "ttl_s": args.ttl, "max_uses": args.max_uses}, ClaimCreate
        )
    except msgspec.ValidationError as exc:
        log.error("invalid claim: %s", exc)  # noqa: TRY400 - a usage error, not a crash
        return 2

    async def run(service: ClaimService) -> int:
        created = await service.create(data, now=datetime.now(UTC))
        if args.qr is not None:
            args.qr.write_bytes(qr.render(created.token, fmt))  # type: ignore[arg-type]
        print(f"claim   {created.id}")
        print(f"group   {created.group}")
        print(f"expires {created.expires_at:%Y-%m-%d %H:%M} UTC")
        print(f"uses    {created.uses}/{created.max_uses}")
        print(f"token   {created.token}")
        return 0

    return _with_service(args, run)


def _list(args: argparse.Namespace) -> int:
    async def run(service: ClaimService) -> int:
        page = await service.list(now=datetime.now(UTC), limit=1000, offset=0)
        print(f"{'ID':16}  {'STATE':9}  {'USES':>9}  {'EXPIRES (UTC)':16}  GROUP")
        for claim in page.items:
            uses = f"{claim.uses}/{claim.max_uses}"
            expires = f"{claim.expires_at:%Y-%m-%d %H:%M}"
            print(f"{claim.id:16}  {claim.state:9}  {uses:>9}  {expires:16}  {claim.group}")
        return 0

    return _with_service(args, run)


def _revoke(args: argparse.Namespace) -> int:
    async def run(service: ClaimService) -> int:
        claim = await service.revoke(args.claim_id, now=datetime.now(UTC))
        print(f"claim {claim.id} revoked ({claim.uses}/{claim.max_uses} used)")
        return 0

    return _with_service(args, run)


def _with_service(args: argparse.Namespace, run: Callable[[ClaimService], Awaitable[int]]) -> int:
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    try:
        keys = FleetKeys.load_or_create(
            args.keys_dir, passphrase=os.environ.get("POLEKIT_KEY_PASSPHRASE")
        )
        db = DatabaseSettings(url=normalise_db_url(args.db))
    except (KeyFileError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def main() -> int:
        await upgrade_to_head(db)
        engine = create_engine(db)
        try:
            async with session_factory(engine)() as session:
                return await run(ClaimService(session, keys))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, SQLAlchemyError) as exc:
        print(f"error: database: {exc}", file=sys.stderr)
        return 1
