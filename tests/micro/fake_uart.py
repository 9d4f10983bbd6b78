"""A simulated Modbus RTU device behind a machine.UART-like object, for the micro tests.

It answers reads of holding/input registers and coils from a register map, echoes writes,
and can be told to stay silent, corrupt the CRC or answer with an exception code.
"""

import struct

from edge.micro.crc import crc16


def _with_crc(pdu: bytes) -> bytes:
    crc = crc16(pdu)
    return pdu + bytes((crc & 0xFF, crc >> 8))


class FakeUart:
    """write() takes a request frame; the reply is ready at once for any()/read()."""

    def __init__(self, unit: int = 1) -> None:
        self.unit = unit
        self.registers: dict[tuple[int, int], int] = {}  # (function, address) -> word
        self.coils: dict[int, bool] = {}
        self.pending = b""
        self.requests: list[bytes] = []
        self.silent = False
        self.bad_crc = False
        self.exception: int | None = None
        self.split = 0  # deliver the reply in chunks of this size (0: at once)
        self.forced: bytes | None = None  # reply with these bytes, whatever was asked

    def set_words(self, function: int, address: int, words: list[int]) -> None:
        """Store consecutive 16-bit words."""
        for offset, word in enumerate(words):
            self.registers[(function, address + offset)] = word

    def set_bytes(self, function: int, address: int, raw: bytes) -> None:
        """Store raw big-endian register bytes."""
        words = [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
        self.set_words(function, address, words)

    def any(self) -> int:
        """Bytes waiting."""
        return len(self.pending)

    def read(self, n: int | None = None) -> bytes | None:
        """Up to n waiting bytes (None when there are none, like machine.UART)."""
        if not self.pending:
            return None
        n = len(self.pending) if n is None else n
        if self.split:
            n = min(n, self.split)
        chunk, self.pending = self.pending[:n], self.pending[n:]
        return chunk

    def flush(self) -> None:
        """Transmission done (nothing to wait for here)."""

    def write(self, frame: bytes) -> int:
        """Take one request frame and prepare the reply."""
        frame = bytes(frame)
        self.requests.append(frame)
        if self.silent or frame[0] != self.unit:
            return len(frame)
        if crc16(frame[:-2]) != frame[-2] | frame[-1] << 8:
            return len(frame)  # a real device ignores a corrupt request
        reply = self.forced or self._answer(frame[1], frame[2:-2])
        if self.bad_crc:
            reply = reply[:-1] + bytes((reply[-1] ^ 0xFF,))
        self.pending += reply
        return len(frame)

    def _answer(self, function: int, body: bytes) -> bytes:
        if self.exception is not None:
            return _with_crc(bytes((self.unit, function | 0x80, self.exception)))
        address, count = struct.unpack(">HH", body[:4])
        if function in (3, 4):
            words = [self.registers.get((function, address + i)) for i in range(count)]
            if None in words:
                return _with_crc(bytes((self.unit, function | 0x80, 2)))
            data = b"".join(struct.pack(">H", w) for w in words)
            return _with_crc(bytes((self.unit, function, len(data))) + data)
        if function in (1, 2):
            packed = bytearray((count + 7) // 8)
            for i in range(count):
                if self.coils.get(address + i):
                    packed[i >> 3] |= 1 << (i & 7)
            return _with_crc(bytes((self.unit, function, len(packed))) + bytes(packed))
        if function == 6:
            self.registers[(3, address)] = count
            return _with_crc(bytes((self.unit, function)) + body[:4])
        return _with_crc(bytes((self.unit, function | 0x80, 1)))
