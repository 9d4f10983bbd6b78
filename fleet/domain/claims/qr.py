"""QR codes of claim tokens as SVG, PNG and terminal text (segno, no image library needed)."""

from __future__ import annotations

import io
from typing import Literal

import segno

QrFormat = Literal["svg", "png", "txt"]
MEDIA_TYPES: dict[str, str] = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "txt": "text/plain; charset=utf-8",
}


def render(token: str, fmt: QrFormat) -> bytes:
    """The token as a QR code; `txt` draws it with block characters and adds the token line."""
    code = segno.make(token, error="m")
    if fmt == "txt":
        out = io.StringIO()
        code.terminal(out=out, compact=True, border=2)
        return (out.getvalue() + token + "\n").encode()
    buffer = io.BytesIO()
    code.save(buffer, kind=fmt, scale=8, border=4)
    return buffer.getvalue()
