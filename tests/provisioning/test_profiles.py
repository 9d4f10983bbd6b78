"""Board profiles: one config, a different OS device for rs485-1 on each board."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from edge.board import board_ports
from edge.config import AgentConfig, BusConfig, ModbusRtuConfig, ModbusTcpConfig
from hardware.profiles import ProfileError, available_profiles, load_profile

CONFIG = AgentConfig(
    device_id="pole-1",
    buses=[
        BusConfig(name="rs485-1", modbus_rtu=ModbusRtuConfig(baud=9600)),
        BusConfig(name="lan", modbus_tcp=ModbusTcpConfig(host="192.0.2.20")),
    ],
)


@pytest.mark.parametrize(
    ("board", "device"),
    [
        ("rpi4-rs485-hat", "/dev/ttySC0"),
        ("cm4-rs485-hat", "/dev/ttySC0"),
        ("pole-gateway-4p", "/dev/ttyS1"),
        ("esp32-rs485", "uart2"),
    ],
)
def test_the_same_config_resolves_rs485_1_per_board(board: str, device: str) -> None:
    config = msgspec.structs.replace(CONFIG, board=board)
    assert board_ports(config) == {"rs485-1": device}  # the TCP bus needs no port


def test_every_builtin_profile_is_valid_and_declares_direction_control() -> None:
    profiles = available_profiles()
    assert {"rpi4-rs485-hat", "pole-gateway-4p", "esp32-rs485"} <= set(profiles)
    gateway = load_profile("pole-gateway-4p")
    assert [p.direction.gpio for p in gateway.ports] == [17, 18, 27, 22]
    esp32 = load_profile("esp32-rs485").port("rs485-1")
    assert (esp32.direction.mode, esp32.direction.gpio, esp32.pins) == ("gpio", 4, esp32.pins)


def test_a_port_written_in_the_config_wins_over_the_board() -> None:
    bus = BusConfig(name="rs485-1", modbus_rtu=ModbusRtuConfig(port="/dev/ttyUSB0"))
    config = AgentConfig(device_id="pole-1", board="rpi4-rs485-hat", buses=[bus])
    assert board_ports(config) == {}


def test_no_board_means_no_mapping() -> None:
    assert board_ports(CONFIG) == {}


def test_unknown_board_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match=r"unknown board 'rpi9'.*rpi4-rs485-hat"):
        board_ports(msgspec.structs.replace(CONFIG, board="rpi9"))


def test_a_bus_the_board_lacks_names_the_ports_it_has() -> None:
    bus = BusConfig(name="rs485-3", modbus_rtu=ModbusRtuConfig())
    config = AgentConfig(device_id="pole-1", board="rpi4-rs485-hat", buses=[bus])
    with pytest.raises(ProfileError, match=r"no port 'rs485-3'; its ports are rs485-1, rs485-2"):
        board_ports(config)


def test_extra_profile_folders_and_invalid_profiles(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text(
        "name: lab\ndescription: bench\nruntime: linux\nports: [{name: rs485-1, device: /dev/x}]\n"
    )
    config = msgspec.structs.replace(CONFIG, board="lab")
    assert board_ports(config, search=[tmp_path]) == {"rs485-1": "/dev/x"}
    (tmp_path / "bad.yaml").write_text(
        "name: bad\ndescription: x\nruntime: linux\n"
        "ports: [{name: rs485-1, device: /dev/y, direction: {mode: gpio}}]\n"
    )
    with pytest.raises(ProfileError, match="needs the gpio"):
        load_profile("lab", [tmp_path])
