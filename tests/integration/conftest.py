"""Fixtures of the end-to-end and fault tests: `e2e` owns a test's agents and simulators."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.e2e_harness import E2E
from tests.services import FleetProcess


@pytest.fixture
def e2e(tmp_path: Path, fleet_process_factory: Callable[..., FleetProcess]) -> Iterator[E2E]:
    """Start simulators, agents and fleets for one test; all are stopped afterwards."""
    harness = E2E(workdir=tmp_path, fleet_factory=fleet_process_factory)
    yield harness
    harness.close()
