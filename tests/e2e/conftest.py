"""The dashboard tests reuse the end-to-end harness (`e2e`: simulators, agents, fleets)."""

from __future__ import annotations

from tests.integration.conftest import e2e

__all__ = ["e2e"]
