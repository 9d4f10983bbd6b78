"""The Modbus RTU master against the simulated device: framing, timeouts, exceptions."""

import struct

from edge.micro import modbus
from edge.micro.modbus import (
    FrameError,
    ModbusException,
    ModbusMaster,
    ModbusTimeout,
    check_reply,
    frame,
    read_request,
)
from tests.micro.fake_uart import FakeUart
from tests.micro.support import raises


def test_read_request_bytes() -> None:
    assert read_request(1, 3, 0, 10) == bytes.fromhex("01030000000ac5cd")
    assert read_request(17, 4, 0x0156, 2) == frame(bytes.fromhex("110401560002"))


def test_reads_holding_registers() -> None:
    uart = FakeUart(unit=2)
    uart.set_words(3, 0, [551, 223, 580])
    master = ModbusMaster(uart, timeout_ms=50)
    assert master.read(2, 3, 0, 3) == struct.pack(">HHH", 551, 223, 580)
    assert uart.requests == [read_request(2, 3, 0, 3)]


def test_reply_in_chunks_is_reassembled() -> None:
    uart = FakeUart()
    uart.set_words(4, 0x46, [0x4248, 0x0000])
    uart.split = 2
    assert ModbusMaster(uart, timeout_ms=50).read(1, 4, 0x46, 2) == bytes.fromhex("42480000")


def test_reads_coils_as_packed_bits() -> None:
    uart = FakeUart()
    uart.coils = {0: True, 2: True, 9: True}
    data = ModbusMaster(uart, timeout_ms=50).read(1, 1, 0, 10)
    assert data == bytes((0b101, 0b10))


def test_exception_response_raises_with_its_code() -> None:
    uart = FakeUart()
    uart.exception = 2
    master = ModbusMaster(uart, timeout_ms=50)
    exc = raises(ModbusException, master.read, 1, 3, 0, 1)
    assert exc.code == 2  # type: ignore[attr-defined]
    assert master.failures == 1


def test_unmapped_register_is_illegal_address() -> None:
    exc = raises(ModbusException, ModbusMaster(FakeUart(), timeout_ms=50).read, 1, 3, 100, 1)
    assert exc.code == 2  # type: ignore[attr-defined]


def test_silent_device_times_out() -> None:
    uart = FakeUart()
    uart.silent = True
    raises(ModbusTimeout, ModbusMaster(uart, timeout_ms=20).read, 1, 3, 0, 1)


def test_other_unit_does_not_answer() -> None:
    uart = FakeUart(unit=5)
    uart.set_words(3, 0, [1])
    raises(ModbusTimeout, ModbusMaster(uart, timeout_ms=20).read, 1, 3, 0, 1)


def test_corrupt_crc_is_a_frame_error() -> None:
    uart = FakeUart()
    uart.set_words(3, 0, [1])
    uart.bad_crc = True
    raises(FrameError, ModbusMaster(uart, timeout_ms=50).read, 1, 3, 0, 1)


def test_stale_bytes_are_discarded_before_a_request() -> None:
    uart = FakeUart()
    uart.set_words(3, 0, [7])
    uart.pending = b"\x01\x03\x02\x00"  # the tail of a reply that came too late
    assert ModbusMaster(uart, timeout_ms=50).read(1, 3, 0, 1) == b"\x00\x07"


def test_check_reply_rejects_wrong_unit_function_and_short_frames() -> None:
    good = frame(bytes.fromhex("0103020007"))
    assert check_reply(1, 3, good) == bytes.fromhex("03020007")
    raises(FrameError, check_reply, 2, 3, good)
    raises(FrameError, check_reply, 1, 4, good)
    raises(FrameError, check_reply, 1, 3, good[:4])


def test_wrong_byte_count_is_a_frame_error() -> None:
    uart = FakeUart()
    # Asked for 1 register, the device answers with 2: the reply must be refused.
    uart.forced = frame(bytes.fromhex("01030400010002"))
    raises(FrameError, ModbusMaster(uart, timeout_ms=50).read, 1, 3, 0, 1)


def test_write_single_register_is_echoed() -> None:
    uart = FakeUart()
    ModbusMaster(uart, timeout_ms=50).write_register(1, 0x07D0, 9)
    assert uart.registers[(3, 0x07D0)] == 9
    assert uart.requests[-1] == modbus.write_request(1, 0x07D0, 9)


def test_direction_pin_is_high_only_while_sending() -> None:
    class Pin:
        def __init__(self) -> None:
            self.levels: list[int] = []

        def value(self, level: int) -> None:
            self.levels.append(level)

    uart = FakeUart()
    uart.set_words(3, 0, [1])
    pin = Pin()
    ModbusMaster(uart, timeout_ms=50, direction=pin).read(1, 3, 0, 1)  # type: ignore[arg-type]
    assert pin.levels == [1, 0]
