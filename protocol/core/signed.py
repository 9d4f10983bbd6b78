"""Signed desired-config documents: the envelope, its verification, and (CPython) its encoding.

Envelope, a CBOR map: {"v": 1, "kid": str, "doc": bytes, "sig": bytes(64)}, where `sig` is
Ed25519 over CONTEXT + doc and `doc` is the CBOR map
{"version": int, "config": map, "issued_at": float, "rollback": bool}.
The context string keeps a config signature from ever verifying as anything else.
"""

from protocol.core import cbor, ed25519

# MicroPython has no typing module; type checkers see these imports.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


CONTEXT = b"polekit-config-v1\x00"
ENVELOPE_VERSION = 1


class SignatureError(ValueError):
    """A desired-config envelope that must not be applied; the message says why."""


def signed_bytes(doc: bytes) -> bytes:
    """What the signature covers."""
    return CONTEXT + doc


def encode_doc(version: int, config: "dict[str, Any]", issued_at: float, rollback: bool) -> bytes:
    """The CBOR document that gets signed."""
    return cbor.dumps(
        cbor.OrderedMap(
            [
                ("version", version),
                ("config", config),
                ("issued_at", float(issued_at)),
                ("rollback", rollback),
            ]
        )
    )


def encode_envelope(doc: bytes, kid: str, sign: "Callable[[bytes], bytes]") -> bytes:
    """Wrap a document with its signature; `sign` is an Ed25519 signer (e.g. an HSM's)."""
    signature = sign(signed_bytes(doc))
    if len(signature) != 64:
        raise ValueError("an Ed25519 signature is 64 bytes")
    return cbor.dumps(
        cbor.OrderedMap([("v", ENVELOPE_VERSION), ("kid", kid), ("doc", doc), ("sig", signature)])
    )


def open_envelope(data: bytes, keys: "dict[str, bytes]") -> "dict[str, Any]":
    """Verify an envelope against trusted keys (kid -> 32-byte key); returns the checked doc.

    With no keys nothing verifies: a device without a trust root fails closed.
    """
    try:
        envelope = cbor.loads(data)
    except cbor.CBORError as exc:
        raise SignatureError("envelope is not CBOR: " + str(exc)) from None
    if not isinstance(envelope, dict) or envelope.get("v") != ENVELOPE_VERSION:
        raise SignatureError("not a v1 config envelope")
    kid = envelope.get("kid")
    doc = envelope.get("doc")
    sig = envelope.get("sig")
    if not isinstance(kid, str) or not isinstance(doc, bytes) or not isinstance(sig, bytes):
        raise SignatureError("envelope needs kid (text), doc and sig (bytes)")
    if not keys:
        raise SignatureError("no trust root: refusing every config")
    key = keys.get(kid)
    if key is None:
        raise SignatureError("unknown key id " + repr(kid))
    if not ed25519.verify(key, signed_bytes(doc), sig):
        raise SignatureError("bad signature")
    return _checked_doc(doc)


def _checked_doc(doc: bytes) -> "dict[str, Any]":
    try:
        value = cbor.loads(doc)
    except cbor.CBORError as exc:
        raise SignatureError("signed doc is not CBOR: " + str(exc)) from None
    if not isinstance(value, dict):
        raise SignatureError("signed doc must be a map")
    version = value.get("version")
    if type(version) is not int or version < 0:
        raise SignatureError("doc version must be a non-negative int")
    if not isinstance(value.get("config"), dict):
        raise SignatureError("doc config must be a map")
    if type(value.get("rollback")) is not bool:
        raise SignatureError("doc rollback must be a bool")
    issued_at = value.get("issued_at")
    if type(issued_at) is not float and type(issued_at) is not int:
        raise SignatureError("doc issued_at must be a number")
    return value
