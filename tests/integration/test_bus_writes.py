"""Writes through the agent's transports: coils and registers, over TCP and RTU on a pty."""

from __future__ import annotations

import pytest

from drivers.registry import load_driver
from drivers.sdk.codec import encode_value
from drivers.sdk.datatypes import RegisterType
from drivers.sim.server import DeviceSpec, Simulator
from edge.transport.modbus import (
    ModbusExceptionResponse,
    ModbusTransport,
    RtuTransport,
    TcpTransport,
)


def client(sim: Simulator, transport: str) -> ModbusTransport:
    if transport == "tcp":
        assert sim.port is not None
        return TcpTransport(host="127.0.0.1", port=sim.port, timeout=1.0)
    assert sim.pty_path is not None
    return RtuTransport(port=sim.pty_path, baud=9600, timeout=1.0)


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
async def test_switch_dim_and_reset_a_street_light(transport: str) -> None:
    spec = DeviceSpec.parse("streetlight_dimmer:3")
    async with Simulator.for_specs([spec], tcp_port=0 if transport == "tcp" else None,
                                   pty=transport == "rtu") as sim:  # fmt: skip
        device = sim.device(3)
        device.set_value("lamp_failure", True)
        bus = client(sim, transport)
        dim = load_driver("streetlight_dimmer").writable["dim"]
        await bus.write_registers(3, dim.address, encode_value(dim.field, 35))
        assert await bus.read(3, RegisterType.HOLDING, 0, 1) == b"\x00\x23"
        await bus.write_coil(3, 0, False)
        assert await bus.read(3, RegisterType.COIL, 0, 1) == b"\x00"
        assert await bus.read(3, RegisterType.INPUT, 8, 1) == b"\x00\x01"
        await bus.write_coil(3, 1, True)  # reset_faults clears the latched flags
        assert await bus.read(3, RegisterType.INPUT, 8, 1) == b"\x00\x00"
        with pytest.raises(ModbusExceptionResponse, match="exception 2"):
            await bus.write_registers(3, 0x0100, b"\x00\x01")  # outside the map
        await bus.close()
