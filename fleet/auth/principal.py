"""Who is calling: a role over a subtree of the city -> district -> street hierarchy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True, kw_only=True)
class Principal:
    """An authenticated caller: an API key's id, name, role and scope ("" is the whole fleet)."""

    key_id: str
    name: str
    role: Role
    scope: str

    def at_least(self, role: Role) -> bool:
        """True when this principal's role includes `role` (admin > operator > viewer)."""
        return _RANK[self.role] >= _RANK[role]

    def covers(self, group_path: str | None) -> bool:
        """True when `group_path` lies in this principal's subtree (unplaced: root scope only)."""
        return covers(self.scope, group_path)

    @property
    def label(self) -> str:
        """How audit rows and alerts name this caller (never the key itself)."""
        return f"{self.name} ({self.key_id})"


def covers(scope: str, group_path: str | None) -> bool:
    """True when `group_path` equals `scope` or lies below it; "" covers everything."""
    if scope == "":
        return True
    if not group_path:
        return False
    return group_path == scope or group_path.startswith(scope + "/")


def outranks(role: Role, other: Role) -> bool:
    """True when `role` is at least `other` (an admin may grant at most its own role)."""
    return _RANK[role] >= _RANK[other]
