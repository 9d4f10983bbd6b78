"""Control messages of the v1 protocol (ack, health, config report) and their codec.

CBOR is protocol.core.cbor, the subset both agents speak: it writes the same bytes as cbor2
for these messages and reads whatever cbor2 writes for them (tags, indefinite lengths and
integers beyond 64 bits are refused), so neither agent needs cbor2.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import msgspec

from protocol.core import cbor
from protocol.encoding import MAX_PAYLOAD_BYTES, Encoding, check_encoding
from protocol.errors import ProtocolError


class AckEntry(msgspec.Struct, frozen=True, array_like=True):
    """Committed batches of one boot id, as inclusive [first, last] sequence ranges."""

    boot_id: str
    ranges: list[tuple[int, int]]


class Ack(msgspec.Struct, frozen=True):
    """Fleet -> edge: these batches are in the database; the edge may delete them.

    Ranges rather than a single high-water mark, so that a batch lost in the middle
    (a broker crash) is never deleted unsent.
    """

    entries: list[AckEntry]


class ReadingCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Where every reading went, by named reason (see edge/accounting.py)."""

    read: int = 0
    out_of_range: int = 0
    filtered: int = 0
    aggregated_out: int = 0
    dropped_buffer_full: int = 0
    delivered: int = 0
    buffered: int = 0
    pending: int = 0


class BusHealth(msgspec.Struct, frozen=True, kw_only=True):
    """One bus scheduler's counters since boot."""

    name: str
    polls_ok: int = 0
    polls_failed: int = 0
    requests: int = 0
    requests_saved: int = 0
    devices_online: int = 0
    devices_total: int = 0
    success_rate: float | None = None
    """polls_ok / (polls_ok + polls_failed) since boot; None before the first poll."""


class DeviceHealth(msgspec.Struct, frozen=True, kw_only=True):
    """One sensor's liveness as the agent sees it."""

    bus: str
    name: str
    online: bool
    last_reading_age_s: float | None = None
    consecutive_failures: int = 0
    last_error: str | None = None


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """Edge -> fleet heartbeat: agent and system metrics."""

    boot_id: str
    uptime_s: float
    agent_version: str
    config_version: int
    rss_bytes: int
    cpu_percent: float
    counts: ReadingCounts
    buffer_batches: int = 0
    buffer_bytes: int = 0
    buffer_oldest_age_s: float | None = None
    buffer_degraded: bool = False
    buses: list[BusHealth] = msgspec.field(default_factory=list)
    devices: list[DeviceHealth] = msgspec.field(default_factory=list)
    alarms: list[str] = msgspec.field(default_factory=list)
    """Conditions an operator must act on, e.g. no config trust root (configs are refused)."""
    interval_s: float = 0.0
    """Seconds between heartbeats: the fleet declares the gateway offline after 3 missed ones."""
    mem_total_bytes: int = 0
    mem_available_bytes: int = 0
    disk_total_bytes: int = 0
    """Of the file system that holds the buffer."""
    disk_free_bytes: int = 0
    soc_temp_c: float | None = None
    """From /sys/class/thermal when the board has a sensor there."""
    buffer_max_bytes: int = 0
    """The buffer's cap (buffer.max_bytes), so the fleet can show how full it is."""


class ConfigReported(msgspec.Struct, frozen=True, kw_only=True):
    """Edge -> fleet: the outcome of applying a desired config."""

    version: int
    status: Literal["applied", "rejected", "rolled_back"]
    reason: str | None = None


class CommandRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Fleet -> edge on cmd/req/{id}: write a point, re-read now, or restart the agent."""

    kind: Literal["write", "reread", "reboot"]
    device: str | None = None
    """The sensor's name in the gateway's config; None: every sensor that has `point`."""
    point: str | None = None
    """write: a point the driver marks writable (e.g. dim, switch)."""
    value: float | bool | None = None


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """Edge -> fleet on cmd/res/{id}: done, or failed with the reason (e.g. a refused write)."""

    status: Literal["done", "failed"]
    reason: str | None = None
    devices: list[str] = msgspec.field(default_factory=list)
    """The sensors the command acted on."""


Message = TypeVar("Message", bound=msgspec.Struct)


def encode_message(message: msgspec.Struct, encoding: Encoding = "cbor") -> bytes:
    """Serialise a control message in the device's encoding."""
    encoding = check_encoding(encoding)
    if encoding == "msgpack":
        return msgspec.msgpack.encode(message)
    if encoding == "json":
        return msgspec.json.encode(message)
    return cbor.dumps(msgspec.to_builtins(message))


def decode_message(data: bytes, type_: type[Message], encoding: Encoding = "cbor") -> Message:
    """Parse untrusted bytes into a control message; raises ProtocolError and nothing else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProtocolError("payload must be bytes")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    encoding = check_encoding(encoding)
    try:
        if encoding == "msgpack":
            return msgspec.msgpack.decode(bytes(data), type=type_)
        if encoding == "json":
            return msgspec.json.decode(bytes(data), type=type_)
        return msgspec.convert(cbor.loads(data), type_)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"invalid {type_.__name__}: {exc}") from None
    except Exception as exc:
        raise ProtocolError(
            f"undecodable {encoding} {type_.__name__}: {type(exc).__name__}"
        ) from None
