"""Enrollment: trade a claim token and the device's public key for its identity (the bundle).

`POST {fleet}/api/v1/enroll` is idempotent for the same (token, serial, public key), so a
request whose answer was lost can simply be sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from provisioning.http import FleetUnreachable, request

log = logging.getLogger(__name__)
ENROLL_PATH = "/api/v1/enroll"


class Pole(msgspec.Struct, kw_only=True):
    """Where the gateway is mounted."""

    pole_id: str
    lat: float | None = None
    lon: float | None = None
    street: str | None = None
    district: str | None = None


class EnrollRequest(msgspec.Struct, kw_only=True):
    """The body of an enrollment request."""

    claim_token: str
    serial: str
    public_key: str
    pole: Pole


class SigningKeyInfo(msgspec.Struct, kw_only=True):
    """The fleet's config-signing key."""

    kid: str
    ed25519_b64: str


class EnrollResponse(msgspec.Struct, kw_only=True, repr_omit_defaults=True):
    """The fleet's answer: the device's identity and first config."""

    device_id: str
    broker_urls: list[str]
    config_signing_public_key: SigningKeyInfo
    initial_config: dict[str, Any]
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    client_cert_pem: str | None = None
    ca_cert_pem: str | None = None
    fleet_url: str | None = None

    def __repr__(self) -> str:
        """Never show the password, even in a traceback."""
        return f"EnrollResponse(device_id={self.device_id!r}, brokers={self.broker_urls!r})"


# code -> (retry later?, what the technician does next)
HINTS: dict[str, tuple[bool, str]] = {
    "claim_unknown": (
        False,
        "this fleet does not know the claim token: check it for typos and that --fleet is the "
        "fleet that issued it",
    ),
    "claim_expired": (False, "the claim token has expired: ask a fleet admin for a new one"),
    "claim_exhausted": (
        False,
        "the claim token has been used for as many gateways as it allows: ask a fleet admin "
        "for a new one",
    ),
    "claim_revoked": (False, "the claim token was revoked: ask a fleet admin for a new one"),
    "serial_taken": (
        False,
        "a gateway with this serial is already enrolled with another key: if it replaces a "
        "broken one, ask a fleet admin to revoke the old device; if you are re-provisioning "
        "it, run `polekit provision --resume` to reuse the queued key",
    ),
    "rate_limited": (True, "the fleet is rate limiting enrollments: wait a minute and retry"),
    "pole_taken": (
        False,
        "another gateway is already enrolled on this pole: check --pole, or ask a fleet admin "
        "to retire the old gateway if this one replaces it",
    ),
    "broker_unavailable": (True, "the fleet cannot reach its broker right now: retry shortly"),
    "bad_key": (
        False,
        "the fleet rejected the device's public key: update polekit on this laptop (its key "
        "format may be newer or older than the fleet's)",
    ),
}


class EnrollError(Exception):
    """The fleet refused the enrollment; `hint` says what to do next."""

    def __init__(self, *, code: str, detail: str, hint: str, retryable: bool) -> None:
        self.code = code
        self.detail = detail
        self.hint = hint
        self.retryable = retryable
        super().__init__(f"{code}: {detail}" if detail else code)


def enroll_once(fleet_url: str, body: EnrollRequest, *, timeout: float = 15.0) -> EnrollResponse:
    """One attempt; EnrollError for a refusal, FleetUnreachable when there is no answer."""
    answer = request(
        "POST", fleet_url + ENROLL_PATH, body=msgspec.to_builtins(body), timeout=timeout
    )
    if answer.status == 200 or answer.status == 201:
        try:
            return msgspec.convert(answer.body, EnrollResponse)
        except msgspec.ValidationError as exc:
            raise EnrollError(
                code="bad_response",
                detail=str(exc),
                hint="the fleet's answer is not a bundle this polekit understands: update polekit",
                retryable=False,
            ) from exc
    raise _error(answer.status, answer.body)


def _error(status: int, body: Any) -> EnrollError:
    code = body.get("error") if isinstance(body, dict) else None
    detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
    if isinstance(code, str) and code in HINTS:
        retryable, hint = HINTS[code]
        return EnrollError(code=code, detail=detail, hint=hint, retryable=retryable)
    if status == 404:
        return EnrollError(
            code="no_enroll_endpoint",
            detail=f"HTTP 404 from {ENROLL_PATH}",
            hint="--fleet does not point at a polekit fleet with enrollment: check the URL",
            retryable=False,
        )
    retryable = status >= 500 or status == 429
    return EnrollError(
        code=str(code or f"http_{status}"),
        detail=detail or f"HTTP {status}",
        hint="the fleet had a problem; it is retried" if retryable else "check the options given",
        retryable=retryable,
    )


def enroll(
    fleet_url: str,
    body: EnrollRequest,
    *,
    attempts: int = 4,
    delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda _message: None,
) -> EnrollResponse:
    """Enroll, retrying unreachable/temporary failures with exponential backoff.

    Raises the last FleetUnreachable or retryable EnrollError once `attempts` are used up,
    and a permanent EnrollError at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return enroll_once(fleet_url, body)
        except FleetUnreachable as exc:
            if attempt == attempts:
                raise
            problem = f"fleet unreachable ({exc})"
        except EnrollError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            problem = f"fleet answered {exc.code}"
        wait = delay * 2 ** (attempt - 1)
        progress(f"{problem}; retrying in {wait:.0f} s (attempt {attempt + 1} of {attempts})")
        sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises
