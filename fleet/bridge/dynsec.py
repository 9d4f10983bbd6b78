"""Device accounts on Mosquitto's dynamic-security plugin, over `$CONTROL/dynamic-security/v1`.

Each call opens a short MQTT v5 session as the fleet's dynsec admin, sends one command list
and waits for its response; calls are serialised, so one admin account is enough per
process (give each fleet replica its own, since brokers with `use_username_as_clientid`
let only one session per username live).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import uuid
from typing import Any

import aiomqtt

from fleet.bridge.dynsec_acl import device_acls, device_role_name
from fleet.domain.enrollment.broker import BrokerAccountError
from fleet.settings import MqttSettings

log = logging.getLogger("fleet.dynsec")

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
_ABSENT = frozenset({"Client not found", "Role not found"})


class DynsecAccounts:
    """BrokerAccounts on Mosquitto dynsec: one client and one role per device."""

    def __init__(self, settings: MqttSettings, *, timeout_s: float = 10.0) -> None:
        if not settings.username or not settings.password:
            raise ValueError("the broker admin URL needs a username and password")
        self._settings = settings
        self._timeout_s = timeout_s
        self._lock = asyncio.Lock()

    async def issue(self, device_id: str, password: str) -> None:
        """Replace the device's client and role; deleting the old client kicks its session."""
        role = device_role_name(device_id)
        await self._execute(
            [
                {"command": "deleteClient", "username": device_id},
                {"command": "deleteRole", "rolename": role},
                {"command": "createRole", "rolename": role, "acls": device_acls(device_id)},
                {
                    "command": "createClient",
                    "username": device_id,
                    "password": password,
                    "clientid": device_id,
                    "textdescription": "polekit device",
                    "roles": [{"rolename": role, "priority": 1}],
                },
            ]
        )
        log.info("broker account of device %s issued", device_id)

    async def remove(self, device_id: str) -> None:
        """Delete the device's client (kicking its session) and its role."""
        await self._execute(
            [
                {"command": "deleteClient", "username": device_id},
                {"command": "deleteRole", "rolename": device_role_name(device_id)},
            ]
        )
        log.info("broker account of device %s removed", device_id)

    async def _execute(self, commands: list[dict[str, Any]]) -> None:
        """Send the commands as one message; raise unless each succeeded (or deleted nothing)."""
        correlation = uuid.uuid4().hex
        for command in commands:
            command["correlationData"] = correlation
        async with self._lock:
            try:
                responses = await asyncio.wait_for(
                    self._roundtrip(commands, correlation), self._timeout_s
                )
            except (aiomqtt.MqttError, OSError) as exc:
                raise BrokerAccountError(f"broker admin connection failed: {exc}") from None
            except TimeoutError:
                raise BrokerAccountError(
                    f"the broker did not answer dynsec commands within {self._timeout_s:.0f} s "
                    "(is the dynamic-security plugin loaded?)"
                ) from None
        for command, response in zip(commands, responses, strict=False):
            error = response.get("error")
            if error and not (command["command"].startswith("delete") and error in _ABSENT):
                raise BrokerAccountError(f"dynsec {command['command']} failed: {error}")

    async def _roundtrip(
        self, commands: list[dict[str, Any]], correlation: str
    ) -> list[dict[str, Any]]:
        settings = self._settings
        async with aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password,
            # Never the bridge's id: on a broker without use_username_as_clientid an equal
            # id would kick the bridge's session.
            identifier=f"polekit-dynsec-{uuid.uuid4().hex[:12]}",
            protocol=aiomqtt.ProtocolVersion.V5,
            tls_context=ssl.create_default_context() if settings.tls else None,
            timeout=self._timeout_s,
        ) as client:
            await client.subscribe(RESPONSE_TOPIC, qos=1)
            await client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
            async for message in client.messages:
                payload = message.payload
                if not isinstance(payload, bytes | bytearray):
                    continue
                responses = json.loads(payload).get("responses", [])
                if responses and responses[0].get("correlationData") == correlation:
                    return list(responses)
        raise BrokerAccountError("the broker closed the admin session before answering")
