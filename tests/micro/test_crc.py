"""CRC-16/MODBUS against published check values and real frames."""

from edge.micro.crc import crc16


def test_check_value_of_the_catalogue() -> None:
    assert crc16(b"123456789") == 0x4B37  # CRC-16/MODBUS check value


def test_read_request_frame_from_the_modbus_spec() -> None:
    # 01 03 00 00 00 0A is sent as ... C5 CD: low byte first.
    assert crc16(bytes.fromhex("01030000000a")) == 0xCDC5


def test_crc_of_a_frame_with_its_crc_is_zero() -> None:
    frame = bytes.fromhex("010302000a")
    crc = crc16(frame)
    assert crc16(frame + bytes((crc & 0xFF, crc >> 8))) == 0


def test_continues_over_chunks() -> None:
    assert crc16(b"6789", crc16(b"12345")) == crc16(b"123456789")


def test_empty_input_is_the_initial_value() -> None:
    assert crc16(b"") == 0xFFFF
