"""Judge a desired-config envelope: signature, anti-rollback, and the agent's own validation.

Verification is protocol.core.signed (pure Python, the same code the MicroPython agent runs).
A document is a candidate only if it verifies with a key from the bundle, is for this device,
validates as an AgentConfig, and is newer than every version this gateway ever tried, or is
a signed rollback issued after the newest document it accepted (so an old rollback cannot be
replayed). Without keys nothing verifies: the agent fails closed.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from edge.config import AgentConfig
from edge.config_file import ConfigError, convert_config
from edge.config_store import Outcome, StoredDoc, StoreState, digest
from protocol.core.signed import SignatureError, open_envelope

Kind = Literal["reject", "current", "candidate"]


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """What to do with one envelope: report `outcome`, or try `doc`/`config` on trial."""

    kind: Kind
    outcome: Outcome | None = None
    doc: StoredDoc | None = None
    config: AgentConfig | None = None
    rollback: bool = False


def trust_keys(kid: str | None, ed25519_b64: str | None) -> dict[str, bytes]:
    """The bundle's signing key as {kid: raw key}; empty (fail closed) when absent or bad."""
    if not kid or not ed25519_b64:
        return {}
    try:
        raw = base64.b64decode(ed25519_b64, validate=True)
    except ValueError:
        return {}
    return {kid: raw} if len(raw) == 32 else {}


def judge(
    envelope: bytes, *, keys: Mapping[str, bytes], state: StoreState, device_id: str
) -> Verdict:
    """Decide about one received envelope; never raises for bad input."""
    try:
        doc = open_envelope(envelope, dict(keys))
    except SignatureError as exc:
        return _reject(-1, f"signature: {exc}")
    version: int = doc["version"]
    config: dict[str, Any] = doc["config"]
    rollback: bool = doc["rollback"]
    issued_at = float(doc["issued_at"])
    if version == state.active_version and state.active is not None:
        if state.active.endswith(f"-{digest(config)}.json"):
            return Verdict(kind="current", outcome=Outcome(version=version, status="applied"))
        return _reject(version, f"version {version} is in force with different content")
    if rollback and version == 0 and state.active is None and not state.trial:
        return Verdict(kind="current", outcome=Outcome(version=0, status="applied"))
    if version in state.failed and not rollback:
        return Verdict(
            kind="reject",
            outcome=Outcome(version=version, status="rolled_back", reason=state.failed[version]),
        )
    if rollback:
        if issued_at <= state.last_issued_at:
            return _reject(version, "rollback issued before the newest accepted config (replay)")
    elif version <= state.highest:
        return _reject(version, f"version {version} is not newer than {state.highest}")
    if config.get("device_id") != device_id:
        return _reject(version, f"config is for device {config.get('device_id')!r}")
    try:
        agent_config = convert_config(config, file=f"<desired v{version}>")
    except ConfigError as exc:
        return _reject(version, f"invalid config: {exc.field or '$'}: {exc.message}")
    agent_config = msgspec.structs.replace(agent_config, version=version)
    return Verdict(
        kind="candidate",
        doc=StoredDoc(version=version, issued_at=issued_at, config=config),
        config=agent_config,
        rollback=rollback,
    )


def config_of(doc: StoredDoc) -> AgentConfig | None:
    """The AgentConfig of a stored document (None if this agent can no longer read it)."""
    try:
        config = convert_config(doc.config, file=f"<stored v{doc.version}>")
    except ConfigError:
        return None
    return msgspec.structs.replace(config, version=doc.version)


def _reject(version: int, reason: str) -> Verdict:
    outcome = Outcome(version=version, status="rejected", reason=reason)
    return Verdict(kind="reject", outcome=outcome)
