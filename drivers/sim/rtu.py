"""Modbus RTU on the simulator's side: cut requests from the line, answer for the devices.

Requests are framed by their function code (fixed 8 bytes for 1-6, a byte count for 15
and 16) and the CRC; anything else is skipped a byte at a time until a frame checks.
Every device answers only at its own baud rate, read from the line's termios.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping

from drivers.sdk.checksums import crc16_modbus
from drivers.sdk.datatypes import MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ, RegisterType
from drivers.sdk.errors import DecodeError
from drivers.sim.device import SimExceptionError, SimSilenceError, SimulatedDevice

READ_TABLES = {
    1: RegisterType.COIL,
    2: RegisterType.DISCRETE_INPUT,
    3: RegisterType.HOLDING,
    4: RegisterType.INPUT,
}
ILLEGAL_FUNCTION, ILLEGAL_DATA_VALUE = 1, 3
_MAX_REQUEST = 9 + 246


def request_size(head: bytes) -> int:
    """Size of the request that head (unit, function, ...) starts; DecodeError if unknown."""
    if len(head) < 2:
        raise DecodeError("a request needs at least unit and function code")
    function = head[1]
    if 1 <= function <= 6:
        return 8
    if function in (15, 16):
        if len(head) < 7:
            return 7  # need the byte count first
        return 9 + head[6]
    raise DecodeError(f"function code {function} is not simulated")


def check_request(frame: bytes) -> bytes:
    """frame when it is one whole request with a good CRC; DecodeError otherwise."""
    size = request_size(frame)
    if len(frame) != size or size < 8:
        raise DecodeError(f"request of {len(frame)} bytes, expected {size}")
    if crc16_modbus(frame[:-2]) != frame[-2:]:
        raise DecodeError("request CRC does not match")
    return frame


class RequestReader:
    """Cuts requests from the bytes the master sends, resynchronising on noise."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.discarded = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Whole requests with good CRCs, oldest first."""
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        while len(buf) >= 2:
            try:
                size = request_size(bytes(buf[:7]))
            except DecodeError:
                self._skip()
                continue
            if len(buf) < size:
                break
            frame = bytes(buf[:size])
            if crc16_modbus(frame[:-2]) == frame[-2:]:
                frames.append(frame)
                del buf[:size]
            else:
                self._skip()
        if len(buf) > _MAX_REQUEST:
            self.discarded += len(buf)
            buf.clear()
        return frames

    def _skip(self) -> None:
        self.discarded += 1
        del self._buf[:1]


def _exception(unit: int, function: int, code: int) -> bytes:
    body = bytes([unit, function | 0x80, code])
    return body + crc16_modbus(body)


def _pack_bits(bits: list[int]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _unpack_bits(data: bytes, count: int) -> list[int]:
    return [(data[i // 8] >> (i % 8)) & 1 for i in range(count)]


def answer(device: SimulatedDevice, request: bytes) -> bytes | None:
    """The response frame a device sends to a checked request, or None for silence."""
    unit, function = request[0], request[1]
    try:
        body = _serve(device, function, request)
    except SimSilenceError:
        return None
    except SimExceptionError as exc:
        return _exception(unit, function, exc.code)
    if body is None:
        return _exception(unit, function, ILLEGAL_FUNCTION)
    frame = bytes([unit, function]) + body
    return frame + crc16_modbus(frame)


def _serve(device: SimulatedDevice, function: int, request: bytes) -> bytes | None:
    address, value = struct.unpack(">HH", request[2:6])
    if function in READ_TABLES:
        table = READ_TABLES[function]
        limit = MAX_BITS_PER_READ if table.is_bit else MAX_REGISTERS_PER_READ
        if not 1 <= value <= limit:
            raise SimExceptionError(ILLEGAL_DATA_VALUE)
        values = device.read(table, address, value)
        data = _pack_bits(values) if table.is_bit else struct.pack(f">{len(values)}H", *values)
        return bytes([len(data)]) + data
    if function == 5:
        if value not in (0x0000, 0xFF00):
            raise SimExceptionError(ILLEGAL_DATA_VALUE)
        device.write(RegisterType.COIL, address, [1 if value else 0])
        return request[2:6]
    if function == 6:
        device.write(RegisterType.HOLDING, address, [value])
        return request[2:6]
    if function in (15, 16):
        payload = request[7:-2]
        if function == 15:
            if len(payload) != (value + 7) // 8 or not 1 <= value <= 1968:
                raise SimExceptionError(ILLEGAL_DATA_VALUE)
            device.write(RegisterType.COIL, address, _unpack_bits(payload, value))
        else:
            if len(payload) != 2 * value or not 1 <= value <= 123:
                raise SimExceptionError(ILLEGAL_DATA_VALUE)
            device.write(RegisterType.HOLDING, address, list(struct.unpack(f">{value}H", payload)))
        return request[2:6]
    return None


class RtuResponder:
    """Feeds line bytes through a RequestReader and answers for the devices at their bauds."""

    def __init__(
        self,
        devices: Mapping[int, SimulatedDevice],
        *,
        line_baud: Callable[[], int | None],
        default_baud: int,
        send: Callable[[bytes], None],
    ) -> None:
        self.devices = devices
        self._line_baud = line_baud
        self._default_baud = default_baud
        self._send = send
        self._reader = RequestReader()

    def on_data(self, data: bytes) -> None:
        """Handle what the client wrote (called by the pty reader)."""
        for request in self._reader.feed(data):
            device = self.devices.get(request[0])
            if device is None:
                continue  # nobody at this unit id: the line stays quiet
            if self._line_baud() != (device.baud or self._default_baud):
                device.requests += 1  # heard as noise at the wrong rate: no answer
                continue
            response = answer(device, request)
            if response is not None:
                self._send(response)
