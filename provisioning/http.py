"""A small JSON-over-HTTP client for the fleet API (stdlib only: the laptop may be offline-ish)."""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class FleetUnreachable(Exception):  # noqa: N818 - reads as what happened
    """No HTTP answer from the fleet (refused, timed out, DNS); worth retrying later."""


@dataclass(frozen=True, kw_only=True)
class Response:
    """An HTTP answer: status, parsed JSON body (None if not JSON) and the fleet's clock."""

    status: int
    body: Any
    fleet_time: float
    """Unix time from the fleet's Date header (second resolution), or this machine's clock."""


def check_fleet_url(url: str) -> str:
    """The fleet URL without a trailing slash; ValueError when it is not http(s)://host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"fleet URL {url!r} must look like https://fleet.example or http://host:port"
        )
    return url.rstrip("/")


def request(
    method: str, url: str, *, body: Any = None, timeout: float = 10.0, api_key: str | None = None
) -> Response:
    """Send one request; HTTP errors come back as a Response, network failures raise."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:  # noqa: S310 - checked URL
            return _response(answer.status, answer.read(), answer.headers.get("Date"))
    except urllib.error.HTTPError as exc:
        with exc:
            return _response(exc.code, exc.read(), exc.headers.get("Date"))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FleetUnreachable(f"{url}: {reason}") from exc


def _response(status: int, raw: bytes, date: str | None) -> Response:
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    fleet_time = time.time()
    if date:
        with contextlib.suppress(TypeError, ValueError):
            fleet_time = email.utils.parsedate_to_datetime(date).timestamp()
    return Response(status=status, body=body, fleet_time=fleet_time)
