"""Derive a device id from a hardware serial: deterministic, readable, topic- and ACL-safe."""

from __future__ import annotations

import hashlib
import re

from protocol.ids import validate_device_id

_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
_SLUG_MAX = 44


def device_id_for(serial: str, *, attempt: int = 0) -> str:
    """`gw-<slug of serial>-<8 hex of its SHA-256>`; attempt > 0 adds `-<n>` after a collision.

    The hash keeps serials that slug alike ("AB_1", "ab-1") apart; the result always matches
    [a-z0-9-]{1,64}, so it can never carry `/`, `+` or `#` into a topic or an ACL.
    """
    slug = _NOT_ALLOWED.sub("-", serial.lower()).strip("-")[:_SLUG_MAX].strip("-") or "x"
    digest = hashlib.sha256(serial.encode()).hexdigest()[:8]
    suffix = f"-{attempt}" if attempt else ""
    return validate_device_id(f"gw-{slug}-{digest}{suffix}")
