"""The fleet's background operations beside the bridge: alert evaluation, webhook delivery,
remote commands and schedules. `run_fleet` starts them; the API reads them from app state."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.bridge.bridge import Bridge
from fleet.bridge.commands import CommandChannel
from fleet.domain.alerts.notify import Notifier
from fleet.domain.alerts.worker import AlertWorker
from fleet.domain.commands.schedules import ScheduleRunner
from fleet.settings import FleetSettings


@dataclass
class Operations:
    """Long-running loops of one fleet process, as named tasks."""

    sessions: async_sessionmaker[AsyncSession]
    settings: FleetSettings
    bridge: Bridge | None = None
    """Commands go out and come back through the bridge's connection."""
    alerts: AlertWorker = field(init=False)
    notifier: Notifier = field(init=False)
    commands: CommandChannel = field(init=False)
    schedules: ScheduleRunner = field(init=False)

    def __post_init__(self) -> None:
        self.alerts = AlertWorker(self.sessions)
        self.notifier = Notifier(self.sessions)
        self.commands = CommandChannel(self.bridge, self.sessions)
        if self.bridge is not None:
            self.bridge.on_command_result = self.commands.offer
        self.schedules = ScheduleRunner(self.sessions, self.commands)

    def start(self) -> list[asyncio.Task[None]]:
        """Start every loop; the caller cancels the tasks on the way out."""
        return [
            asyncio.create_task(self.alerts.run(), name="fleet-alerts"),
            asyncio.create_task(self.notifier.run(), name="fleet-notify"),
            asyncio.create_task(self.commands.run(), name="fleet-commands"),
            asyncio.create_task(self.commands.expire(), name="fleet-command-timeouts"),
            asyncio.create_task(self.schedules.run(), name="fleet-schedules"),
        ]
