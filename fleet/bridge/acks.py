"""Build the ack messages: committed sequence numbers as inclusive ranges per boot id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from fleet.domain.ingest.schemas import BatchKey
from protocol.messages import Ack, AckEntry


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Collapse sequence numbers into sorted inclusive ranges: 1,2,3,7 -> (1,3),(7,7)."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def acks_by_device(committed: Iterable[BatchKey]) -> dict[str, Ack]:
    """One Ack per device listing every committed batch, new or duplicate."""
    per_device: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for key in committed:
        per_device[key.device_id][key.boot_id].append(key.seq)
    return {
        device_id: Ack(
            entries=[
                AckEntry(boot_id=boot_id, ranges=seq_ranges(seqs))
                for boot_id, seqs in sorted(boots.items())
            ]
        )
        for device_id, boots in per_device.items()
    }
