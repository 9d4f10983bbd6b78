"""The heartbeat: protocol.messages.Health field for field, plus the controller's own
free_heap and wifi_rssi (the fleet's decoder ignores fields it does not know)."""

from edge.micro.accounting import Counts
from edge.micro.ring import Ring
from protocol.core import cbor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

AGENT_VERSION = "micro-0.1.0"


def health_message(
    boot_id: str,
    uptime_s: float,
    config_version: int,
    counts: Counts,
    ring: Ring,
    pending: int,
    heap_used: int,
    heap_free: int,
    rssi: "int | None",
    devices: "list[Any]",
) -> bytes:
    """Encode one heartbeat; `devices` are DeviceHealth maps (OrderedMap)."""
    return cbor.dumps(
        cbor.OrderedMap(
            [
                ("boot_id", boot_id),
                ("uptime_s", float(uptime_s)),
                ("agent_version", AGENT_VERSION),
                ("config_version", config_version),
                ("rss_bytes", heap_used),
                ("cpu_percent", 0.0),
                (
                    "counts",
                    cbor.OrderedMap(counts.snapshot(ring.buffered(), ring.staged() + pending)),
                ),
                ("buffer_batches", ring.batches()),
                ("buffer_bytes", ring.used() * ring.slot_size),
                ("buffer_oldest_age_s", None),
                ("buffer_degraded", False),
                ("buses", []),
                ("devices", devices),
                ("free_heap", heap_free),
                ("wifi_rssi", rssi),
            ]
        )
    )


def device_health(bus: str, name: str, online: bool, age_s: "float | None", failures: int,
                  error: "str | None") -> "Any":
    """One DeviceHealth map."""
    return cbor.OrderedMap(
        [
            ("bus", bus),
            ("name", name),
            ("online", online),
            ("last_reading_age_s", age_s),
            ("consecutive_failures", failures),
            ("last_error", error),
        ]
    )
