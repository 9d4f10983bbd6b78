"""A small Modbus RTU master over a machine.UART-like object (write, read, any).

Frames carry the CRC low byte first. A response is read until the length its header
announces, or until the timeout; exception responses become ModbusException(code).
"""

import struct

from edge.micro.clock import sleep_ms, ticks_add, ticks_diff, ticks_ms
from edge.micro.crc import crc16

TYPE_CHECKING = False
if TYPE_CHECKING:  # the fakes in the tests have the same methods
    from machine import UART, Pin

READ_COILS = 1
READ_DISCRETE_INPUTS = 2
READ_HOLDING = 3
READ_INPUT = 4
WRITE_SINGLE = 6
WRITE_MULTIPLE = 16
_BIT_FUNCTIONS = (READ_COILS, READ_DISCRETE_INPUTS)


class ModbusError(Exception):
    """A transaction that produced no usable answer."""


class ModbusTimeout(ModbusError):
    """The device did not answer (completely) in time."""


class FrameError(ModbusError):
    """A reply with a bad CRC, the wrong unit or function, or the wrong length."""


class ModbusException(ModbusError):
    """The device answered with a Modbus exception code (2: illegal address, ...)."""

    def __init__(self, code: int) -> None:
        super().__init__("modbus exception " + str(code))
        self.code = code


def frame(pdu: bytes) -> bytes:
    """An RTU frame: unit + PDU + CRC (low byte first)."""
    crc = crc16(pdu)
    return pdu + bytes((crc & 0xFF, crc >> 8))


def read_request(unit: int, function: int, address: int, count: int) -> bytes:
    """The frame of a read (function 1-4) of count items from address."""
    return frame(struct.pack(">BBHH", unit, function, address, count))


def write_request(unit: int, address: int, value: int) -> bytes:
    """The frame of a write of one holding register (function 6)."""
    return frame(struct.pack(">BBHH", unit, WRITE_SINGLE, address, value))


def data_bytes(function: int, count: int) -> int:
    """Bytes of data a read response carries."""
    return (count + 7) // 8 if function in _BIT_FUNCTIONS else count * 2


def check_reply(unit: int, function: int, reply: "bytes | bytearray") -> bytes:
    """The PDU of a complete reply (without unit and CRC); raises FrameError/ModbusException."""
    if len(reply) < 5:
        raise FrameError("short reply")
    if crc16(reply[:-2]) != reply[-2] | reply[-1] << 8:
        raise FrameError("bad CRC")
    if reply[0] != unit:
        raise FrameError("reply from unit " + str(reply[0]))
    if reply[1] == function | 0x80:
        raise ModbusException(reply[2])
    if reply[1] != function:
        raise FrameError("reply to function " + str(reply[1]))
    return bytes(reply[1:-2])


def expected_length(function: int, head: "bytes | bytearray") -> int:
    """Total reply length once the first three bytes are known."""
    if head[1] & 0x80:
        return 5
    if function in (WRITE_SINGLE, WRITE_MULTIPLE):
        return 8
    return 5 + head[2]


class ModbusMaster:
    """One RS-485 bus: one transaction at a time (the bus is half-duplex)."""

    def __init__(self, uart: "UART", timeout_ms: int = 300, direction: "Pin | None" = None) -> None:
        self._uart = uart
        self._timeout = timeout_ms
        self._direction = direction  # an RS-485 DE pin (machine.Pin) or None
        self.requests = 0
        self.failures = 0

    def read(self, unit: int, function: int, address: int, count: int) -> bytes:
        """Raw data of one read: register bytes (big-endian words) or packed bits."""
        pdu = self._transact(unit, function, read_request(unit, function, address, count))
        if pdu[1] != data_bytes(function, count) or len(pdu) != 2 + pdu[1]:
            self.failures += 1
            raise FrameError("reply carries " + str(pdu[1]) + " data bytes")
        return pdu[2:]

    def write_register(self, unit: int, address: int, value: int) -> None:
        """Write one holding register; the device echoes the request."""
        request = write_request(unit, address, value)
        pdu = self._transact(unit, WRITE_SINGLE, request)
        if pdu != request[1:-2]:
            self.failures += 1
            raise FrameError("write not echoed")

    def _transact(self, unit: int, function: int, request: bytes) -> bytes:
        uart = self._uart
        self.requests += 1
        while uart.any():
            uart.read()  # stale bytes from a late reply
        direction = self._direction
        if direction is not None:
            direction.value(1)
        uart.write(request)
        if direction is not None:
            uart.flush()  # wait until the last bit is out
            direction.value(0)
        try:
            return check_reply(unit, function, self._receive(function))
        except ModbusError:
            self.failures += 1
            raise

    def _receive(self, function: int) -> bytearray:
        uart = self._uart
        reply = bytearray()
        wanted = 3
        deadline = ticks_add(ticks_ms(), self._timeout)
        while len(reply) < wanted:
            waiting = uart.any()
            if waiting:
                chunk = uart.read(min(waiting, wanted - len(reply)))
                if chunk:
                    reply.extend(chunk)
                if len(reply) >= 3 and wanted == 3:
                    wanted = expected_length(function, reply)
            elif ticks_diff(deadline, ticks_ms()) <= 0:
                raise ModbusTimeout("no complete reply in " + str(self._timeout) + " ms")
            else:
                sleep_ms(1)
        return reply
