"""Serial framing: exact bytes in and out, and hypothesis fuzzing of every frame parser.

Whatever arrives on a UART, a reader returns only valid frames and a parser raises only
DriverError (the SDK's one error type) for bad input.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.registry import load_driver
from drivers.sdk.checksums import crc16_modbus, sum8_complement, sum16_be, xor8
from drivers.sdk.errors import DecodeError, DriverError
from drivers.sdk.framing import FrameFormat, FrameReader, LengthField, LineReader
from drivers.sim.rtu import RequestReader, check_request

PMS = load_driver("plantower_pms5003").new_protocol()
NMEA = load_driver("nmea_gnss").new_protocol()
PMS_FRAME = bytes.fromhex("424d001c000d00250034000c00230030145b05da012d001a000600020000030e")
GGA = b"$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76\r\n"
FORMAT = FrameFormat(start=b"\xaa\x55", length=LengthField(offset=2), checksum="crc16_modbus")


@pytest.mark.parametrize(
    ("checksum", "data", "wire"),
    [
        (crc16_modbus, "01030000000a", "c5cd"),  # Modbus RTU: read 10 holding registers
        (crc16_modbus, "010400000002", "71cb"),  # SDM120: read voltage (input 0, 2 regs)
        (sum16_be, PMS_FRAME[:-2].hex(), "030e"),  # 0x42 + 0x4d + ... by hand
        (xor8, b"GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,".hex(), "76"),
        (sum8_complement, "0186000000000000", "79"),  # MH-Z19 "read CO2": FF 01 86 .. 79
    ],
)
def test_checksums(checksum: object, data: str, wire: str) -> None:
    assert checksum(bytes.fromhex(data)).hex() == wire  # type: ignore[operator]


def test_pms5003_frame_decodes_to_the_datasheet_words() -> None:
    values = PMS.decode(PMS_FRAME)
    assert values["pm2_5"] == 35
    assert values["pm10"] == 48
    assert values["n0_3"] == 5211
    assert PMS.encode(values, unit=1) == [PMS_FRAME]


def test_nmea_gga_of_the_reference_sentence() -> None:
    values = NMEA.decode(GGA)
    assert values["latitude"] == pytest.approx(53.361337, abs=1e-6)
    assert values["longitude"] == pytest.approx(-6.50562, abs=1e-6)
    assert values["fix_quality"] == "gps"
    assert values["satellites"] == 8


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (PMS_FRAME[:-1] + b"\x00", "checksum"),
        (PMS_FRAME[:20], "header says 32"),
        (b"\x42\x4d\xff\xff" + PMS_FRAME[4:], "outside what this format allows"),
        (b"BM", "too short"),
        (b"XX" + PMS_FRAME[2:], "does not start"),
    ],
)
def test_pms5003_bad_frames(frame: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        PMS.decode(frame)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (GGA.replace(b"*76", b"*77"), "checksum does not match"),
        (GGA[:-2], "CR LF"),
        (GGA.replace(b"*76", b"*7G"), "two hex digits"),
        (b"$GPGGA,1,2*00\r\n", "checksum"),
    ],
)
def test_nmea_bad_sentences(line: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        NMEA.decode(line)


def test_reader_resynchronises_on_garbage_and_broken_frames() -> None:
    reader = FrameReader(PMS.framer().format)  # type: ignore[attr-defined]
    broken = bytearray(PMS_FRAME)
    broken[9] ^= 1
    stream = b"\x00\x42\x4d\x42" + bytes(broken) + PMS_FRAME[:10] + PMS_FRAME
    frames = [f for i in range(0, len(stream), 7) for f in reader.feed(stream[i : i + 7])]
    assert frames == [PMS_FRAME]
    assert reader.bad_frames >= 2


def test_line_reader_splits_lines_and_drops_cut_ones() -> None:
    reader = LineReader(max_size=90)
    assert reader.feed(b"junk$GPGGA,cut off$GPRMC,x*00\r\n$GP") == [b"$GPRMC,x*00\r\n"]
    assert reader.bad_frames == 1
    assert reader.feed(b"ZDA,1*00\r\n") == [b"$GPZDA,1*00\r\n"]
    assert reader.feed(b"$" + b"A" * 100) == []
    assert reader.bad_frames == 2


def test_rtu_request_reader_cuts_requests() -> None:
    read = bytes.fromhex("01030000000ac5cd")
    body = bytes.fromhex("01100001000204000a0102")
    write = body + crc16_modbus(body)
    reader = RequestReader()
    assert reader.feed(b"\xff" + read[:5]) == []
    assert reader.feed(read[5:] + write) == [read, write]
    assert reader.discarded == 1
    with pytest.raises(DecodeError, match="CRC"):
        check_request(read[:-1] + b"\x00")


# -- fuzzing ---------------------------------------------------------------------------------

chunks = st.lists(st.binary(max_size=40), max_size=12)


@given(chunks)
def test_frame_reader_never_raises_and_only_returns_valid_frames(parts: list[bytes]) -> None:
    reader = FrameReader(FORMAT)
    for part in parts:
        for frame in reader.feed(part):
            assert FORMAT.check(frame) == frame


@given(garbage=st.binary(max_size=60), payload=st.binary(max_size=20), split=st.integers(1, 9))
def test_a_valid_frame_after_garbage_is_always_found(
    garbage: bytes, payload: bytes, split: int
) -> None:
    frame = FORMAT.seal(b"\xaa\x55" + bytes([len(payload) + 5]) + payload)
    reader = FrameReader(FORMAT)
    stream = garbage + frame
    frames = [f for i in range(0, len(stream), split) for f in reader.feed(stream[i : i + split])]
    assert frames[-1:] == [frame]


@given(st.binary(max_size=80))
def test_frame_check_raises_only_decode_errors(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        FORMAT.check(data)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda i, b: PMS_FRAME[:i] + bytes([b]) + PMS_FRAME[i + 1 :],
            st.integers(0, 31),
            st.integers(0, 255),
        ),
    )
)
def test_pms5003_decode_raises_only_driver_errors(frame: bytes) -> None:
    try:
        values = PMS.decode(frame)
    except DriverError:
        return
    assert set(values) <= set(load_driver("plantower_pms5003").channels)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=100),
        st.text(max_size=90).map(lambda t: t.encode("utf-8", "replace")),
        st.builds(
            lambda i, b: GGA[:i] + bytes([b]) + GGA[i + 1 :],
            st.integers(0, len(GGA) - 1),
            st.integers(0, 255),
        ),
        st.lists(st.text("0123456789.,NSEWAV-", max_size=12), min_size=1, max_size=16).map(
            lambda fields: _sentence("GPGGA," + ",".join(fields))
        ),
        st.lists(st.text("0123456789.,NSEWAV-", max_size=12), min_size=1, max_size=16).map(
            lambda fields: _sentence("GNRMC," + ",".join(fields))
        ),
    )
)
def test_nmea_decode_raises_only_driver_errors(line: bytes) -> None:
    with contextlib.suppress(DriverError):
        NMEA.decode(line)


def _sentence(body: str) -> bytes:
    raw = body.encode()
    return b"$" + raw + b"*" + xor8(raw).hex().upper().encode() + b"\r\n"


@given(chunks)
def test_line_reader_never_raises(parts: list[bytes]) -> None:
    reader = LineReader(max_size=82)
    for part in parts:
        for line in reader.feed(part):
            assert line.startswith(b"$")
            assert line.endswith(b"\r\n")
            assert len(line) <= 82


@given(chunks)
def test_rtu_request_reader_never_raises(parts: list[bytes]) -> None:
    reader = RequestReader()
    for part in parts:
        for request in reader.feed(part):
            assert check_request(request) == request


@given(st.binary(max_size=300))
def test_rtu_check_request_raises_only_decode_errors(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        check_request(data)
