"""Dynamic-security roles and the broker's initial dynamic-security.json.

A device's role allows exactly its own topics, in the direction the protocol uses them:
it publishes telemetry/health/state/config-reported/command results, and subscribes to
(and receives) acks, desired config and command requests. Everything else is denied,
even if the broker's default ACL access is permissive.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from protocol.ids import validate_device_id
from protocol.topics import PREFIX

ADMIN_ROLE = "polekit-admin"
FLEET_ROLE = "polekit-fleet"
PBKDF2_ITERATIONS = 101  # what mosquitto_ctrl writes; the broker reads the count per client

_DEVICE_SENDS = ("telemetry", "health", "state", "config/reported", "cmd/res/#")
_DEVICE_TAKES = ("ack", "config/desired", "cmd/req/#")
_FLEET_SENDS = ("+/ack", "+/config/desired", "+/cmd/req/#")


def device_role_name(device_id: str) -> str:
    """The dynsec role of one device (2.0's dynsec has no %u, so one role per device)."""
    return f"pk-device-{validate_device_id(device_id)}"


def device_acls(device_id: str) -> list[dict[str, Any]]:
    """The ACLs of a device's role: its own topics allowed, then a catch-all deny."""
    base = f"{PREFIX}/{validate_device_id(device_id)}"
    acls = [_acl("publishClientSend", f"{base}/{suffix}", allow=True) for suffix in _DEVICE_SENDS]
    for suffix in _DEVICE_TAKES:
        acls.append(_acl("subscribePattern", f"{base}/{suffix}", allow=True))
        acls.append(_acl("publishClientReceive", f"{base}/{suffix}", allow=True))
    acls += [
        _acl(kind, "#", allow=False, priority=-1)
        for kind in ("publishClientSend", "subscribePattern", "publishClientReceive")
    ]
    return acls


def initial_config(
    *, admin: tuple[str, str], fleet: tuple[str, str] | None = None
) -> dict[str, Any]:
    """A dynamic-security.json with an admin account and (optionally) the fleet's bridge account.

    Default access denies everything a role does not allow.
    """
    clients = [_client(*admin, role=ADMIN_ROLE)]
    if fleet is not None:
        clients.append(_client(*fleet, role=FLEET_ROLE))
    control = "$CONTROL/dynamic-security/#"
    fleet_acls = [
        _acl("subscribePattern", f"{PREFIX}/#", allow=True),
        _acl("subscribePattern", f"$share/+/{PREFIX}/#", allow=True),
        _acl("publishClientReceive", f"{PREFIX}/#", allow=True),
        *(_acl("publishClientSend", f"{PREFIX}/{suffix}", allow=True) for suffix in _FLEET_SENDS),
    ]
    return {
        "clients": clients,
        "groups": [],
        "roles": [
            {
                "rolename": ADMIN_ROLE,
                "textdescription": "polekit fleet: manages device accounts",
                "acls": [
                    _acl(kind, control, allow=True)
                    for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
                ],
            },
            {
                "rolename": FLEET_ROLE,
                "textdescription": "polekit fleet bridge: ingest and acks",
                "acls": fleet_acls,
            },
        ],
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


def _client(username: str, password: str, *, role: str) -> dict[str, Any]:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return {
        "username": username,
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": PBKDF2_ITERATIONS,
        "roles": [{"rolename": role}],
    }


def _acl(kind: str, topic: str, *, allow: bool, priority: int = 1) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "allow": allow, "priority": priority}
