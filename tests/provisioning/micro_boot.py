"""Boot the micro agent's own loader (edge/micro/board.py `run`) on CPython from a flash folder.

machine, network and umqtt.simple are replaced by recorders; the agent is captured when its
loop would start. So a test proves that what provisioning wrote is what the board loads:
Wi-Fi, UART pins, DE, MQTT login and TLS, trust root, compiled drivers, first config.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edge.micro.agent import Agent


class _StartedError(Exception):
    """Raised instead of running the agent's endless loop."""


@dataclass
class Booted:
    """What board.run set up."""

    agent: Agent
    wifi: tuple[str, str]
    uart: dict[str, Any]
    de_pin: int | None
    mqtt: dict[str, Any] = field(default_factory=dict)


def boot(root: Path, monkeypatch: pytest.MonkeyPatch) -> Booted:
    """Run board.run(root) with fake hardware until the agent's loop would start."""
    seen: dict[str, Any] = {"de": None}

    class Wlan:
        def __init__(self, _mode: int) -> None:
            pass

        def active(self, _on: bool) -> None:
            pass

        def isconnected(self) -> bool:
            return "wifi" in seen

        def connect(self, ssid: str, psk: str) -> None:
            seen["wifi"] = (ssid, psk)

        def status(self, _what: str) -> int:
            return -60

    class Pin:
        OUT = 1

        def __init__(self, number: int, _mode: int) -> None:
            seen["de"] = number

    class Client:
        def __init__(self, client_id: str, server: str, **kwargs: Any) -> None:
            seen["mqtt"] = {"client_id": client_id, "server": server, **kwargs}

    def uart(number: int, **kwargs: Any) -> object:
        seen["uart"] = {"id": number, **kwargs}
        return object()

    def run(self: Agent, _sleep: object) -> None:
        seen["agent"] = self
        raise _StartedError

    machine = types.SimpleNamespace(UART=uart, Pin=Pin, WDT=lambda timeout: None)
    network = types.SimpleNamespace(WLAN=Wlan, STA_IF=0)
    umqtt = types.ModuleType("umqtt")
    simple = types.SimpleNamespace(MQTTClient=Client)
    for name, module in (("machine", machine), ("network", network), ("umqtt", umqtt),
                         ("umqtt.simple", simple), ("ntptime", None)):  # fmt: skip
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "edge.micro.board", raising=False)
    monkeypatch.setattr(Agent, "run", run)
    board = importlib.import_module("edge.micro.board")  # after the fakes are in place

    with pytest.raises(_StartedError):
        board.run(str(root))
    agent: Agent = seen["agent"]
    agent.uplink._connect()  # the connect() closure board.run built
    return Booted(
        agent=agent, wifi=seen["wifi"], uart=seen["uart"], de_pin=seen["de"], mqtt=seen["mqtt"]
    )
