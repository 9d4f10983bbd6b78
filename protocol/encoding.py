"""Payload encodings and their MQTT v5 content types."""

from __future__ import annotations

from typing import Literal, get_args

from protocol.errors import ProtocolError

Encoding = Literal["cbor", "msgpack", "json"]
ENCODINGS: tuple[Encoding, ...] = get_args(Encoding)

CONTENT_TYPES: dict[Encoding, str] = {
    "cbor": "application/senml+cbor",
    "msgpack": "application/vnd.polekit.senml+msgpack",
    "json": "application/senml+json",
}
_BY_CONTENT_TYPE: dict[str, Encoding] = {value: key for key, value in CONTENT_TYPES.items()}

# A payload larger than this is refused before decoding: no telemetry batch gets near it.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


def encoding_for_content_type(content_type: str | None) -> Encoding:
    """The encoding a publisher announced; no content type means CBOR, the default."""
    if content_type is None or content_type == "":
        return "cbor"
    try:
        return _BY_CONTENT_TYPE[content_type]
    except KeyError:
        raise ProtocolError(f"unknown content type {content_type!r}") from None


def check_encoding(encoding: str) -> Encoding:
    """Validate an encoding name coming from config or a caller."""
    for known in ENCODINGS:
        if encoding == known:
            return known
    raise ProtocolError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")
