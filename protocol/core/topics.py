"""Topic names of the v1 protocol, all under pk/v1/{device_id}/ (see DESIGN.md)."""

from protocol.core.ids import is_valid_device_id

PREFIX = "pk/v1"
TELEMETRY = "telemetry"
HEALTH = "health"
STATE = "state"
CONFIG_DESIRED = "config/desired"
CONFIG_REPORTED = "config/reported"
ACK = "ack"
CMD_REQ = "cmd/req"
CMD_RES = "cmd/res"
SUFFIXES = (TELEMETRY, HEALTH, STATE, CONFIG_DESIRED, CONFIG_REPORTED, ACK, CMD_REQ, CMD_RES)

STATE_ONLINE = b"online"
STATE_OFFLINE = b"offline"


def topic(device_id: str, suffix: str) -> str:
    """pk/v1/{device_id}/{suffix}; ValueError for an invalid device id."""
    if not is_valid_device_id(device_id):
        raise ValueError("invalid device id " + repr(device_id))
    return PREFIX + "/" + device_id + "/" + suffix


def split(name: str) -> "tuple[str, str] | None":
    """(device id, suffix) of a topic under pk/v1/, or None for anything else."""
    if not name.startswith(PREFIX + "/"):
        return None
    rest = name[len(PREFIX) + 1 :]
    cut = rest.find("/")
    if cut < 1:
        return None
    device_id = rest[:cut]
    if not is_valid_device_id(device_id):
        return None
    return device_id, rest[cut + 1 :]
