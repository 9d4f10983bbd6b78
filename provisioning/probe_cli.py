"""`polekit probe --port DEV --driver NAME --id N`: read every channel once, print a table."""

from __future__ import annotations

import argparse
import asyncio
import sys

from drivers.registry import BUILTIN_ROOT, DriverLoader, DriverRegistry
from drivers.sdk.errors import DriverError
from edge.config import BusConfig, DeviceConfig, ModbusRtuConfig, ModbusTcpConfig, SerialConfig
from edge.devices import DeviceConfigError
from edge.model import Reading
from edge.scheduler import BusScheduler
from edge.units import Duration


def register(parser: argparse.ArgumentParser) -> None:
    """Add the probe options to `polekit probe`."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", metavar="DEV", help="serial port, e.g. /dev/ttyUSB0")
    where.add_argument("--tcp", metavar="HOST:PORT", help="Modbus TCP device or gateway")
    parser.add_argument("--driver", required=True, metavar="NAME")
    parser.add_argument("--id", type=int, default=1, metavar="N", help="unit id (default 1)")
    parser.add_argument("--baud", type=int, help="default: the driver's factory setting")
    parser.add_argument("--parity", choices=["N", "E", "O"], help="default: the driver's")
    parser.add_argument("--timeout", default="1s")
    parser.add_argument("--driver-path", action="append", default=[], metavar="DIR")
    parser.set_defaults(func=_run)


def bus_for(args: argparse.Namespace, loader: DriverLoader) -> BusConfig:
    """The one-device bus the probe reads, from the arguments and the driver's defaults."""
    driver = loader(args.driver)
    timeout = Duration.parse(args.timeout)
    device = DeviceConfig(name="probe", driver=args.driver, unit=args.id)
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        tcp = ModbusTcpConfig(host=host or "127.0.0.1", port=int(port))
        return BusConfig(name="probe", modbus_tcp=tcp, devices=[device], timeout=timeout, retries=0)
    f = driver.manifest.serial
    baud, parity = args.baud or f.baud, args.parity or f.parity
    if driver.is_serial:
        serial = SerialConfig(
            port=args.port, baud=baud, parity=parity, stopbits=f.stopbits, bytesize=f.bytesize
        )
        return BusConfig(name="probe", serial=serial, devices=[device], timeout=timeout, retries=0)
    rtu = ModbusRtuConfig(
        port=args.port, baud=baud, parity=parity, stopbits=f.stopbits, bytesize=f.bytesize
    )
    return BusConfig(name="probe", modbus_rtu=rtu, devices=[device], timeout=timeout, retries=0)


async def probe(bus: BusConfig, loader: DriverLoader) -> tuple[list[Reading], str | None]:
    """Readings of one poll of every channel, and the error when the poll failed."""
    readings: list[Reading] = []
    scheduler = BusScheduler.from_config(bus, sink=readings.extend, loader=loader)
    try:
        ok = await scheduler.poll("probe")
    finally:
        await scheduler.close()
    return readings, None if ok else scheduler.stats.devices["probe"].last_error


def _run(args: argparse.Namespace) -> int:
    registry = DriverRegistry(paths=(BUILTIN_ROOT, *args.driver_path))
    try:
        bus = bus_for(args, registry.load)
        readings, error = asyncio.run(probe(bus, registry.load))
    except (DriverError, DeviceConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    driver = registry.load(args.driver)
    got = {r.channel: r for r in readings}
    print(f"{'channel':24} {'value':>14} {'unit':8} class")
    for channel in driver.channels.values():
        reading = got.get(channel.name)
        value = "-" if reading is None else _show(reading.value)
        print(f"{channel.name:24} {value:>14} {channel.unit:8} {channel.poll}")
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _show(value: float | int | bool | str) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
