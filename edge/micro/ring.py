"""The store-and-forward buffer: a bounded ring file on flash, written in batches.

The file is `slots` fixed slots of `slot_size` bytes; a record (header, payload, CRC) takes
as many consecutive slots as it needs and may wrap past the end. Flash wears out, so new
batches are staged in RAM and written together once `flush_bytes` have gathered or the
oldest waited `flush_interval_ms`; a batch acked before that never touches flash at all.
When the ring is full the oldest record is overwritten, its readings counted in
dropped_buffer_full unless acked. The counter of the oldest unacked record is saved next to
the ring, so a reboot resends only what may not have arrived (the fleet drops duplicates).
"""

import struct

from edge.micro.accounting import Counts
from edge.micro.crc import crc16

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAGIC = b"PK"
_HEADER = ">2sBBIHHQ8s"  # magic, format, slots, counter, length, readings, seq, boot id
HEADER_SIZE = struct.calcsize(_HEADER) + 2  # + header CRC
UNSENT = 0
INFLIGHT = 1
ACKED = 2


class Entry:
    """One batch: staged in RAM (payload set) or on flash (slot set)."""

    def __init__(self, boot_id: str, seq: int, readings: int, payload: "bytes | None") -> None:
        self.boot_id = boot_id
        self.seq = seq
        self.readings = readings
        self.payload = payload
        self.length = 0 if payload is None else len(payload)
        self.state = UNSENT
        self.on_flash = False
        self.slot = 0
        self.slots = 0
        self.counter = 0
        self.sent_at = 0


