"""Alerts context: rules with hysteresis and hold times, the alert lifecycle, signed webhooks."""
