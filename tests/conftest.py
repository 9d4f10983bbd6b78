"""Shared fixtures: real Mosquitto and PostgreSQL (started when missing), databases, the fleet.

Fixtures:
- mqtt_broker (session): the broker on 127.0.0.1:1883, or a private one if none answers.
- private_broker (session): a private mosquitto for this test session, for tests that run a
  fleet: a fleet subscribes to every device, so on a shared broker it would ack other runs'
  devices.
- mosquitto_factory: start private brokers (`persistence=True` for restart tests), with
  .kill() / .restart(); all are stopped after the test.
- pg_server (session): a PostgreSQL server (5432, or a throwaway cluster).
- pg_url (session): a fresh database for this test session, dropped at the end.
- db_url: parametrised over sqlite and postgresql, a fresh empty database per test.
- fleet_settings: build FleetSettings for `fleet.runner.run_fleet` against db_url + private_broker.
- fleet_process_factory: start `polekit fleet serve` subprocesses (for SIGKILL tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import services
from tests.services import Broker, FleetProcess, MosquittoProcess, PostgresServer


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[Broker]:
    """The machine's broker on 127.0.0.1:1883, or a private mosquitto when none answers."""
    with services.mqtt_broker() as broker:
        yield broker


@pytest.fixture(scope="session")
def private_broker() -> Iterator[Broker]:
    """A mosquitto of this test session only (use a unique device id per test anyway)."""
    with MosquittoProcess() as broker:
        yield broker.broker


@pytest.fixture
def mosquitto_factory() -> Iterator[Callable[..., MosquittoProcess]]:
    """Start private brokers: factory(persistence=False, extra_config=(...)) -> started broker."""
    started: list[MosquittoProcess] = []

    def start(**options: Any) -> MosquittoProcess:
        broker = MosquittoProcess(**options).start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """PostgreSQL on 127.0.0.1:5432, or a throwaway cluster when none answers."""
    with services.postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """postgresql+asyncpg URL of a fresh database for this test session."""
    name = services.unique_db_name()
    url = services.create_database(pg_server, name)
    yield url
    services.drop_database(pg_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test, on each backend (schema comes from the migrations)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fleet.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = services.unique_db_name()
    url = services.create_database(server, name)
    yield url
    services.drop_database(server, name)


@pytest.fixture
def fleet_settings(db_url: str, private_broker: Broker) -> Callable[..., Any]:
    """factory(**ingest_overrides) -> FleetSettings for run_fleet on db_url and private_broker."""

    def build(**ingest: float) -> Any:
        return services.fleet_settings(db_url, private_broker, **ingest)

    return build


@pytest.fixture
def fleet_process_factory() -> Iterator[Callable[..., FleetProcess]]:
    """Start `polekit fleet serve` subprocesses: factory(db_url=, mqtt_url=, client_id=)."""
    started: list[FleetProcess] = []

    def start(**options: Any) -> FleetProcess:
        process = FleetProcess(**options)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.close()
