"""Transport errors that need no device: missing serial port, refused TCP connection."""

from __future__ import annotations

import socket

import pytest

from drivers.sdk.datatypes import RegisterType
from edge.config_file import parse_config
from edge.transport.modbus import (
    ConnectionFailed,
    ModbusExceptionResponse,
    PortUnavailable,
    RtuTransport,
    TcpTransport,
    transport_for,
)


async def test_missing_serial_port_says_what_to_check() -> None:
    transport = RtuTransport(port="/dev/ttyUSB-polekit-missing", timeout=0.2)
    with pytest.raises(PortUnavailable) as caught:
        await transport.read(1, RegisterType.HOLDING, 0, 1)
    message = str(caught.value)
    assert "/dev/ttyUSB-polekit-missing does not exist" in message
    assert "adapter is plugged" in message


async def test_refused_tcp_connection() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = TcpTransport(host="127.0.0.1", port=port, timeout=0.5)
    with pytest.raises(ConnectionFailed, match=f"tcp://127.0.0.1:{port}"):
        await transport.read(1, RegisterType.HOLDING, 0, 1)


def test_exception_names() -> None:
    exc = ModbusExceptionResponse(2, unit=3, address=16)
    assert str(exc) == "unit 3 answered Modbus exception 2 (illegal data address) at address 16"
    assert not exc.retryable
    assert ModbusExceptionResponse(6, unit=1, address=0).retryable


async def test_transport_for_bus_configs() -> None:
    # pymodbus clients bind to the running loop, so transports are made inside it
    cfg = parse_config(
        """
device_id: pole-1
buses:
  - {name: lan, modbus_tcp: {host: 10.0.0.9, port: 1502}, timeout: 250ms}
  - {name: rs485-1, modbus_rtu: {port: /dev/ttyUSB0, baud: 4800, parity: E}}
  - {name: rs485-2, modbus_rtu: {baud: 9600}}
"""
    )
    tcp = transport_for(cfg.buses[0])
    assert tcp.description == "tcp://10.0.0.9:1502"
    assert tcp.timeout == 0.25
    assert transport_for(cfg.buses[1]).description == "serial /dev/ttyUSB0 4800 8E1"
    assert transport_for(cfg.buses[2], port="/dev/ttyAMA0").description.startswith(
        "serial /dev/ttyAMA0"
    )
    with pytest.raises(PortUnavailable, match="bus rs485-2 has no serial port"):
        transport_for(cfg.buses[2])
