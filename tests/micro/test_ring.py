"""The ring file on a real file system (the interpreter's VFS): batched writes, acks by
range, wrap-around, eviction when full, recovery after a reboot, corruption."""

from edge.micro.accounting import Counts
from edge.micro.ring import HEADER_SIZE, Ring
from tests.micro.support import fresh_dir, raises

BOOT = "00112233aabbccdd"
OLD_BOOT = "ffeeddcc00112233"


def _ring(path: str, counts: Counts | None = None, **options: int) -> Ring:
    settings = {"slots": 8, "slot_size": 64, "flush_bytes": 100000, "flush_interval_ms": 1000}
    settings.update(options)
    return Ring(
        path + "/ring.bin",
        counts or Counts(),
        settings["slots"],
        settings["slot_size"],
        settings["flush_bytes"],
        settings["flush_interval_ms"],
    )


def _payload(seq: int, size: int = 20) -> bytes:
    return bytes([seq & 0xFF]) * size


def test_batches_are_staged_then_written_together() -> None:
    ring = _ring(fresh_dir("ring"))
    for seq in range(3):
        ring.append(_payload(seq), BOOT, seq, 5)
    assert ring.flash_writes == 0
    assert ring.staged() == 15
    assert ring.buffered() == 0
    ring.maybe_flush(0)  # starts the clock of the oldest staged batch
    ring.maybe_flush(999)
    assert ring.flash_writes == 0
    ring.maybe_flush(1000)
    assert ring.flash_writes == 1
    assert ring.buffered() == 15
    assert ring.staged() == 0


def test_flush_bytes_triggers_a_write() -> None:
    ring = _ring(fresh_dir("ring"), flush_bytes=40)
    ring.append(_payload(0), BOOT, 0, 1)
    assert ring.flash_writes == 0
    ring.append(_payload(1), BOOT, 1, 1)
    assert ring.flash_writes == 1


def test_acked_before_flush_never_reaches_flash() -> None:
    counts = Counts()
    ring = _ring(fresh_dir("ring"), counts)
    ring.append(_payload(0), BOOT, 0, 4)
    sent = ring.take_unsent(4, 0)
    assert [(e.seq, p) for e, p in sent] == [(0, _payload(0))]
    assert ring.acknowledge(BOOT, [[0, 0]]) == 4
    ring.flush()
    assert ring.flash_writes == 0
    assert ring.batches() == 0
    assert counts.delivered == 4


def test_payloads_come_back_from_flash() -> None:
    ring = _ring(fresh_dir("ring"), slots=16)
    for seq in range(3):
        ring.append(_payload(seq, 100), BOOT, seq, 1)  # header + 100 B + CRC: three slots
    ring.flush()
    sent = ring.take_unsent(10, 5)
    # Oldest and newest in turn, as the CPython agent drains a backlog.
    assert [e.seq for e, _ in sent] == [0, 2, 1]
    assert all(p == _payload(e.seq, 100) for e, p in sent)


def test_ack_ranges_delete_exactly_the_named_batches() -> None:
    counts = Counts()
    ring = _ring(fresh_dir("ring"), counts, slots=16)
    for seq in range(6):
        ring.append(_payload(seq), BOOT, seq, 2)
    ring.flush()
    ring.take_unsent(10, 0)
    ring.acknowledge(BOOT, [[0, 1], [4, 4]])
    ring.acknowledge(OLD_BOOT, [[2, 3]])  # another boot's sequence numbers
    assert counts.delivered == 6
    assert ring.buffered() == 6
    ring.requeue_inflight()
    assert sorted(e.seq for e, _ in ring.take_unsent(10, 0)) == [2, 3, 5]


def test_unacked_batches_expire_and_are_sent_again() -> None:
    ring = _ring(fresh_dir("ring"))
    ring.append(_payload(0), BOOT, 0, 1)
    ring.take_unsent(1, 1000)
    assert ring.take_unsent(1, 1500) == []
    assert ring.expire(1500, 1000) == 0
    assert ring.expire(2000, 1000) == 1
    assert [e.seq for e, _ in ring.take_unsent(1, 2000)] == [0]


