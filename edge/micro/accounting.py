"""Where every reading went: the counters of protocol.messages.ReadingCounts, by name.

read - out_of_range - filtered + aggregated_out
    == dropped_buffer_full + delivered + buffered + pending
The micro agent has no windows, so aggregated_out stays 0; buffered and pending are derived
from the ring and the open batch when health is reported.
"""

FIELDS = (
    "read",
    "out_of_range",
    "filtered",
    "aggregated_out",
    "dropped_buffer_full",
    "delivered",
    "buffered",
    "pending",
)


class Counts:
    """Counters since boot; batches recovered from flash at boot count as read and buffered."""

    def __init__(self) -> None:
        self.read = 0
        self.out_of_range = 0
        self.filtered = 0
        self.aggregated_out = 0
        self.dropped_buffer_full = 0
        self.delivered = 0

    def snapshot(self, buffered: int, pending: int) -> "list[tuple[str, int]]":
        """Every counter in ReadingCounts order, with the derived two filled in."""
        return [
            ("read", self.read),
            ("out_of_range", self.out_of_range),
            ("filtered", self.filtered),
            ("aggregated_out", self.aggregated_out),
            ("dropped_buffer_full", self.dropped_buffer_full),
            ("delivered", self.delivered),
            ("buffered", buffered),
            ("pending", pending),
        ]
