"""Prometheus metrics: ingest, bridge lag, database latency, alert evaluation, commands."""
