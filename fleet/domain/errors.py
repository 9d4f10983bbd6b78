"""Domain errors: services raise these, and only the HTTP layer turns them into status codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a domain service raises on purpose."""


class NotFoundError(DomainError):
    """The thing asked for does not exist."""


class ConflictError(DomainError):
    """The request contradicts what is stored (e.g. registering a device twice)."""


class InvalidQueryError(DomainError):
    """A query parameter the service cannot use (e.g. a malformed cursor)."""
