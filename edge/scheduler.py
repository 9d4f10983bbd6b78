"""One scheduler per physical bus: serialised requests, per-device intervals, retries, offline.

RS-485 is half-duplex, so a bus carries one request at a time; the scheduler decides
whose turn it is by next-due time. A device that stops answering is polled with backoff
once offline, so its timeouts do not eat the other devices' turns. Like Home Assistant's
update coordinator, a failure is logged when it starts and when it ends, not every poll.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from drivers.registry import DriverLoader, load_driver
from drivers.sdk.errors import DecodeError
from drivers.sdk.manifest import PollClass
from edge.backoff import Backoff
from edge.bus_stats import BusStats, DeviceHealth
from edge.config import AgentConfig, BusConfig
from edge.devices import CompiledRead, Device, build_bus_devices
from edge.model import Reading
from edge.planner import ReadRequest
from edge.serial_session import SerialSession
from edge.transport.modbus import (
    ModbusExceptionResponse,
    ModbusTransport,
    PortUnavailable,
    TransportError,
    transport_for,
)
from edge.transport.serial import serial_line_for

__all__ = ["BusScheduler", "BusStats", "DeviceHealth", "Sink", "build_schedulers"]

log = logging.getLogger(__name__)

Sink = Callable[[list[Reading]], None]
Clock = Callable[[], float]
_RETRY_INITIAL, _RETRY_CAP = 0.02, 0.5
"""Seconds between retries of one request: short, because the bus is held meanwhile."""
_OFFLINE_CAP = 60.0


@dataclass(kw_only=True)
class _State:
    device: Device
    health: DeviceHealth
    offline_backoff: Backoff


class BusScheduler:
    """Polls the devices of one bus and hands their readings to a synchronous sink.

    A device's channels come in poll classes (fast, slow), each with its own interval;
    a bus is either Modbus (a ModbusTransport) or a serial line (a SerialSession).
    """

    def __init__(
        self,
        *,
        name: str,
        transport: ModbusTransport | SerialSession,
        devices: Sequence[Device],
        sink: Sink,
        retries: int = 2,
        offline_after: int = 3,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        if retries < 0 or offline_after < 1:
            raise ValueError("retries must be >= 0 and offline_after >= 1")
        names = [d.name for d in devices]
        if len(set(names)) != len(names):
            raise ValueError(f"device names must be unique on bus {name}: {names}")
        self.name = name
        self._transport = transport
        self._sink = sink
        self._retries = retries
        self._offline_after = offline_after
        self._clock = clock
        self._wall = wall_clock
        self.stats = BusStats(name=name)
        self._states: list[_State] = []
        self._by_name: dict[str, _State] = {}
        for device in devices:
            health = DeviceHealth(name=device.name, unit=device.unit, poll=device.poll)
            self.stats.devices[device.name] = health
            backoff = Backoff(initial=max(device.poll, 0.1), cap=max(device.poll, _OFFLINE_CAP))
            state = _State(device=device, health=health, offline_backoff=backoff)
            self._states.append(state)
            self._by_name[device.name] = state

    @classmethod
    def from_config(
        cls,
        bus: BusConfig,
        *,
        sink: Sink,
        path: str = "buses[0]",
        loader: DriverLoader = load_driver,
        port: str | None = None,
    ) -> BusScheduler:
        """A scheduler for a bus config; port is the OS serial device the board resolved."""
        devices = build_bus_devices(bus, path=path, loader=loader)
        transport: ModbusTransport | SerialSession
        if bus.serial is not None:
            line = serial_line_for(bus, port=port)
            transport = SerialSession(line, devices, timeout=float(bus.timeout))
        else:
            transport = transport_for(bus, port=port)
        return cls(
            name=bus.name,
            transport=transport,
            devices=devices,
            sink=sink,
            retries=bus.retries,
            offline_after=bus.offline_after,
        )

    def start(self, group: asyncio.TaskGroup) -> asyncio.Task[None]:
        """Run in the agent's TaskGroup as a task named after the bus."""
        return group.create_task(self.run(), name=f"bus:{self.name}")

    async def run(self) -> None:
        """Poll until cancelled; closes the transport on the way out."""
        now = self._clock()
        # one entry per (device, poll class): (due, device index, group index)
        heap = [
            (now, index, group)
            for index, state in enumerate(self._states)
            for group in range(len(state.device.groups))
        ]
        heapq.heapify(heap)
        me = asyncio.current_task()
        try:
            while heap:
                # Python 3.11's asyncio.wait_for (inside pymodbus) can swallow a cancel that
                # lands as the response arrives; a pending cancel request must still stop us.
                if me is not None and me.cancelling():
                    raise asyncio.CancelledError
                due, index, group_index = heap[0]
                delay = due - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                heapq.heappop(heap)
                state = self._states[index]
                group = state.device.groups[group_index]
                if group.poll_class == "slow" and not state.health.online and group_index:
                    # an offline device is probed by its fast class; slow reads wait for it
                    heapq.heappush(heap, (_next_slot(due, group.interval, now), index, group_index))
                    continue
                ok = await self.poll(state.device.name, group.poll_class)
                now = self._clock()
                if ok or state.health.online:
                    next_due = _next_slot(due, group.interval, now)
                else:
                    next_due = now + state.offline_backoff.next_delay()
                heapq.heappush(heap, (next_due, index, group_index))
            await asyncio.Event().wait()  # no devices: idle until cancelled
        finally:
            await self._transport.close()

    async def close(self) -> None:
        """Close the bus connection (run() does this itself when cancelled)."""
        await self._transport.close()

    async def poll(self, device_name: str, poll_class: PollClass | None = None) -> bool:
        """Read one device once (one poll class, or all), emit its readings; True when all ok."""
        state = self._by_name[device_name]
        device, health = state.device, state.health
        if device.is_serial:
            readings, error = await self._poll_serial(state)
        else:
            groups = [g for g in device.groups if poll_class in (None, g.poll_class)]
            reads = [read for group in groups for read in group.reads]
            self.stats.requests_saved += sum(group.saved for group in groups)
            attempts = 1 + self._retries if health.online else 1
            readings, error = await self._poll_reads(state, reads, attempts=attempts)
        if readings:
            self._emit(health, readings)
        if error is None:
            self._succeeded(state)
            return True
        self._failed(state, error)
        return False

    async def _poll_reads(
        self, state: _State, reads: Sequence[CompiledRead], *, attempts: int
    ) -> tuple[list[Reading], Exception | None]:
        device, health = state.device, state.health
        readings: list[Reading] = []
        error: Exception | None = None
        for read in reads:
            try:
                raw = await self._request(device.unit, read.request, attempts=attempts)
                values = read.decoder.decode(raw)
            except ModbusExceptionResponse as exc:
                health.exceptions += 1
                error = exc
                continue  # another block of the same device may still answer
            except TransportError as exc:
                if not isinstance(exc, PortUnavailable):
                    health.timeouts += 1
                error = exc
                break  # the device (or the line) is gone: do not hold the bus for the rest
            except DecodeError as exc:
                error = exc
                continue
            ts = self._wall()
            for channel, value in zip(read.channels, values, strict=True):
                readings.append(Reading(device.name, channel.name, value, ts, channel.unit))
        return readings, error

    async def _poll_serial(self, state: _State) -> tuple[list[Reading], Exception | None]:
        device, session = state.device, self._transport
        if not isinstance(session, SerialSession):
            return [], TransportError(f"bus {self.name} is not a serial line")
        try:
            taken = await session.poll(device.name, within=session.timeout)
        except TransportError as exc:
            if not isinstance(exc, PortUnavailable):
                state.health.timeouts += 1
            return [], exc
        channels = device.channels
        readings = [
            Reading(device.name, name, value, ts, channels[name].unit)
            for name, value, ts in taken
            if name in channels
        ]
        return readings, None

    async def _request(self, unit: int, request: ReadRequest, *, attempts: int) -> bytes:
        transport = self._transport
        if not isinstance(transport, ModbusTransport):
            raise TransportError(f"bus {self.name} is a serial line, not Modbus")
        retry = Backoff(initial=_RETRY_INITIAL, cap=_RETRY_CAP)
        for attempt in range(attempts):
            self.stats.requests_sent += 1
            try:
                return await transport.read(
                    unit, request.register_type, request.address, request.count
                )
            except TransportError as exc:
                self.stats.requests_failed += 1
                final = attempt == attempts - 1 or isinstance(exc, PortUnavailable)
                if isinstance(exc, ModbusExceptionResponse) and not exc.retryable:
                    final = True
                if final:
                    raise
            await asyncio.sleep(retry.next_delay())
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _emit(self, health: DeviceHealth, readings: list[Reading]) -> None:
        self.stats.values_read += len(readings)
        health.last_reading_ts = readings[-1].ts
        for reading in readings:
            health.last_readings[reading.channel] = reading
        try:
            self._sink(readings)
        except Exception:
            self.stats.sink_errors += 1
            if self.stats.sink_errors == 1:
                log.exception("bus %s: the reading sink failed (counted from now on)", self.name)

    def _succeeded(self, state: _State) -> None:
        health = state.health
        self.stats.polls_ok += 1
        health.polls_ok += 1
        if health.consecutive_failures:
            log.info(
                "bus %s: device %s (unit %d) recovered after %d failed polls",
                self.name,
                health.name,
                health.unit,
                health.consecutive_failures,
            )
        health.consecutive_failures = 0
        health.online = True
        health.last_error = None
        state.offline_backoff.reset()

    def _failed(self, state: _State, error: Exception) -> None:
        health = state.health
        self.stats.polls_failed += 1
        health.polls_failed += 1
        health.consecutive_failures += 1
        health.last_error = str(error)
        if health.consecutive_failures == 1:
            log.warning(
                "bus %s: device %s (unit %d) is failing: %s",
                self.name,
                health.name,
                health.unit,
                error,
            )
        if health.online and health.consecutive_failures >= self._offline_after:
            health.online = False
            log.debug("bus %s: device %s marked offline", self.name, health.name)


def _next_slot(due: float, interval: float, now: float) -> float:
    """The next multiple of interval after due that is still ahead: no drift, no burst."""
    if interval <= 0:
        return now
    slot = due + interval
    if slot <= now:
        slot = due + interval * (math.floor((now - due) / interval) + 1)
    return slot


def build_schedulers(
    config: AgentConfig,
    *,
    sink: Sink,
    loader: DriverLoader = load_driver,
    ports: Mapping[str, str] | None = None,
) -> list[BusScheduler]:
    """One scheduler per bus of the config; ports maps bus names to OS serial devices."""
    ports = ports or {}
    return [
        BusScheduler.from_config(
            bus, sink=sink, path=f"buses[{i}]", loader=loader, port=ports.get(bus.name)
        )
        for i, bus in enumerate(config.buses)
    ]
