"""What the app mounts for the dashboard: its controllers, static files and template engine."""

from __future__ import annotations

from pathlib import Path

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from fleet.dashboard.actions import DashboardActions
from fleet.dashboard.login import DashboardLogin
from fleet.dashboard.pages import DashboardPages
from fleet.dashboard.rollouts import DashboardRollouts

HERE = Path(__file__).resolve().parent


def dashboard_handlers() -> list[ControllerRouterHandler]:
    """Pages, actions, log-in and /ui/static (Leaflet and the stylesheet ship in the package)."""
    static = create_static_files_router(
        path="/ui/static", directories=[HERE / "static"], include_in_schema=False
    )
    return [DashboardLogin, DashboardPages, DashboardActions, DashboardRollouts, static]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2 templates with autoescaping (the default for .html)."""
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)
