"""Plantower PMS5003 frames: 0x42 0x4D, length 28, thirteen u16 words, sum-of-bytes checksum."""

from __future__ import annotations

import struct
from collections.abc import Mapping

from drivers.sdk.errors import DecodeError
from drivers.sdk.framing import FrameFormat, FrameReader, LengthField
from drivers.sdk.serial import SerialProtocol, Value

FORMAT = FrameFormat(
    start=b"\x42\x4d",
    length=LengthField(offset=2, size=2, adjust=4),  # the length counts what follows it
    checksum="sum16_be",
    max_size=32,
)
WORDS = (
    "pm1_0_cf1", "pm2_5_cf1", "pm10_cf1", "pm1_0", "pm2_5", "pm10",
    "n0_3", "n0_5", "n1_0", "n2_5", "n5_0", "n10",
)  # fmt: skip
_DATA = struct.Struct(">13H")


class Pms5003(SerialProtocol):
    """Active-mode stream: one 32-byte frame about every second."""

    mode = "stream"

    def framer(self) -> FrameReader:
        """Frames start at 0x42 0x4D; the checksum rejects the rest."""
        return FrameReader(FORMAT)

    def decode(self, frame: bytes) -> dict[str, Value]:
        """The twelve values of one frame (the thirteenth word is reserved)."""
        FORMAT.check(frame)
        if len(frame) != 32:
            raise DecodeError(f"a PMS5003 frame is 32 bytes, got {len(frame)}")
        words = _DATA.unpack_from(frame, 4)
        return dict(zip(WORDS, words[:12], strict=True))

    def encode(self, values: Mapping[str, Value], *, unit: int) -> list[bytes]:
        """One frame carrying values (rounded to whole numbers, as the sensor reports)."""
        words = [max(0, min(0xFFFF, round(float(values.get(n, 0))))) for n in WORDS]
        body = b"\x42\x4d" + struct.pack(">H", 28) + _DATA.pack(*words, 0)
        return [FORMAT.seal(body)]
