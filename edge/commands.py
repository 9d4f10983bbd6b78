"""Remote commands on the gateway: cmd/req/{id} in, cmd/res/{id} out.

A write goes through only when the sensor is in this gateway's config, its driver marks the
point writable, and the value lies within the driver's limits; anything else is refused with
the reason. `reread` polls the sensors now; `reboot` answers, then restarts the agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from drivers.sdk.codec import encode_value
from drivers.sdk.driver import Writable
from drivers.sdk.errors import EncodeError
from edge.devices import Device
from edge.scheduler import BusScheduler
from edge.transport.modbus import ModbusTransport, TransportError
from protocol.encoding import Encoding
from protocol.errors import ProtocolError
from protocol.messages import CommandRequest, CommandResult, decode_message, encode_message

log = logging.getLogger(__name__)
Publish = Callable[[str, bytes], Awaitable[bool]]
QUEUE_SIZE = 32


class CommandRefusedError(Exception):
    """The command is not allowed here; the message says why."""


class RestartRequestedError(Exception):
    """A reboot command was answered: the agent stops so that it starts again."""


class CommandHandler:
    """Queues requests from the uplink and executes them one at a time."""

    def __init__(
        self,
        *,
        schedulers: Sequence[BusScheduler],
        encoding: Encoding,
        allowed: Mapping[str, Sequence[str] | None] | None = None,
    ) -> None:
        self._schedulers = schedulers
        self._encoding = encoding
        self._allowed = allowed or {}
        """Per sensor, the points its config lets the fleet write (None: all the driver's)."""
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE_SIZE)
        self.executed = 0

    def offer(self, command_id: str, payload: bytes) -> None:
        """A cmd/req message arrived (called by the uplink; never blocks)."""
        try:
            self._queue.put_nowait((command_id, payload))
        except asyncio.QueueFull:
            log.warning("commands: queue full, dropped command %s", command_id)

    async def run(self, publish: Publish) -> None:
        """Execute queued commands and publish each result until cancelled (or a reboot)."""
        while True:
            command_id, payload = await self._queue.get()
            result = await self.execute(payload)
            self.executed += 1
            body = encode_message(result, self._encoding)
            if not await publish(command_id, body):
                log.warning("commands: result of %s not delivered (uplink down)", command_id)
            if result.status == "done" and result.reason == "restarting":
                raise RestartRequestedError("restart requested by the fleet")

    async def execute(self, payload: bytes) -> CommandResult:
        """Run one encoded request; every refusal or bus error becomes a failed result."""
        try:
            request = decode_message(payload, CommandRequest, self._encoding)
            if request.kind == "reboot":
                return CommandResult(status="done", reason="restarting")
            if request.kind == "reread":
                return await self._reread(request)
            return await self._write(request)
        except ProtocolError as exc:
            return CommandResult(status="failed", reason=f"malformed command: {exc}")
        except CommandRefusedError as exc:
            log.warning("commands: refused: %s", exc)
            return CommandResult(status="failed", reason=str(exc))
        except TransportError as exc:
            return CommandResult(status="failed", reason=f"bus error: {exc}")

    def _targets(self, request: CommandRequest) -> list[tuple[BusScheduler, str]]:
        found = [
            (scheduler, name)
            for scheduler in self._schedulers
            for name in scheduler.stats.devices
            if request.device in (None, name)
        ]
        if request.device is not None and not found:
            raise CommandRefusedError(f"no sensor {request.device!r} in this gateway's config")
        return found

    async def _reread(self, request: CommandRequest) -> CommandResult:
        names: list[str] = []
        failed: list[str] = []
        for scheduler, name in self._targets(request):
            ok = await scheduler.poll(name)
            (names if ok else failed).append(name)
        if failed:
            return CommandResult(status="failed", reason=f"no answer from {failed}", devices=names)
        return CommandResult(status="done", devices=names)

    async def _write(self, request: CommandRequest) -> CommandResult:
        if not request.point or request.value is None:
            raise CommandRefusedError("a write needs a point and a value")
        targets = []
        for scheduler, name in self._targets(request):
            driver = _device(scheduler, name).driver
            point = driver.writable.get(request.point)
            allowed = self._allowed.get(name)
            if point is not None and allowed is not None and point.name not in allowed:
                if request.device is not None:
                    raise CommandRefusedError(
                        f"the config of {name} does not allow writing {request.point!r} "
                        f"(allowed: {', '.join(allowed) or 'none'})"
                    )
                continue
            if point is not None:
                targets.append((scheduler, name, point))
            elif request.device is not None:
                allowed = ", ".join(sorted(driver.writable)) or "none"
                raise CommandRefusedError(
                    f"driver {driver.info.name} of {name} has no writable point "
                    f"{request.point!r} (writable: {allowed})"
                )
        if not targets:
            raise CommandRefusedError(f"no sensor here has a writable point {request.point!r}")
        for _scheduler, _name, point in targets:
            check_limits(point, request.value)
        for scheduler, name, point in targets:
            await write_point(scheduler, name, point, request.value)
        return CommandResult(status="done", devices=[name for _s, name, _p in targets])


def check_limits(point: Writable, value: float | bool) -> None:
    """Refuse a value outside the driver's limits (or a number for an on/off point)."""
    if point.register_type.is_bit:
        if not isinstance(value, bool) and value not in (0, 1):
            raise CommandRefusedError(f"{point.name} is on/off: send true or false")
        return
    number = float(value)
    low = point.min if point.min is not None else float("-inf")
    high = point.max if point.max is not None else float("inf")
    if not low <= number <= high:
        unit = f" {point.unit}" if point.unit else ""
        raise CommandRefusedError(
            f"{point.name}={number:g} is outside the driver's limits {low:g}..{high:g}{unit}"
        )


async def write_point(
    scheduler: BusScheduler, name: str, point: Writable, value: float | bool
) -> None:
    """Write one point of one sensor (the transport serialises it with the polls)."""
    transport = scheduler._transport  # the bus's own transport: pymodbus serialises requests
    if not isinstance(transport, ModbusTransport):
        raise CommandRefusedError(f"{name} is on a serial line: it has no writable registers")
    unit = _device(scheduler, name).unit
    if point.register_type.is_bit:
        await transport.write_coil(unit, point.address, bool(value))
        return
    try:
        raw = encode_value(point.field, float(value))
    except EncodeError as exc:
        raise CommandRefusedError(f"{point.name}: {exc}") from None
    await transport.write_registers(unit, point.address, raw)


def _device(scheduler: BusScheduler, name: str) -> Device:
    """The configured sensor `name` on this bus."""
    return scheduler._by_name[name].device
