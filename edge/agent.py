"""The edge agent: buses -> pipeline -> durable buffer -> uplink, as named tasks of a TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from drivers.registry import DriverLoader, load_driver
from drivers.sdk.errors import DriverError
from edge.board import board_ports
from edge.buffer import Buffer
from edge.commands import CommandHandler, RestartRequestedError
from edge.config import AgentConfig
from edge.devices import channel_policies
from edge.health import HealthCollector
from edge.pipeline import Pipeline
from edge.scheduler import BusScheduler, BusStats, build_schedulers
from edge.status import status_path, write_status_file
from edge.transport.modbus import PortUnavailable
from edge.transport.mqtt import BrokerUrlError, Credentials, connect, parse_broker_url
from edge.uplink import ConfigControl, Uplink, UplinkStats
from hardware.profiles import ProfileError
from protocol.ids import new_boot_id
from protocol.messages import encode_message

log = logging.getLogger(__name__)
_STATUS_INTERVAL = 5.0


class AgentStartError(Exception):
    """The agent cannot start; the message says what to fix."""


class Agent:
    """One gateway's agent, built from a validated config."""

    def __init__(
        self,
        *,
        config: AgentConfig,
        credentials: Credentials | None = None,
        boot_id: str | None = None,
        loader: DriverLoader = load_driver,
        ca_file: str | None = None,
        client_cert: tuple[str, str] | None = None,
        board_paths: Sequence[Path] = (),
        control: ConfigControl | None = None,
        alarms: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.boot_id = boot_id or new_boot_id()
        self._credentials = credentials
        self._ca_file = ca_file
        self._client_cert = client_cert
        self._board_paths = tuple(board_paths)
        self._loader = loader
        self._owns_process = False
        self._control = control
        self._alarms = alarms
        self._uplink: Uplink | None = None
        self._schedulers: list[BusScheduler] = []

    @property
    def uplink_stats(self) -> UplinkStats | None:
        """The uplink's counters once running (the config health window reads them)."""
        return self._uplink.stats if self._uplink is not None else None

    @property
    def bus_stats(self) -> list[BusStats]:
        """Each bus scheduler's counters once running."""
        return [scheduler.stats for scheduler in self._schedulers]

    async def run(self) -> None:
        """Run until cancelled; on the way out the open batch is committed to the buffer."""
        config = self.config
        try:
            broker = parse_broker_url(
                config.uplink.broker, default_version=config.uplink.mqtt_version
            )
            policies = channel_policies(config, loader=self._loader)
            ports = board_ports(config, search=self._board_paths)
        except (BrokerUrlError, DriverError, ValueError, ProfileError) as exc:
            raise AgentStartError(str(exc)) from exc
        buffer = Buffer.from_config(config.buffer)
        try:
            Path(config.buffer.path).parent.mkdir(parents=True, exist_ok=True)
            await buffer.open()
        except (OSError, sqlite3.Error) as exc:
            raise AgentStartError(
                f"cannot open the buffer database {config.buffer.path}: {exc}; "
                "check that its directory exists and is writable, or set buffer.path"
            ) from exc
        try:
            pipeline = Pipeline.from_config(
                config, sink=buffer, boot_id=self.boot_id, policies=policies
            )
            try:
                schedulers = build_schedulers(
                    config, sink=pipeline.submit, loader=self._loader, ports=ports
                )
            except PortUnavailable as exc:
                raise AgentStartError(str(exc)) from exc
            commands = CommandHandler(
                schedulers=schedulers,
                encoding=config.uplink.encoding,
                allowed={d.name: d.writable for bus in config.buses for d in bus.devices},
            )
            uplink = Uplink(
                session_factory=lambda: connect(
                    broker=broker,
                    device_id=config.device_id,
                    encoding=config.uplink.encoding,
                    keepalive=float(config.uplink.keepalive),
                    credentials=self._credentials,
                    ca_file=self._ca_file,
                    client_cert=self._client_cert,
                ),
                buffer=buffer,
                encoding=config.uplink.encoding,
                inflight=config.uplink.inflight,
                ack_timeout=float(config.uplink.ack_timeout),
                reconnect_max=float(config.uplink.reconnect_max),
                control=self._control,
                commands=commands,
            )
            self._uplink, self._schedulers = uplink, schedulers
            health = HealthCollector(
                boot_id=self.boot_id,
                config_version=config.version,
                pipeline=pipeline,
                buffer=buffer,
                schedulers=schedulers,
                alarms=self._alarms,
                interval_s=float(config.health.interval),
                buffer_path=config.buffer.path,
                buffer_max_bytes=int(config.buffer.max_bytes),
            )
            log.info(
                "agent %s starting (boot %s): %d bus(es), broker %s:%d, buffer %s",
                config.device_id,
                self.boot_id,
                len(schedulers),
                broker.host,
                broker.port,
                config.buffer.path,
            )
            if self._owns_process:
                # Everything built so far lives as long as the process: keep the collector
                # from walking it again on every full collection.
                gc.collect()
                gc.freeze()
            await self._run_tasks(pipeline, schedulers, uplink, health, commands)
        finally:
            await buffer.close()

    async def _run_tasks(
        self,
        pipeline: Pipeline,
        schedulers: list[BusScheduler],
        uplink: Uplink,
        health: HealthCollector,
        commands: CommandHandler,
    ) -> None:
        # The pipeline task is cancelled last (it hands its open batch to the buffer), so it
        # runs outside the group that holds the producers.
        flush = asyncio.create_task(pipeline.run(), name="pipeline-flush")
        try:
            async with asyncio.TaskGroup() as tasks:
                for scheduler in schedulers:
                    name = f"bus:{scheduler.name}"
                    tasks.create_task(_essential(scheduler.run(), name), name=name)
                tasks.create_task(_essential(uplink.run(), "uplink"), name="uplink")
                tasks.create_task(
                    _essential(self._heartbeat(uplink, health), "health"), name="health"
                )
                tasks.create_task(
                    _essential(commands.run(uplink.publish_command_result), "commands"),
                    name="commands",
                )
        finally:
            flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flush

    async def _heartbeat(self, uplink: Uplink, health: HealthCollector) -> None:
        interval = float(self.config.health.interval)
        path = status_path(self.config)
        since_publish = interval  # publish as soon as the uplink is up
        while True:
            message = health.collect()
            uplink_state = {
                "connected": uplink.stats.connected,
                "connects": uplink.stats.connects,
                "disconnects": uplink.stats.disconnects,
                "inflight": len(uplink.stats.inflight),
                "published_batches": uplink.stats.published_batches,
                "republished_batches": uplink.stats.republished_batches,
                "last_error": uplink.stats.last_error,
            }
            try:
                await asyncio.to_thread(
                    write_status_file, path, health=message, uplink=uplink_state
                )
            except OSError as exc:
                log.warning("agent: cannot write status file %s: %s", path, exc)
            if since_publish >= interval and uplink.stats.connected:
                payload = encode_message(message, self.config.uplink.encoding)
                if await uplink.publish_health(payload):
                    since_publish = 0.0
            step = min(_STATUS_INTERVAL, interval)
            await asyncio.sleep(step)
            since_publish += step

    async def run_until_signalled(self) -> None:
        """Run until SIGINT or SIGTERM, then stop cleanly (buffer committed, transports closed).

        This is the agent's process: it gets one executor thread (the MQTT connect and the
        status file need it) instead of asyncio's default pool of up to cpu_count + 4 threads,
        each with its own malloc arena.
        """
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-io"))
        self._owns_process = True
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        restart = False
        try:
            try:
                await self.run()
            except* RestartRequestedError:
                restart = True
        except asyncio.CancelledError:
            log.info("agent %s stopped", self.config.device_id)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        if restart:
            log.warning("agent %s restarting on the fleet's request", self.config.device_id)
            os.execv(sys.executable, [sys.executable, *sys.argv])  # noqa: S606 - our own argv


class TaskStoppedError(RuntimeError):
    """One of the agent's endless loops ended on its own; the agent must not limp on."""


async def _essential(loop: Coroutine[Any, Any, None], name: str) -> None:
    """Run an endless loop; if it returns or is cancelled by anyone but us, stop the agent.

    A loop that quietly vanished (say, a library swallowed a cancel) would leave the agent
    polling with no uplink; failing the TaskGroup lets the service manager restart it.
    """
    try:
        await loop
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.error(  # noqa: TRY400 - the cancel carries no useful traceback
            "agent: task %s was cancelled from inside; stopping the agent", name
        )
        raise TaskStoppedError(f"task {name} was cancelled unexpectedly") from None
    log.error("agent: task %s ended on its own; stopping the agent", name)
    raise TaskStoppedError(f"task {name} ended unexpectedly")
