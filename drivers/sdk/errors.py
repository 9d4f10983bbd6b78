"""The SDK's one error family: callers catch DriverError and nothing else."""

from __future__ import annotations


class DriverError(Exception):
    """Something about a driver, its manifest or its data is wrong."""


class DecodeError(DriverError):
    """Register data cannot be decoded (wrong length, bad value for the type)."""


class EncodeError(DriverError):
    """A value cannot be encoded into registers (out of range for the data type)."""


class ManifestError(DriverError):
    """A driver.yaml is unreadable or invalid; names the file and the field."""


class UnknownDriverError(DriverError, LookupError):
    """No driver with that name is installed."""
