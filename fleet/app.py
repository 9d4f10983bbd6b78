"""The Litestar application: routes, the per-request database session, domain error mapping."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import Scope
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.audit import audit_middleware
from fleet.auth.guard import provide_principal
from fleet.bridge.counters import BridgeCounters
from fleet.dashboard.routes import dashboard_handlers, template_config
from fleet.domain.access.controllers import AccessController
from fleet.domain.alerts.controllers import AlertController, AlertRuleController, WebhookController
from fleet.domain.claims.controllers import ClaimController
from fleet.domain.commands.controllers import CommandController, ScheduleController
from fleet.domain.configs.controllers import ConfigController
from fleet.domain.devices.controllers import DeviceController
from fleet.domain.enrollment.bundles import BundleIssuer
from fleet.domain.enrollment.controllers import DeviceLifecycleController, EnrollmentController
from fleet.domain.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    InvalidQueryError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from fleet.domain.health.controllers import FleetHealthController
from fleet.domain.metrics.controllers import MetricsController
from fleet.domain.rollouts.controllers import RolloutController
from fleet.domain.rollouts.engine import RolloutEngine
from fleet.domain.system.controllers import SystemController
from fleet.domain.telemetry.controllers import TelemetryController
from fleet.security.ratelimit import RateLimiter

log = logging.getLogger("fleet.api")

_STATUS: dict[type[DomainError], int] = {
    NotFoundError: HTTP_404_NOT_FOUND,
    ConflictError: HTTP_409_CONFLICT,
    InvalidQueryError: HTTP_400_BAD_REQUEST,
    InvalidInputError: HTTP_400_BAD_REQUEST,
    UnauthorizedError: HTTP_401_UNAUTHORIZED,
    ForbiddenError: HTTP_403_FORBIDDEN,
    RateLimitedError: HTTP_429_TOO_MANY_REQUESTS,
    UnavailableError: HTTP_503_SERVICE_UNAVAILABLE,
}


@dataclass(frozen=True)
class Provisioning:
    """What the claims, enrollment and lifecycle routes need (see fleet.runner)."""

    admin_key: str | None
    issuer: BundleIssuer | None
    """None: enrollment and lifecycle answer 503 (no keys or broker configured)."""
    limiter: RateLimiter


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request, closed when the response is sent."""
    sessions: async_sessionmaker[AsyncSession] = state.sessions
    async with sessions() as session:
        yield session


def domain_error_to_http(
    _request: Request[object, object, State], exc: Exception
) -> Response[dict[str, object]]:
    """Map a domain error to its status code; `error` is its code, `detail` what to do next."""
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
    code = exc.code if isinstance(exc, DomainError) else "error"
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return Response(
        {"status_code": status, "error": code, "detail": str(exc)},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def bad_value_to_http(
    _request: Request[object, object, State], exc: Exception
) -> Response[dict[str, object]]:
    """A value the database cannot hold (out-of-range number, NUL byte): 400, not 500."""
    return Response(
        {"status_code": 400, "error": "invalid_input", "detail": "a value is out of range"},
        status_code=HTTP_400_BAD_REQUEST,
        media_type=MediaType.JSON,
    )


async def log_unexpected(exc: Exception, scope: Scope) -> None:
    """Log bugs with their traceback (HTTP and domain errors are answers, not bugs)."""
    if not isinstance(exc, HTTPException | DomainError | DataError):
        log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)


def create_app(
    sessions: async_sessionmaker[AsyncSession],
    *,
    bridge_counters: BridgeCounters | None = None,
    provisioning: Provisioning | None = None,
    rollout_engine: RolloutEngine | None = None,
) -> Litestar:
    """The fleet API over a session factory; pass the bridge's counters to show them on /healthz.

    Without `provisioning`, the admin routes answer 401 and enrollment 503.
    """
    prov = provisioning or Provisioning(
        admin_key=None, issuer=None, limiter=RateLimiter(attempts=10, window_s=60)
    )
    return Litestar(
        route_handlers=[
            DeviceController,
            DeviceLifecycleController,
            TelemetryController,
            SystemController,
            ClaimController,
            EnrollmentController,
            AccessController,
            FleetHealthController,
            AlertController,
            AlertRuleController,
            WebhookController,
            CommandController,
            ScheduleController,
            MetricsController,
            *dashboard_handlers(),
            ConfigController,
            RolloutController,
        ],
        dependencies={
            "db_session": Provide(provide_db_session),
            "principal": Provide(provide_principal),
        },
        middleware=[audit_middleware],
        template_config=template_config(),
        exception_handlers={DomainError: domain_error_to_http, DataError: bad_value_to_http},
        state=State(
            {
                "sessions": sessions,
                "bridge_counters": bridge_counters,
                "admin_key": prov.admin_key,
                "bundle_issuer": prov.issuer,
                "keys": prov.issuer.keys if prov.issuer else None,
                "enroll_limiter": prov.limiter,
                "rollout_engine": rollout_engine,
            }
        ),
        logging_config=None,  # the CLI (or the embedding program) owns logging
        after_exception=[log_unexpected],
        openapi_config=OpenAPIConfig(
            title="polekit fleet",
            version="1",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
    )
