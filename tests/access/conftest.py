"""Access tests use the fleet tests' migrated database (`sessions`, both backends)."""

from __future__ import annotations

from tests.fleet.conftest import sessions

__all__ = ["sessions"]
