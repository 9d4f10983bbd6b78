"""Desired config from the fleet: verified against the bundle's trust root, never replayed.

A document applies only if its Ed25519 signature verifies with a key of the bundle, and its
version is newer than the highest this device ever accepted, unless the signed document says
`rollback`. Without keys every document is refused (fail closed). The highest version is
kept on flash, so a reboot cannot be used to replay an old document.
"""

from edge.micro.files import atomic_write
from protocol.core import cbor
from protocol.core.signed import SignatureError, open_envelope

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class StaleVersion(SignatureError):
    """A correctly signed document that is not newer than what was already accepted."""

    def __init__(self, version: int, highest: int) -> None:
        super().__init__("version " + str(version) + " is not newer than " + str(highest))
        self.version = version


class ConfigGuard:
    """Checks desired-config envelopes and remembers the versions it let through."""

    def __init__(self, keys: "dict[str, bytes]", state_path: str) -> None:
        self.keys = keys
        self.state_path = state_path
        self.highest = -1
        self.applied = -1
        try:
            with open(state_path, "rb") as handle:
                state = cbor.loads(handle.read())
            self.highest = state["highest"]
            self.applied = state["applied"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # first boot: nothing accepted yet

    def check(self, envelope: bytes) -> "dict[str, Any] | None":
        """The verified document to apply, None if it is the one in force (a retained copy
        comes again on every reconnect); SignatureError saying why it must not be applied."""
        doc = open_envelope(envelope, self.keys)
        version = doc["version"]
        if version == self.applied:
            return None
        if version <= self.highest and not doc["rollback"]:
            raise StaleVersion(version, self.highest)
        return doc

    def accepted(self, version: int) -> None:
        """Record a version as applied (after the agent took its config)."""
        self.applied = version
        if version > self.highest:
            self.highest = version
        state = cbor.OrderedMap([("highest", self.highest), ("applied", version)])
        atomic_write(self.state_path, cbor.dumps(state))


def report(version: int, status: str, reason: "str | None") -> bytes:
    """A ConfigReported message (protocol.messages) in CBOR."""
    return cbor.dumps(
        cbor.OrderedMap([("version", version), ("status", status), ("reason", reason)])
    )
