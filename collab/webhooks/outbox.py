"""The outbox: a webhook event is a row written in the same transaction as the change it reports, so
a change that is rolled back tells nobody, and one that is committed is told even if the node dies a
moment later (the lease holder delivers it, see deliverer.py).

The body is the Standard Webhooks shape `{"type", "timestamp", "data"}`, serialized once here and
stored as sent: every retry and replay signs the same bytes under the same `webhook-id`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from collab.store.models import WebhookEvent

# The event types a receiver may subscribe to (docs/integration.md describes each).
TYPES = (
    "activity.scheduled",
    "activity.changed",
    "activity.cancelled",
    "activity.started",
    "activity.phase_changed",
    "activity.ended",
    "registration.decided",
    "attendance.finalized",
)
ALL = "*"


def new_msg_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def row(type_: str, data: dict[str, Any], at: datetime | None = None) -> WebhookEvent:
    """The outbox row for an event, for the caller to add to the transaction of its change."""
    if type_ not in TYPES:
        raise ValueError(f"not a webhook event type: {type_!r}")
    at = at or datetime.now(timezone.utc)
    body = {"type": type_, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data}
    return WebhookEvent(msg_id=new_msg_id(), type=type_, payload=orjson.dumps(body).decode(), created_at=at,
                        fanned_out=False)


def record(db: AsyncSession, type_: str, data: dict[str, Any], at: datetime | None = None) -> WebhookEvent:
    """Add the event to `db`'s transaction: it is stored when, and only if, the caller commits."""
    event = row(type_, data, at)
    db.add(event)
    return event