class Ring:
    """Batches waiting for the fleet's ack, oldest first."""

    def __init__(
        self,
        path: str,
        counts: Counts,
        slots: int = 128,
        slot_size: int = 512,
        flush_bytes: int = 4096,
        flush_interval_ms: int = 60000,
    ) -> None:
        if slots < 2 or slots > 255 or slot_size < HEADER_SIZE + 2:
            raise ValueError("a ring needs 2-255 slots of at least 32 bytes")
        self.path = path
        self.counts = counts
        self.slots = slots
        self.slot_size = slot_size
        self.flush_bytes = flush_bytes
        self.flush_interval_ms = flush_interval_ms
        self.entries: "list[Entry]" = []
        self.head = 0
        self.counter = 0
        self.staged_bytes = 0
        self.staged_since = -1
        self.flash_writes = 0
        self._saved_tail = -1
        self._open_or_create()

    # ------------------------------------------------------------------ writing

    def append(self, payload: bytes, boot_id: str, seq: int, readings: int) -> None:
        """Stage one encoded batch; flushes when enough bytes have gathered."""
        if len(boot_id) != 16:
            raise ValueError("the ring stores 16-hex-digit boot ids")
        if self._slots_for(len(payload)) > self.slots:
            self.counts.dropped_buffer_full += readings  # larger than the whole ring
            return
        if self.staged_bytes == 0 and self._tail() == self._saved_tail:
            self.staged_since = -1  # set by maybe_flush's first look
        self.entries.append(Entry(boot_id, seq, readings, payload))
        self.staged_bytes += len(payload)
        if self.staged_bytes >= self.flush_bytes:
            self.flush()

    def maybe_flush(self, now: int) -> None:
        """Flush once the oldest staged batch (or an unsaved ack) waited flush_interval_ms."""
        if not self.staged_bytes and self._tail() == self._saved_tail:
            return
        if self.staged_since < 0:
            self.staged_since = now
        elif now - self.staged_since >= self.flush_interval_ms or now < self.staged_since:
            self.flush()

    def flush(self) -> None:
        """Write every staged batch to flash in one go, overwriting the oldest when full."""
        staged = [entry for entry in self.entries if not entry.on_flash]
        if staged:
            with open(self.path, "r+b") as handle:
                for entry in staged:
                    self._write(handle, entry)
            self.flash_writes += 1
        self.staged_bytes = 0
        self.staged_since = -1
        self._save_tail()

    def _write(self, handle: "Any", entry: Entry) -> None:
        need = self._slots_for(entry.length)
        while self.slots - self.used() < need:
            self._evict_oldest()
        payload = entry.payload
        assert payload is not None
        head = struct.pack(
            _HEADER,
            MAGIC,
            1,
            need,
            self.counter,
            entry.length,
            entry.readings,
            entry.seq,
            bytes.fromhex(entry.boot_id),
        )
        crc = crc16(head)
        head += bytes((crc & 0xFF, crc >> 8))
        crc = crc16(payload)
        start = self.head * self.slot_size
        position = self._write_at(handle, start, head)
        position = self._write_at(handle, position, payload)
        self._write_at(handle, position, bytes((crc & 0xFF, crc >> 8)))
        entry.slot = self.head
        entry.slots = need
        entry.counter = self.counter
        entry.on_flash = True
        entry.payload = None  # RAM is scarcer than flash reads
        self.counter += 1
        self.head = (self.head + need) % self.slots

    def _write_at(self, handle: "Any", position: int, data: bytes) -> int:
        size = self.slots * self.slot_size
        first = min(len(data), size - position)
        handle.seek(position)
        handle.write(data[:first] if first < len(data) else data)
        if first < len(data):
            handle.seek(0)
            handle.write(data[first:])
            return len(data) - first
        return (position + first) % size

    def _evict_oldest(self) -> None:
        entry = self.entries.pop(0)
        if entry.state != ACKED:
            self.counts.dropped_buffer_full += entry.readings

    def _slots_for(self, length: int) -> int:
        return (HEADER_SIZE + length + 2 + self.slot_size - 1) // self.slot_size

    def used(self) -> int:
        """Slots between the oldest record on flash and the head."""
        for entry in self.entries:
            if entry.on_flash:
                return (self.head - entry.slot) % self.slots or self.slots
            break
        return 0

    # ------------------------------------------------------------------ reading and acks

    def take_unsent(self, limit: int, now: int) -> "list[tuple[Entry, bytes]]":
        """Up to `limit` unsent batches with payloads, oldest and newest in turn; now in flight."""
        unsent = [entry for entry in self.entries if entry.state == UNSENT]
        picked: "list[tuple[Entry, bytes]]" = []
        front = True
        while unsent and len(picked) < limit:
            entry = unsent.pop(0 if front else -1)
            front = not front
            payload = entry.payload if entry.payload is not None else self._load(entry)
            if payload is None:
                # Flash corruption: the batch is gone; count it rather than lose it silently.
                self.entries.remove(entry)
                self.counts.dropped_buffer_full += entry.readings
                continue
            entry.state = INFLIGHT
            entry.sent_at = now
            picked.append((entry, payload))
        return picked

    def _load(self, entry: Entry) -> "bytes | None":
        """The payload of a record on flash, or None if its CRC does not match."""
        with open(self.path, "rb") as handle:
            start = entry.slot * self.slot_size + HEADER_SIZE
            data = self._read_at(handle, start, entry.length + 2)
        payload = data[:-2]
        if len(data) != entry.length + 2 or crc16(payload) != data[-2] | data[-1] << 8:
            return None
        return payload

    def _read_at(self, handle: "Any", position: int, length: int) -> bytes:
        size = self.slots * self.slot_size
        position %= size
        handle.seek(position)
        data = handle.read(min(length, size - position))
        if len(data) < length:
            handle.seek(0)
            data += handle.read(length - len(data))
        return bytes(data)

    def acknowledge(self, boot_id: str, ranges: "list[list[int]]") -> int:
        """Mark the acked batches delivered and free what they held; returns readings acked."""
        acked = 0
        kept = []
        for entry in self.entries:
            if entry.state != ACKED and entry.boot_id == boot_id:
                for first, last in ranges:
                    if first <= entry.seq <= last:
                        entry.state = ACKED
                        acked += entry.readings
                        break
            if entry.state == ACKED and not entry.on_flash:
                self.staged_bytes -= entry.length  # acked before it was ever written
                continue
            kept.append(entry)
        while kept and kept[0].state == ACKED:
            kept.pop(0)
        self.entries = kept
        self.counts.delivered += acked
        return acked

    def requeue_inflight(self) -> None:
        """Make every in-flight batch unsent again (after a reconnect)."""
        for entry in self.entries:
            if entry.state == INFLIGHT:
                entry.state = UNSENT

    def expire(self, now: int, timeout_ms: int) -> int:
        """Make batches unacked for timeout_ms unsent again; returns how many."""
        expired = 0
        for entry in self.entries:
            if entry.state == INFLIGHT and now - entry.sent_at >= timeout_ms:
                entry.state = UNSENT
                expired += 1
        return expired

    def inflight(self) -> int:
        """Batches published and not yet acked."""
        return len([entry for entry in self.entries if entry.state == INFLIGHT])

    def buffered(self) -> int:
        """Readings on flash and not yet acked."""
        return sum(e.readings for e in self.entries if e.on_flash and e.state != ACKED)

    def staged(self) -> int:
        """Readings staged in RAM (not yet on flash) and not yet acked."""
        return sum(e.readings for e in self.entries if not e.on_flash and e.state != ACKED)

    def batches(self) -> int:
        """Batches not yet acked."""
        return len([entry for entry in self.entries if entry.state != ACKED])

    # ------------------------------------------------------------------ boot

    def _open_or_create(self) -> None:
        size = self.slots * self.slot_size
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, 2)
                fits = handle.tell() == size
        except OSError:
            fits = False
        if not fits:
            with open(self.path, "wb") as handle:
                zeros = bytes(self.slot_size)
                for _ in range(self.slots):
                    handle.write(zeros)
            return
        self._recover(self._load_tail())

    def _recover(self, tail: int) -> None:
        found = []
        with open(self.path, "rb") as handle:
            for slot in range(self.slots):
                handle.seek(slot * self.slot_size)
                entry = self._parse_header(handle.read(HEADER_SIZE), slot)
                if entry is not None and entry.counter >= tail:
                    found.append(entry)
        found.sort(key=lambda entry: entry.counter)
        taken = bytearray(self.slots)
        kept = []
        # Newest first: a newer record wins the slots an older one also claims.
        for entry in reversed(found):
            slots = [(entry.slot + i) % self.slots for i in range(entry.slots)]
            if any(taken[s] for s in slots) or self._load(entry) is None:
                continue
            for s in slots:
                taken[s] = 1
            kept.append(entry)
        kept.reverse()
        self.entries = kept
        if kept:
            newest = kept[-1]
            self.head = (newest.slot + newest.slots) % self.slots
            self.counter = newest.counter + 1
        else:
            self.counter = tail
        self.counts.read += sum(entry.readings for entry in kept)

    def _parse_header(self, raw: bytes, slot: int) -> "Entry | None":
        if len(raw) != HEADER_SIZE or raw[:2] != MAGIC:
            return None
        if crc16(raw[:-2]) != raw[-2] | raw[-1] << 8:
            return None
        fields = struct.unpack(_HEADER, raw[:-2])
        entry = Entry(fields[7].hex(), fields[6], fields[5], None)
        entry.length = fields[4]
        entry.counter = fields[3]
        entry.slots = fields[2]
        entry.slot = slot
        entry.on_flash = True
        if fields[1] != 1 or entry.slots != self._slots_for(entry.length):
            return None
        return entry

    def _tail(self) -> int:
        for entry in self.entries:
            if entry.state != ACKED:
                return entry.counter if entry.on_flash else self.counter
        return self.counter

    def _save_tail(self) -> None:
        tail = self._tail()
        if tail == self._saved_tail:
            return
        with open(self.path + ".tail", "wb") as handle:
            handle.write(struct.pack(">I", tail))
        self._saved_tail = tail

    def _load_tail(self) -> int:
        try:
            with open(self.path + ".tail", "rb") as handle:
                raw = handle.read(4)
        except OSError:
            return 0
        self._saved_tail = struct.unpack(">I", raw)[0] if len(raw) == 4 else 0
        return self._saved_tail
