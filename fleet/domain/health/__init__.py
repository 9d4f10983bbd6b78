"""Health context: effective online state, fleet-wide views (by district and street, stale
sensors, growing buffers)."""
