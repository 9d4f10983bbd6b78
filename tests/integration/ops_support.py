"""Helpers of the fleet-operations end-to-end tests: API calls, sim register access, placement."""

from __future__ import annotations

from typing import Any

import httpx
from pymodbus.client import ModbusTcpClient

from tests.services import ADMIN_AUTH


class Api:
    """A tiny blocking client of one fleet with one key."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.headers = headers or ADMIN_AUTH

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; returns the response whatever its status."""
        return httpx.request(method, self.base + path, headers=self.headers, timeout=10, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request that must succeed; its JSON body."""
        response = self.call(method, path, **kwargs)
        assert response.status_code < 300, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json()

    def place(self, device_id: str, pole: str, group: str, lat: float, lon: float) -> None:
        """Put a gateway on a pole of group city/district/street."""
        _city, district, street = group.split("/")
        body = {"pole_id": pole, "group": group, "district": district, "street": street,
                "lat": lat, "lon": lon}  # fmt: skip
        self.ok("PUT", f"/api/v1/devices/{device_id}/placement", json=body)

    def key(self, name: str, role: str, scope: str) -> dict[str, str]:
        """Create an API key; its Authorization header."""
        created = self.ok(
            "POST", "/api/v1/access/keys", json={"name": name, "role": role, "scope": scope}
        )
        return {"Authorization": f"Bearer {created['key']}"}


def write_holding(port: int, unit: int, address: int, value: int) -> None:
    """Set a simulated device's holding register (pins the channel at that raw value)."""
    with ModbusTcpClient("127.0.0.1", port=port) as client:
        response = client.write_register(address, value & 0xFFFF, device_id=unit)
        assert not response.isError(), response


def read_holding(port: int, unit: int, address: int) -> int:
    """A simulated device's holding register, as the test sees it on the wire."""
    with ModbusTcpClient("127.0.0.1", port=port) as client:
        response = client.read_holding_registers(address, count=1, device_id=unit)
        assert not response.isError(), response
        return int(response.registers[0])
