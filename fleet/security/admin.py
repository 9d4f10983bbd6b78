"""Admin routes of provisioning (claims, device lifecycle): fleet-wide admins only.

Delegates to the one access guard (fleet.auth.guard): the bootstrap admin key or an admin API
key whose scope is the whole fleet. A district admin gets 403 here.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from fleet.auth.guard import current_principal, requires

_admin = requires("admin")


async def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """401 without a valid key, 403 unless the key is a fleet-wide admin's."""
    await _admin(connection, handler)
    principal = current_principal(connection.scope)
    if principal is None or principal.scope:
        raise PermissionDeniedException("claims and device lifecycle need a fleet-wide admin")
