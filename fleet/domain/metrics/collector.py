"""A Prometheus collector that reads the fleet's live counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleet.bridge.counters import BridgeCounters


class FleetCollector(Collector):
    """Bridge, alert, notification and command counters; the DB probe is set before a scrape."""

    def __init__(self, counters: BridgeCounters | None, operations: Any) -> None:
        self._counters = counters
        self._operations = operations
        self.db_latency_s: float | None = None

    def collect(self) -> Iterator[Metric]:
        """Every metric family, as of now."""
        yield from self._bridge()
        yield from self._operations_metrics()
        if self.db_latency_s is not None:
            yield GaugeMetricFamily(
                "polekit_db_latency_seconds", "Round trip of SELECT 1 at scrape time",
                value=self.db_latency_s,
            )  # fmt: skip

    def _bridge(self) -> Iterator[Metric]:
        counters = self._counters
        if counters is None:
            return
        yield GaugeMetricFamily("polekit_bridge_connected", "1 while the bridge is subscribed",
                                value=1.0 if counters.connected else 0.0)  # fmt: skip
        yield GaugeMetricFamily("polekit_bridge_lag_seconds",
                                "Receipt to commit of the oldest message of the last commit",
                                value=counters.lag_s)  # fmt: skip
        for name, help_text, value in (
            ("polekit_ingest_points", "Telemetry points committed", counters.points),
            ("polekit_ingest_batches", "New telemetry batches committed", counters.batches_new),
            (
                "polekit_ingest_duplicate_batches",
                "Resent batches dropped",
                counters.batches_duplicate,
            ),
            ("polekit_bridge_messages", "MQTT messages received", counters.messages),
            ("polekit_bridge_commits", "Database transactions of the bridge", counters.flushes),
            ("polekit_bridge_db_errors", "Failed bridge commits", counters.db_errors),
        ):
            yield CounterMetricFamily(name, help_text, value=value)
        rejected = CounterMetricFamily(
            "polekit_bridge_rejected", "Rejected messages", labels=["reason"]
        )
        for reason, count in sorted(counters.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected

    def _operations_metrics(self) -> Iterator[Metric]:
        ops = self._operations
        if ops is None:
            return
        alerts, notifier, commands = ops.alerts, ops.notifier, ops.commands
        for name, help_text, value in (
            ("polekit_alert_evaluations", "Rule evaluations", alerts.engine.evaluations),
            ("polekit_alert_points_scanned", "Telemetry points read by the alert worker",
             alerts.stats.points_scanned),
            ("polekit_alerts_opened", "Alerts opened", alerts.stats.opened),
            ("polekit_alerts_resolved", "Alerts resolved by the rules", alerts.stats.resolved),
            ("polekit_notifications_delivered", "Webhook deliveries", notifier.delivered),
            ("polekit_notification_failures", "Failed webhook attempts", notifier.failures),
            ("polekit_commands_sent", "Command requests published", commands.sent),
            ("polekit_command_results", "Command results received", commands.results),
            ("polekit_commands_timed_out", "Commands nobody answered in time", commands.timed_out),
        ):  # fmt: skip
            yield CounterMetricFamily(name, help_text, value=value)
        yield GaugeMetricFamily("polekit_alert_step_seconds", "Duration of the last alert round",
                                value=alerts.stats.last_step_s)  # fmt: skip
