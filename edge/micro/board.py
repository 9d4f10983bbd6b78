"""Device glue for an ESP32 running MicroPython: Wi-Fi, clock, UART, MQTT, then the agent.

The only module that imports machine, network and umqtt; the rest of the agent gets what it
needs from here as arguments. main.py on the board calls `run()`.
"""

import gc
import json
import os
import ssl
import time

import machine
import network
from umqtt.simple import MQTTClient

from edge.micro.agent import Agent
from edge.micro.clock import sleep_ms, wall_ms
from edge.micro.modbus import ModbusMaster

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ROOT = "/polekit"
_PARITY = {"N": None, "E": 0, "O": 1}


def _wifi(settings: "dict[str, str]") -> "network.WLAN":
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(settings["ssid"], settings["psk"])
        for _ in range(200):
            if wlan.isconnected():
                break
            sleep_ms(100)
    return wlan


def _set_clock() -> None:
    # Readings need Unix time; without NTP they would be stamped in 2000.
    try:
        import ntptime

        ntptime.settime()
    except (ImportError, OSError):
        pass


def _rssi(wlan: "network.WLAN") -> "int | None":
    try:
        return int(wlan.status("rssi"))
    except (OSError, ValueError, TypeError):
        return None


def _tls(mqtt: "dict[str, Any]", root: str) -> "ssl.SSLContext | None":
    """umqtt's ssl argument: None, or a context that checks the broker against the bundle's CA."""
    if not mqtt.get("ssl"):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # stub lacks it
    with open(root + "/" + mqtt["ca"], "rb") as handle:
        context.load_verify_locations(cadata=handle.read())
    return context


def run(root: str = ROOT) -> None:
    """Start the agent from the bundle in `root`; never returns."""
    with open(root + "/bundle.json") as handle:
        bundle = json.load(handle)
    wlan = _wifi(bundle["wifi"])
    _set_clock()
    bus = bundle["bus"]
    uart = machine.UART(
        bus.get("uart", 2),
        baudrate=bus.get("baud", 9600),
        bits=8,
        parity=_PARITY[bus.get("parity", "N")],
        stop=bus.get("stop", 1),
        tx=bus["tx"],
        rx=bus["rx"],
    )
    de = machine.Pin(bus["de"], machine.Pin.OUT) if bus.get("de") is not None else None
    master = ModbusMaster(uart, bus.get("timeout_ms", 300), de)
    mqtt = bundle["mqtt"]
    tls = _tls(mqtt, root)

    def connect() -> MQTTClient:
        return MQTTClient(
            bundle["device_id"],
            mqtt["host"],
            port=mqtt.get("port", 0),
            user=mqtt.get("user"),
            password=mqtt.get("password"),
            keepalive=mqtt.get("keepalive", 60),
            ssl=tls,
        )

    def heap() -> "tuple[int, int]":
        gc.collect()
        return gc.mem_alloc(), gc.mem_free()

    agent = Agent(
        bundle,
        root,
        master,
        connect,
        os.urandom(8).hex(),
        wall_ms,
        heap,
        lambda: _rssi(wlan),
    )
    wdt = machine.WDT(timeout=120000) if bundle.get("watchdog", True) else None

    def sleep(ms: int) -> None:
        if wdt is not None:
            wdt.feed()
        time.sleep_ms(ms)

    agent.run(sleep)
