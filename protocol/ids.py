"""Device ids and boot ids: the identifiers that appear in topics and batches."""

from __future__ import annotations

import os
import re

from protocol.errors import ProtocolError

# Device ids can never carry "/", "+" or "#", so they cannot escape their topic subtree or ACL.
DEVICE_ID_PATTERN = r"[a-z0-9-]{1,64}"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)
BOOT_ID_PATTERN = r"[0-9a-f]{8,32}"
_BOOT_ID_RE = re.compile(BOOT_ID_PATTERN)


def validate_device_id(device_id: str) -> str:
    """Return the id unchanged if it is a valid device id, else raise ProtocolError."""
    if not isinstance(device_id, str) or not _DEVICE_ID_RE.fullmatch(device_id):
        raise ProtocolError(f"invalid device id {device_id!r}: expected {DEVICE_ID_PATTERN}")
    return device_id


def is_valid_boot_id(boot_id: object) -> bool:
    """True for the 8-32 lowercase hex characters an agent uses as boot id."""
    return isinstance(boot_id, str) and _BOOT_ID_RE.fullmatch(boot_id) is not None


def new_boot_id() -> str:
    """A fresh random boot id; each agent start gets one, and sequences restart under it."""
    return os.urandom(8).hex()
