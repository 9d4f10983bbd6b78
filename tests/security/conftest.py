"""Security tests run against a real Mosquitto with the dynamic-security plugin.

Fixtures (from tests/provisioning_services.py): dynsec_broker, dynsec_broker_factory.
Plus `fleet_client`: a fleet with provisioning on, over db_url (sqlite and postgresql).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.provisioning_services import (
    DynsecBroker,
    FleetClient,
    dynsec_broker,
    dynsec_broker_factory,
    provisioned_fleet,
)

__all__ = ["dynsec_broker", "dynsec_broker_factory"]


@pytest.fixture
async def fleet_client(
    db_url: str, dynsec_broker: DynsecBroker, tmp_path: Path
) -> AsyncIterator[FleetClient]:
    """A fleet with provisioning on and no bridge: tests log in as the fleet's broker account
    themselves, to watch every device topic (one session per username on this broker)."""
    async with provisioned_fleet(db_url, dynsec_broker, tmp_path / "keys", bridge=False) as client:
        yield client
