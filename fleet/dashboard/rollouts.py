"""The dashboard's rollout progress page (only when the rollout domain runs in this fleet)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import requires
from fleet.auth.principal import Principal
from fleet.dashboard.login import to_login
from fleet.dashboard.pages import page
from fleet.domain.configs.controllers import base_config
from fleet.domain.configs.services import ConfigService
from fleet.domain.rollouts.services import RolloutService


class DashboardRollouts(Controller):
    """Rollouts are fleet-wide: their progress shows to fleet-wide principals only."""

    path = "/ui/rollouts"
    guards = [requires("viewer")]
    include_in_schema = False
    exception_handlers = {NotAuthorizedException: to_login}

    @get("/")
    async def rollouts(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
    ) -> Template:
        """Newest rollouts with per-stage counts."""
        found = []
        if principal.scope == "":
            service = RolloutService(db_session, ConfigService(db_session, base_config(state)))
            found = await service.list_rollouts(limit=20, offset=0)
        return page("rollouts.html", principal, state, rollouts=found)
