"""Path parameters shared by the controllers, validated before any database sees them."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

from protocol.ids import DEVICE_ID_PATTERN

MAX_ROW_ID = 2**63 - 1

RowId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID, description="a row id")]
"""An integer id: out of range is a 400, never a database overflow."""
DevicePath = Annotated[
    str, Parameter(pattern=f"^{DEVICE_ID_PATTERN}$", description="a device id, [a-z0-9-]{1,64}")
]
TokenId = Annotated[str, Parameter(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="an id")]
