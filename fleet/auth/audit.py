"""The audit trail: an ASGI middleware that writes one row per mutating request.

It records who (the principal the guard resolved, else "anonymous"), what (method and path;
never the body or the query string, which may carry secrets), when, from where, and the
status the request ended with.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.guard import current_principal
from fleet.db.operations import AuditEntry

log = logging.getLogger("fleet.audit")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def audit_middleware(app: ASGIApp) -> ASGIApp:
    """Wrap the app so every POST/PUT/PATCH/DELETE leaves an audit row."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope["type"]) != "http" or scope.get("method") not in MUTATING:
            await app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            await _write(scope, status)

    return middleware


async def _write(scope: Scope, status: int) -> None:
    app = scope.get("app")
    state = app.state if app is not None else None
    sessions: async_sessionmaker[AsyncSession] | None = state.get("sessions") if state else None
    if sessions is None:
        return
    principal = current_principal(scope)
    client = scope.get("client")
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=principal.label if principal else "anonymous",
        role=principal.role if principal else None,
        scope=principal.scope if principal else None,
        method=str(scope.get("method", ""))[:8],
        path=str(scope.get("path", ""))[:300],
        status=status,
        remote=str(client[0])[:64] if client else None,
    )
    try:
        async with sessions() as session, session.begin():
            session.add(entry)
    except Exception:
        log.exception("could not write the audit row for %s %s", entry.method, entry.path)
