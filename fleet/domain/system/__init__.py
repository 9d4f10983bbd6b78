"""System context: liveness and bridge counters."""
