"""Human-friendly quantities in config: durations ("5s", "250ms", "5m") and sizes ("256MiB")."""

from __future__ import annotations

import re
from typing import Any

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$")
_SIZE_FACTORS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}


class Duration(float):
    """Seconds, written in config as a number or a string such as "100ms", "10s", "5m"."""

    @classmethod
    def parse(cls, raw: object) -> Duration:
        """Parse a config value; raises ValueError with the accepted forms."""
        if isinstance(raw, bool):
            raise ValueError(  # noqa: TRY004 - msgspec turns ValueError into a field error
                "expected a duration such as 10s, 250ms or 5m, got a boolean"
            )
        if isinstance(raw, int | float):
            if raw < 0:
                raise ValueError("a duration cannot be negative")
            return cls(raw)
        if isinstance(raw, str):
            match = _DURATION_RE.match(raw)
            if match:
                return cls(float(match.group(1)) * _DURATION_FACTORS[match.group(2)])
        raise ValueError(f"expected a duration such as 10s, 250ms or 5m, got {raw!r}")


class ByteSize(int):
    """Bytes, written in config as an integer or a string such as "256MiB"."""

    @classmethod
    def parse(cls, raw: object) -> ByteSize:
        """Parse a config value; raises ValueError with the accepted forms."""
        if isinstance(raw, bool):
            raise ValueError(  # noqa: TRY004 - msgspec turns ValueError into a field error
                "expected a size such as 64MiB, got a boolean"
            )
        if isinstance(raw, int):
            if raw < 0:
                raise ValueError("a size cannot be negative")
            return cls(raw)
        if isinstance(raw, str):
            match = _SIZE_RE.match(raw)
            if match:
                return cls(int(float(match.group(1)) * _SIZE_FACTORS[match.group(2)]))
        raise ValueError(f"expected a size such as 64MiB or 1GB, got {raw!r}")


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec decode hook that turns config strings into Duration and ByteSize."""
    if type_ is Duration:
        return Duration.parse(obj)
    if type_ is ByteSize:
        return ByteSize.parse(obj)
    raise TypeError(f"no decoder for {type_!r}")


def schema_hook(type_: type) -> dict[str, Any]:
    """JSON Schema for the custom quantity types, so editors accept "10s" and "256MiB"."""
    if type_ is Duration:
        return {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": _DURATION_RE.pattern},
            ],
            "description": "seconds, or a string such as 250ms, 10s, 5m, 1h",
        }
    if type_ is ByteSize:
        return {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": _SIZE_RE.pattern},
            ],
            "description": "bytes, or a string such as 64MiB",
        }
    raise TypeError(f"no schema for {type_!r}")
