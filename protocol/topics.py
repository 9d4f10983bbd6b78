"""Topic names of the v1 protocol, all under pk/v1/{device_id}/ (see DESIGN.md)."""

from __future__ import annotations

import enum
import re

import msgspec

from protocol.core import topics as core_topics
from protocol.errors import ProtocolError
from protocol.ids import validate_device_id

PREFIX = core_topics.PREFIX
_COMMAND_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Kind(enum.Enum):
    """What a topic carries; the value is the topic suffix after the device id."""

    TELEMETRY = "telemetry"
    HEALTH = "health"
    STATE = "state"
    CONFIG_DESIRED = "config/desired"
    CONFIG_REPORTED = "config/reported"
    ACK = "ack"
    CMD_REQ = "cmd/req"
    CMD_RES = "cmd/res"


_COMMAND_KINDS = frozenset({Kind.CMD_REQ, Kind.CMD_RES})
_KIND_BY_SUFFIX = {kind.value: kind for kind in Kind}


class TopicRef(msgspec.Struct, frozen=True):
    """A parsed topic: whose it is and what it carries."""

    device_id: str
    kind: Kind
    command_id: str | None = None


def topic_for(device_id: str, kind: Kind, command_id: str | None = None) -> str:
    """The topic of one device for one kind, e.g. pk/v1/pole-1/telemetry."""
    validate_device_id(device_id)
    if kind in _COMMAND_KINDS:
        if command_id is None or not _COMMAND_ID_RE.fullmatch(command_id):
            raise ProtocolError(f"{kind.value} needs a command id matching [A-Za-z0-9_-]{{1,64}}")
        return f"{PREFIX}/{device_id}/{kind.value}/{command_id}"
    if command_id is not None:
        raise ProtocolError(f"{kind.value} takes no command id")
    return f"{PREFIX}/{device_id}/{kind.value}"


def parse_topic(topic: str) -> TopicRef:
    """Split a received topic into device id and kind; ProtocolError for anything else."""
    if not isinstance(topic, str) or not topic.startswith(PREFIX + "/"):
        raise ProtocolError(f"topic {topic!r} is not under {PREFIX}/")
    rest = topic[len(PREFIX) + 1 :]
    device_id, _, suffix = rest.partition("/")
    validate_device_id(device_id)
    kind = _KIND_BY_SUFFIX.get(suffix)
    if kind is not None and kind not in _COMMAND_KINDS:
        return TopicRef(device_id=device_id, kind=kind)
    head, _, command_id = suffix.rpartition("/")
    kind = _KIND_BY_SUFFIX.get(head)
    if kind in _COMMAND_KINDS and _COMMAND_ID_RE.fullmatch(command_id):
        return TopicRef(device_id=device_id, kind=kind, command_id=command_id)
    raise ProtocolError(f"topic {topic!r} has an unknown suffix {suffix!r}")


def fleet_subscription(kind: Kind, share_group: str | None = None) -> str:
    """The fleet's wildcard subscription for one kind across all devices.

    With a share group, N fleet replicas split the messages (MQTT v5 shared subscription).
    """
    suffix = f"{kind.value}/+" if kind in _COMMAND_KINDS else kind.value
    pattern = f"{PREFIX}/+/{suffix}"
    if share_group is None:
        return pattern
    if not _COMMAND_ID_RE.fullmatch(share_group):
        raise ProtocolError(f"invalid share group {share_group!r}")
    return f"$share/{share_group}/{pattern}"


STATE_ONLINE = core_topics.STATE_ONLINE
STATE_OFFLINE = core_topics.STATE_OFFLINE
