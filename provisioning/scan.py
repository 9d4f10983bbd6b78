"""Find the Modbus devices on an RS-485 line and guess what they are.

For each baud rate the line is opened once and every unit id is asked for holding
register 0. Any answer, a Modbus exception included, means a device lives there (a
device that has no register 0 still says so with exception 2); a timeout means nobody.
Each device found is then fingerprinted: every catalogue register map is read from it,
and a map scores by how many of its ranged channels read plausibly and how many of its
numeric channels read something other than zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from drivers.sdk.datatypes import RegisterType
from drivers.sdk.driver import Driver
from drivers.sdk.errors import DriverError
from edge.config import BusConfig, DeviceConfig, ModbusRtuConfig
from edge.devices import Device, DeviceConfigError, build_device
from edge.transport.modbus import (
    DeviceTimeout,
    ModbusExceptionResponse,
    ModbusTransport,
    PortUnavailable,
    RtuTransport,
    TransportError,
)

MIN_SCORE = 0.5
"""Candidates scoring below this are not shown."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """A catalogue driver whose register map fits a device found on the line."""

    driver: str
    score: float
    plausible: int
    """Ranged channels that read inside their range."""
    ranged: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Found:
    """A device that answered."""

    baud: int
    unit: int
    answer: str
    """What it said to the presence probe: "register 0 = N" or "exception N (name)"."""
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Progress:
    """Where the scan is: the callback gets one after every probe."""

    baud: int
    unit: int
    done: int
    total: int
    found: int


def parse_ids(text: str) -> list[int]:
    """ "1-247", "1,2,10-20" -> unit ids; ValueError for anything outside 1..247."""
    ids: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        first, last = int(low), int(high or low)
        if not 1 <= first <= last <= 247:
            raise ValueError(f"unit ids run from 1 to 247, got {part!r}")
        ids.extend(range(first, last + 1))
    return sorted(set(ids))


def parse_bauds(text: str) -> list[int]:
    """ "9600,19200" -> [9600, 19200]."""
    try:
        bauds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"expected baud rates such as 9600,19200, got {text!r}") from None
    if not bauds or any(b <= 0 for b in bauds):
        raise ValueError(f"expected baud rates such as 9600,19200, got {text!r}")
    return bauds


async def probe_presence(transport: ModbusTransport, unit: int) -> str | None:
    """What unit answers to a read of holding register 0, or None for silence."""
    try:
        raw = await transport.read(unit, RegisterType.HOLDING, 0, 1)
    except ModbusExceptionResponse as exc:
        return f"exception {exc.code} ({exc.name})"
    except PortUnavailable:
        raise
    except (DeviceTimeout, TransportError):
        return None  # silence, or noise that is not a valid answer
    return f"register 0 = {int.from_bytes(raw, 'big')}"


async def fingerprint(
    transport: ModbusTransport, unit: int, drivers: Iterable[Driver], *, baud: int
) -> tuple[Candidate, ...]:
    """Catalogue drivers whose maps read plausibly from unit, best first."""
    candidates = []
    for driver in drivers:
        if driver.is_serial:
            continue
        candidate = await _score(transport, unit, driver)
        if candidate is not None and candidate.score >= MIN_SCORE:
            candidates.append((candidate, driver.manifest.serial.baud == baud))
    # ties go to the map that checked more channels, then to a factory baud that matches
    candidates.sort(key=lambda item: (item[0].score, item[0].ranged, item[1]), reverse=True)
    return tuple(candidate for candidate, _ in candidates)


async def _score(transport: ModbusTransport, unit: int, driver: Driver) -> Candidate | None:
    device = _device_for(driver, unit)
    if device is None:
        return None
    ranged = plausible = numeric = populated = 0
    for read in device.reads:
        request = read.request
        try:
            raw = await transport.read(unit, request.register_type, request.address, request.count)
            values = read.decoder.decode(raw)
        except (TransportError, DriverError):
            return None  # a map the device does not have
        for channel, value in zip(read.channels, values, strict=True):
            if isinstance(value, bool | str) or channel.spec.field.enum:
                continue
            numeric += 1
            populated += value != 0
            if channel.spec.range is not None:
                ranged += 1
                plausible += channel.spec.range[0] <= value <= channel.spec.range[1]
    if numeric == 0:
        return None  # nothing to judge by (a map of flags only)
    score = (plausible / ranged if ranged else 1.0) * populated / numeric
    return Candidate(driver=driver.name, score=round(score, 3), plausible=plausible, ranged=ranged)


def _device_for(driver: Driver, unit: int) -> Device | None:
    bus = BusConfig(name="scan", modbus_rtu=ModbusRtuConfig(port="scan"))
    config = DeviceConfig(name="probe", driver=driver.name, unit=unit)
    try:
        return build_device(config, bus=bus, path="scan", loader=lambda _name: driver)
    except DeviceConfigError:
        return None


async def scan(
    *,
    port: str,
    bauds: Sequence[int],
    ids: Sequence[int],
    drivers: Sequence[Driver] = (),
    parity: str = "N",
    stopbits: int = 1,
    wait: float = 0.1,
    first: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    on_found: Callable[[Found], None] | None = None,
) -> list[Found]:
    """Every device on the line at the given bauds and ids; stops at the first when asked.

    wait is how long each unit id gets to answer (seconds).

    Raises PortUnavailable when the port cannot be opened.
    """
    found: list[Found] = []
    total, done = len(bauds) * len(ids), 0
    for baud in bauds:
        transport = RtuTransport(
            port=port, baud=baud, parity=parity, stopbits=stopbits, timeout=wait
        )
        try:
            for unit in ids:
                answer = await probe_presence(transport, unit)
                done += 1
                if answer is not None:
                    candidates = await fingerprint(transport, unit, drivers, baud=baud)
                    hit = Found(baud=baud, unit=unit, answer=answer, candidates=candidates)
                    found.append(hit)
                    if on_found is not None:
                        on_found(hit)
                if on_progress is not None:
                    on_progress(
                        Progress(baud=baud, unit=unit, done=done, total=total, found=len(found))
                    )
                if first and found:
                    return found
        finally:
            await transport.close()
    return found
