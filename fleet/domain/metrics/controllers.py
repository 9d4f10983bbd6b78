"""GET /metrics in the Prometheus text format (unauthenticated, like /healthz: counts only)."""

from __future__ import annotations

import time

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.domain.metrics.collector import FleetCollector


def _collector(state: State) -> tuple[CollectorRegistry, FleetCollector]:
    found = state.get("metrics")
    if found is None:
        registry = CollectorRegistry(auto_describe=False)
        collector = FleetCollector(state.get("bridge_counters"), state.get("operations"))
        registry.register(collector)
        found = state.metrics = (registry, collector)
    registry, collector = found
    return registry, collector


class MetricsController(Controller):
    """Prometheus scrape endpoint."""

    path = "/metrics"
    tags = ["system"]

    @get("/", media_type=CONTENT_TYPE_LATEST)
    async def metrics(
        self, db_session: NamedDependency[AsyncSession], state: State
    ) -> Response[bytes]:
        """Ingest, bridge lag, database latency, alert evaluation and command counters."""
        registry, collector = _collector(state)
        started = time.perf_counter()
        await db_session.execute(text("SELECT 1"))
        collector.db_latency_s = time.perf_counter() - started
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