def test_full_ring_overwrites_the_oldest_and_counts_it() -> None:
    counts = Counts()
    ring = _ring(fresh_dir("ring"), counts, slots=4, slot_size=64)
    for seq in range(6):  # each record takes one 64 B slot
        ring.append(_payload(seq), BOOT, seq, 3)
        ring.flush()
    assert counts.dropped_buffer_full == 6
    assert [e.seq for e, _ in ring.take_unsent(10, 0)] == [2, 5, 3, 4]


def test_records_wrap_past_the_end_of_the_file() -> None:
    path = fresh_dir("ring")
    ring = _ring(path, slots=5, slot_size=64)
    for seq in range(4):  # 80 B payloads take two slots: the third one wraps around
        ring.append(_payload(seq, 80), BOOT, seq, 1)
        ring.flush()
        for entry, _ in ring.take_unsent(1, 0):
            ring.acknowledge(BOOT, [[entry.seq, entry.seq]])
    ring.append(_payload(9, 80), BOOT, 9, 1)
    ring.flush()
    reopened = _ring(path, slots=5, slot_size=64)
    assert [(e.seq, p) for e, p in reopened.take_unsent(5, 0)] == [(9, _payload(9, 80))]


def test_reboot_recovers_unacked_batches_and_not_acked_ones() -> None:
    path = fresh_dir("ring")
    ring = _ring(path, slots=16)
    for seq in range(5):
        ring.append(_payload(seq), OLD_BOOT, seq, 2)
    ring.flush()
    ring.take_unsent(10, 0)
    ring.acknowledge(OLD_BOOT, [[0, 1], [3, 3]])
    ring.flush()  # saves the tail: batches 0 and 1 are gone for good
    counts = Counts()
    reopened = _ring(path, counts, slots=16)
    # 3 was acked but sits behind unacked 2: it is sent again and the fleet drops the copy.
    assert [e.seq for e, _ in reopened.take_unsent(10, 0)] == [2, 4, 3]
    assert counts.read == 6
    assert reopened.buffered() == 6
    reopened.append(_payload(9), BOOT, 0, 1)
    reopened.flush()
    again = _ring(path, slots=16)
    assert sorted((e.boot_id, e.seq) for e, _ in again.take_unsent(10, 0)) == [
        (BOOT, 0),
        (OLD_BOOT, 2),
        (OLD_BOOT, 3),
        (OLD_BOOT, 4),
    ]


def test_corrupt_record_is_dropped_and_counted() -> None:
    path = fresh_dir("ring")
    ring = _ring(path)
    ring.append(_payload(0), BOOT, 0, 7)
    ring.append(_payload(1), BOOT, 1, 1)
    ring.flush()
    with open(path + "/ring.bin", "r+b") as handle:
        handle.seek(HEADER_SIZE + 3)  # inside the first payload
        handle.write(b"\xff")
    counts = Counts()
    reopened = _ring(path, counts)
    assert [e.seq for e, _ in reopened.take_unsent(10, 0)] == [1]
    # The live ring finds the damage when it reads the payload back.
    assert [e.seq for e, _ in ring.take_unsent(10, 0)] == [1]
    assert ring.counts.dropped_buffer_full == 7


def test_batch_larger_than_the_ring_is_dropped() -> None:
    counts = Counts()
    ring = _ring(fresh_dir("ring"), counts, slots=2, slot_size=64)
    ring.append(bytes(200), BOOT, 0, 9)
    assert counts.dropped_buffer_full == 9
    assert ring.batches() == 0


def test_wrong_size_file_is_recreated() -> None:
    path = fresh_dir("ring")
    with open(path + "/ring.bin", "wb") as handle:
        handle.write(b"junk")
    ring = _ring(path)
    assert ring.batches() == 0
    raises(ValueError, ring.append, b"x", "abc", 0, 1)
