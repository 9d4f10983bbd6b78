"""Domain errors: services raise these, and only the HTTP layer turns them into status codes.

Every error carries a machine-readable `code` (the `error` field of the JSON answer); the
message is for people and says what to do next where someone can act on it.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a domain service raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFoundError(DomainError):
    """The thing asked for does not exist."""

    code = "not_found"


class ConflictError(DomainError):
    """The request contradicts what is stored (e.g. registering a device twice)."""

    code = "conflict"


class InvalidQueryError(DomainError):
    """A query parameter the service cannot use (e.g. a malformed cursor)."""

    code = "invalid_query"


class InvalidInputError(DomainError):
    """A request body the service cannot use (e.g. a public key that does not parse)."""

    code = "invalid_input"


class UnauthorizedError(DomainError):
    """The credential presented is unknown."""

    code = "unauthorized"


class ForbiddenError(DomainError):
    """The credential is known but may not do this (expired, used up, revoked)."""

    code = "forbidden"


class RateLimitedError(DomainError):
    """Too many attempts; `retry_after_s` says when to try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnavailableError(DomainError):
    """A service the fleet depends on (the broker) cannot do its part right now."""

    code = "unavailable"
