"""Range check, filters and batching: readings in, encoded SenML-CBOR batches to the ring.

A reading is (name, ts_ms, value, unit) with name "{device}/{channel}", exactly the record the
codec writes. Numbers outside the channel's range, and non-finite floats on any channel, are
counted out_of_range; suppressed ones filtered. A batch closes when it holds `batch_max`
readings or has been open `batch_interval_ms`, and gets the next sequence number of the boot.
"""

from edge.micro.accounting import Counts
from edge.micro.filters import Chain
from protocol.core.senml_pack import encode_batch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from edge.micro.ring import Ring

_INF = float("inf")


class Policy:
    """Range and filters of one channel."""

    def __init__(self, low: float, high: float, chain: "Chain | None") -> None:
        self.low = low
        self.high = high
        self.chain = chain


class Pipeline:
    """All readings of the agent on their way to the ring buffer."""

    def __init__(
        self,
        ring: "Ring",
        counts: Counts,
        boot_id: str,
        batch_max: int = 50,
        batch_interval_ms: int = 5000,
    ) -> None:
        if batch_max < 1 or batch_interval_ms <= 0:
            raise ValueError("batch_max must be >= 1 and batch_interval_ms > 0")
        self.ring = ring
        self.counts = counts
        self.boot_id = boot_id
        self.batch_max = batch_max
        self.batch_interval_ms = batch_interval_ms
        self.policies: "dict[str, Policy]" = {}
        self.open: "list[tuple[str, int, Any, str]]" = []
        self.opened_at = 0
        self.seq = 0

    def set_policy(self, name: str, low: float, high: float, chain: "Chain | None") -> None:
        """Check and filter the readings of one record name."""
        if low > high:
            raise ValueError("range low > high for " + name)
        self.policies[name] = Policy(low, high, chain)

    def submit(self, name: str, ts: int, value: "Any", unit: str) -> None:
        """Range-check, filter and batch one reading."""
        counts = self.counts
        counts.read += 1
        kind = type(value)
        if kind is float or kind is int:
            if not -_INF < value < _INF:  # NaN fails both comparisons
                counts.out_of_range += 1
                return
        policy = self.policies.get(name)
        if policy is not None:
            if (kind is float or kind is int) and not policy.low <= value <= policy.high:
                counts.out_of_range += 1
                return
            chain = policy.chain
            if chain is not None and not chain.accept(value, ts):
                counts.filtered += 1
                return
        if not self.open:
            self.opened_at = ts
        self.open.append((name, ts, value, unit))
        if len(self.open) >= self.batch_max:
            self.close()

    def tick(self, now: int) -> None:
        """Close the open batch once it is old enough (or the clock stepped back)."""
        if self.open and (now - self.opened_at >= self.batch_interval_ms or now < self.opened_at):
            self.close()

    def close(self) -> None:
        """Encode the open batch and hand it to the ring."""
        readings = self.open
        if not readings:
            return
        self.open = []
        payload = encode_batch(self.boot_id, self.seq, readings, True)
        self.ring.append(payload, self.boot_id, self.seq, len(readings))
        self.seq += 1
