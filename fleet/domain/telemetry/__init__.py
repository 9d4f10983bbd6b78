"""Telemetry context (read side): latest values and time-series queries."""
