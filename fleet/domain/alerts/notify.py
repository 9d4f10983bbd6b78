"""Alert notifications: an outbox of webhook deliveries, signed with HMAC-SHA256, retried with
exponential backoff. Delivery runs in the fleet process (see fleet.domain.alerts.worker).

Each POST carries `X-Polekit-Timestamp` and `X-Polekit-Signature: sha256=HEX`, the HMAC of
`{timestamp}.{body}` under the webhook's secret, so a receiver can check origin and freshness.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.principal import covers
from fleet.db.operations import Alert, Notification, Webhook

log = logging.getLogger("fleet.alerts.notify")
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for one delivery."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff_s(attempts: int) -> float:
    """Seconds before retry number `attempts` (1-based): doubling, capped, with jitter."""
    delay: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempts - 1))
    return delay * random.uniform(0.8, 1.2)


def event_payload(alert: Alert, event: str, at: datetime) -> dict[str, object]:
    """What a webhook receives: the event and the alert as it stands."""
    return {
        "event": event,
        "at": at.isoformat(),
        "alert": {
            "id": alert.id,
            "rule_id": alert.rule_id,
            "device_id": alert.device_id,
            "subject": alert.subject,
            "group": alert.group_path,
            "status": alert.status,
            "severity": alert.severity,
            "message": alert.message,
            "value": alert.value,
            "opened_at": alert.opened_at.isoformat(),
            "acknowledged_by": alert.acknowledged_by,
            "resolved_by": alert.resolved_by,
        },
    }


async def enqueue(session: AsyncSession, alert: Alert, event: str, *, now: datetime) -> int:
    """Queue one delivery per enabled webhook covering the alert's group (in the caller's
    transaction, so an alert and its notifications commit together)."""
    await session.flush()  # the alert needs its id
    hooks = await session.scalars(select(Webhook).where(Webhook.enabled.is_(True)))
    payload = event_payload(alert, event, now)
    queued = 0
    for hook in hooks:
        if covers(hook.scope, alert.group_path):
            session.add(
                Notification(
                    webhook_id=hook.id,
                    alert_id=alert.id,
                    event=event,
                    payload=payload,
                    attempts=0,
                    next_attempt_at=now,
                    failed=False,
                    created_at=now,
                )
            )
            queued += 1
    return queued


class Notifier:
    """Delivers due notifications; a failed one is retried with backoff, then marked failed."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, timeout_s: float = 5.0
    ) -> None:
        self._sessions = sessions
        self._timeout_s = timeout_s
        self.delivered = 0
        self.failures = 0

    async def run(self, *, interval_s: float = 0.5) -> None:
        """Deliver until cancelled."""
        async with httpx.AsyncClient(timeout=self._timeout_s) as client:
            while True:
                try:
                    await self.deliver_due(client, now=datetime.now().astimezone())
                except Exception:
                    log.exception("webhook delivery round failed")
                await asyncio.sleep(interval_s)

    async def deliver_due(self, client: httpx.AsyncClient, *, now: datetime) -> int:
        """One round: POST every due notification once; returns how many were delivered."""
        async with self._sessions() as session, session.begin():
            due = list(
                await session.scalars(
                    select(Notification)
                    .where(
                        Notification.delivered_at.is_(None),
                        Notification.failed.is_(False),
                        Notification.next_attempt_at <= now,
                    )
                    .order_by(Notification.id)
                    .limit(50)
                )
            )
            hooks = {h.id: h for h in await session.scalars(select(Webhook))}
            delivered = 0
            for note in due:
                hook = hooks.get(note.webhook_id)
                if hook is None:
                    note.failed, note.last_error = True, "webhook deleted"
                    continue
                error = await self._post(client, hook, note, now)
                note.attempts += 1
                if error is None:
                    note.delivered_at = now
                    delivered += 1
                    continue
                self.failures += 1
                note.last_error = error[:300]
                if note.attempts >= MAX_ATTEMPTS:
                    note.failed = True
                    log.warning("webhook %d: giving up on notification %d", hook.id, note.id)
                else:
                    note.next_attempt_at = now + timedelta(seconds=backoff_s(note.attempts))
        self.delivered += delivered
        return delivered

    async def _post(
        self, client: httpx.AsyncClient, hook: Webhook, note: Notification, now: datetime
    ) -> str | None:
        body = json.dumps(note.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-Polekit-Event": note.event,
            "X-Polekit-Timestamp": timestamp,
            "X-Polekit-Signature": sign(hook.secret, timestamp, body),
        }
        try:
            response = await client.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        if response.status_code >= 300:
            return f"HTTP {response.status_code}"
        return None
