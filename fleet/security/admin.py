"""Admin authentication: one bearer key from the settings, checked in one guard.

Roles are a later issue; until then every admin route uses `require_admin`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler


def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Let the request through only with `Authorization: Bearer <admin key>`."""
    expected: str | None = connection.app.state.get("admin_key")
    if not expected:
        raise NotAuthorizedException(
            "the admin API is disabled: start the fleet with POLEKIT_ADMIN_KEY (or --admin-key)"
        )
    scheme, _sep, presented = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not _same(presented.strip(), expected):
        raise NotAuthorizedException(
            "missing or wrong admin key: send 'Authorization: Bearer <admin key>'"
        )


def _same(presented: str, expected: str) -> bool:
    """Constant-time comparison of digests, so neither content nor length leaks."""
    return hmac.compare_digest(
        hashlib.sha256(presented.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )
