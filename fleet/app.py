"""The Litestar application: routes, the per-request database session, domain error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
)
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.bridge.counters import BridgeCounters
from fleet.domain.devices.controllers import DeviceController
from fleet.domain.errors import ConflictError, DomainError, InvalidQueryError, NotFoundError
from fleet.domain.system.controllers import SystemController
from fleet.domain.telemetry.controllers import TelemetryController

log = logging.getLogger("fleet.api")

_STATUS: dict[type[DomainError], int] = {
    NotFoundError: HTTP_404_NOT_FOUND,
    ConflictError: HTTP_409_CONFLICT,
    InvalidQueryError: HTTP_400_BAD_REQUEST,
}


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request, closed when the response is sent."""
    sessions: async_sessionmaker[AsyncSession] = state.sessions
    async with sessions() as session:
        yield session


def domain_error_to_http(
    _request: Request[object, object, State], exc: Exception
) -> Response[dict[str, object]]:
    """Map a domain error to its status code, with the message as `detail`."""
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
    return Response(
        {"status_code": status, "detail": str(exc)}, status_code=status, media_type=MediaType.JSON
    )


async def log_unexpected(exc: Exception, scope: Scope) -> None:
    """Log bugs with their traceback (HTTP and domain errors are answers, not bugs)."""
    if not isinstance(exc, HTTPException | DomainError):
        log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)


def create_app(
    sessions: async_sessionmaker[AsyncSession], *, bridge_counters: BridgeCounters | None = None
) -> Litestar:
    """The fleet API over a session factory; pass the bridge's counters to show them on /healthz."""
    return Litestar(
        route_handlers=[DeviceController, TelemetryController, SystemController],
        dependencies={"db_session": Provide(provide_db_session)},
        exception_handlers={DomainError: domain_error_to_http},
        state=State({"sessions": sessions, "bridge_counters": bridge_counters}),
        logging_config=None,  # the CLI (or the embedding program) owns logging
        after_exception=[log_unexpected],
        openapi_config=OpenAPIConfig(
            title="polekit fleet",
            version="1",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
    )
