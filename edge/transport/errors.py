"""Typed transport errors shared by the Modbus and the plain serial transports."""

from __future__ import annotations

import os

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class TransportError(Exception):
    """A Modbus request failed; the subclass says how."""


class DeviceTimeout(TransportError):  # noqa: N818  # names read as events
    """The device did not answer in time (absent, wrong unit id, wiring, baud rate)."""


class ModbusExceptionResponse(TransportError):  # noqa: N818  # names read as events
    """The device answered with a Modbus exception code."""

    def __init__(self, code: int, *, unit: int, address: int) -> None:
        self.code = code
        self.name = EXCEPTION_NAMES.get(code, "unknown exception")
        super().__init__(
            f"unit {unit} answered Modbus exception {code} ({self.name}) at address {address}"
        )

    @property
    def retryable(self) -> bool:
        """Busy and acknowledge mean "ask again later"; the others will not change."""
        return self.code in (5, 6)


class PortUnavailable(TransportError):  # noqa: N818  # names read as events
    """The serial port cannot be opened."""


class ConnectionFailed(TransportError):  # noqa: N818  # names read as events
    """The TCP connection cannot be established or was lost."""


def serial_port_problem(port: str) -> str:
    """Explain why a serial port cannot be opened, naming the port and what to check."""
    if not os.path.exists(port):
        return (
            f"serial port {port} does not exist: check that the USB-RS485 adapter is plugged "
            "in, the port name (ls /dev/ttyUSB* /dev/ttyACM* /dev/ttyAMA*) and the board "
            "profile's port mapping"
        )
    if not os.access(port, os.R_OK | os.W_OK):
        return (
            f"serial port {port} is not readable and writable by this user: add the user "
            "to the dialout group or fix the udev rule"
        )
    return (
        f"serial port {port} cannot be opened: another program may hold it "
        "(lsof / fuser), or the adapter was unplugged"
    )


def resolve_serial_device(bus: str, section: str, configured: str | None, board: str | None) -> str:
    """The OS device of a serial bus: the board profile's, else the config's; else say how."""
    device = board or configured
    if device is None:
        raise PortUnavailable(
            f"bus {bus} has no serial port: set {section}.port or choose a board profile"
        )
    return device
