"""Cut a serial byte stream into checked frames: start bytes, length, checksum, resync.

Serial sensors send binary frames (a start marker, a length or a fixed size, a checksum)
or text lines (NMEA's `$...*hh\r\n`). A reader is fed whatever bytes arrived and returns
the whole, valid frames among them; garbage and broken frames are skipped by scanning for
the next start marker, and counted. `FrameFormat.check` validates one frame on its own and
raises DecodeError, the SDK's error for bad data, for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from drivers.sdk.checksums import CHECKSUMS
from drivers.sdk.errors import DecodeError


class Framer(Protocol):
    """What the agent feeds a serial driver's bytes into."""

    discarded: int
    """Bytes skipped while looking for a frame (noise, partial or corrupt frames)."""
    bad_frames: int
    """Frames that had a start marker but a wrong length or checksum."""

    def feed(self, data: bytes) -> list[bytes]:
        """Whole, valid frames completed by data, oldest first; never raises."""
        ...

    def reset(self) -> None:
        """Forget a partial frame (after a timeout or a port reopen)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class LengthField:
    """Where a frame says how long it is: total size = value + adjust."""

    offset: int
    """Byte offset of the field from the first start byte."""
    size: Literal[1, 2] = 1
    byteorder: Literal["big", "little"] = "big"
    adjust: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class FrameFormat:
    """A binary frame: start bytes, then a fixed size or a length field, then a checksum."""

    start: bytes
    size: int | None = None
    """Fixed frame size in bytes (start and checksum included), when there is no length."""
    length: LengthField | None = None
    checksum: str | None = None
    """A name from drivers.sdk.checksums.CHECKSUMS; the checksum ends the frame."""
    checksum_from: int = 0
    """First byte the checksum covers (0 = the first start byte); it covers up to itself."""
    max_size: int = 256

    def __post_init__(self) -> None:
        if not self.start:
            raise ValueError("a frame format needs at least one start byte")
        if (self.size is None) == (self.length is None):
            raise ValueError("a frame format has exactly one of size or length")
        if self.checksum is not None and self.checksum not in CHECKSUMS:
            raise ValueError(f"unknown checksum {self.checksum!r}; known: {sorted(CHECKSUMS)}")

    @property
    def checksum_size(self) -> int:
        """Bytes of checksum at the end of a frame."""
        return CHECKSUMS[self.checksum][1] if self.checksum else 0

    @property
    def header_size(self) -> int:
        """Bytes needed before the frame's size is known."""
        if self.length is None:
            return len(self.start)
        return max(len(self.start), self.length.offset + self.length.size)

    def frame_size(self, head: bytes) -> int:
        """Total size of the frame that head (at least header_size bytes) starts."""
        if self.length is None:
            assert self.size is not None  # __post_init__ guarantees one of the two
            return self.size
        field = head[self.length.offset : self.length.offset + self.length.size]
        return int.from_bytes(field, self.length.byteorder) + self.length.adjust

    def _size_ok(self, size: int) -> bool:
        return self.header_size + self.checksum_size <= size <= self.max_size

    def check(self, frame: bytes) -> bytes:
        """The frame itself when it is exactly one valid frame; DecodeError otherwise."""
        if not frame.startswith(self.start):
            raise DecodeError(f"frame does not start with {self.start.hex()}")
        if len(frame) < self.header_size:
            raise DecodeError(f"frame of {len(frame)} bytes is too short for its header")
        size = self.frame_size(frame)
        if not self._size_ok(size):
            raise DecodeError(f"frame claims {size} bytes, outside what this format allows")
        if len(frame) != size:
            raise DecodeError(f"frame is {len(frame)} bytes, its header says {size}")
        if not self.checksum_ok(frame):
            raise DecodeError("frame checksum does not match")
        return frame

    def checksum_ok(self, frame: bytes) -> bool:
        """The checksum at the end of frame matches its covered bytes."""
        if self.checksum is None:
            return True
        compute, width = CHECKSUMS[self.checksum]
        return compute(frame[self.checksum_from : -width]) == frame[-width:]

    def seal(self, body: bytes) -> bytes:
        """Append the checksum to a frame without one (simulators and requests build frames)."""
        if self.checksum is None:
            return body
        compute, _ = CHECKSUMS[self.checksum]
        return body + compute(body[self.checksum_from :])


class FrameReader:
    """Stateful reader of one FrameFormat over a byte stream."""

    def __init__(self, frame_format: FrameFormat) -> None:
        self.format = frame_format
        self._buf = bytearray()
        self.discarded = 0
        self.bad_frames = 0

    def reset(self) -> None:
        """Drop a partial frame."""
        self.discarded += len(self._buf)
        self._buf.clear()

    def feed(self, data: bytes) -> list[bytes]:
        """Whole, valid frames completed by data; garbage is skipped and counted."""
        buf, fmt = self._buf, self.format
        buf += data
        frames: list[bytes] = []
        while buf:
            at = buf.find(fmt.start)
            if at < 0:
                # keep a tail that may be the beginning of a split start marker
                keep = _partial_start(buf, fmt.start)
                self.discarded += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if at:
                self.discarded += at
                del buf[:at]
            if len(buf) < fmt.header_size:
                break
            size = fmt.frame_size(bytes(buf[: fmt.header_size]))
            if not fmt._size_ok(size):
                self._skip_start()
                continue
            if len(buf) < size:
                break
            frame = bytes(buf[:size])
            if fmt.checksum_ok(frame):
                frames.append(frame)
                del buf[:size]
            else:
                self._skip_start()
        if len(buf) > 4 * fmt.max_size:  # cannot happen with a sane format; bound memory anyway
            self.reset()
        return frames

    def _skip_start(self) -> None:
        self.bad_frames += 1
        self.discarded += 1
        del self._buf[:1]


class LineReader:
    """Text lines such as NMEA 0183: from a start character to a terminator, bounded."""

    def __init__(self, *, start: bytes = b"$", end: bytes = b"\r\n", max_size: int = 128) -> None:
        if not start or not end:
            raise ValueError("a line needs a start and an end marker")
        self.start, self.end, self.max_size = start, end, max_size
        self._buf = bytearray()
        self.discarded = 0
        self.bad_frames = 0

    def reset(self) -> None:
        """Drop a partial line."""
        self.discarded += len(self._buf)
        self._buf.clear()

    def feed(self, data: bytes) -> list[bytes]:
        """Whole lines (start and terminator included) completed by data."""
        buf = self._buf
        buf += data
        lines: list[bytes] = []
        while buf:
            at = buf.find(self.start)
            if at < 0:
                self.discarded += len(buf)
                buf.clear()
                break
            if at:
                self.discarded += at
                del buf[:at]
            end = buf.find(self.end, len(self.start))
            restart = buf.find(self.start, len(self.start))
            if restart >= 0 and (end < 0 or restart < end):
                # a new start before this line ended: the line was cut short, resync there
                self.bad_frames += 1
                self.discarded += restart
                del buf[:restart]
                continue
            if end < 0:
                if len(buf) > self.max_size:
                    self.bad_frames += 1
                    self.discarded += len(buf)
                    buf.clear()
                break
            size = end + len(self.end)
            if size > self.max_size:
                self.bad_frames += 1
                self.discarded += size
            else:
                lines.append(bytes(buf[:size]))
            del buf[:size]
        return lines


def _partial_start(buf: bytearray, start: bytes) -> int:
    """Length of the longest suffix of buf that is a proper prefix of start."""
    for keep in range(min(len(start) - 1, len(buf)), 0, -1):
        if buf.endswith(start[:keep]):
            return keep
    return 0
