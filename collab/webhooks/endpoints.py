"""What admins configure: receivers (URL, event types, enabled), their secrets and rotation, the delivery
log, and replay. Used by the API (api.py) and the CLI (`collab webhooks …`); the policy is asked by
those callers, since the CLI runs as the operator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab import audit
from collab.auth.actor import Actor
from collab.errors import DomainError
from collab.store.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from collab.webhooks import addresses, signing
from collab.webhooks.outbox import ALL, TYPES

MAX_DESCRIPTION = 200


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return aware(value).isoformat() if value is not None else None


def event_types(value: Any) -> list[str]:
    """A non-empty list of known event types, or ["*"] for every type."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise DomainError("invalid", f"event_types must be a non-empty list of {', '.join(TYPES)} or '*'")
    unknown = [v for v in value if v not in TYPES and v != ALL]
    if unknown:
        raise DomainError("unknown_event_type", f"no such event type: {', '.join(unknown)}")
    return [ALL] if ALL in value else list(dict.fromkeys(value))


def subscribed(endpoint: WebhookEndpoint, type_: str) -> bool:
    return ALL in endpoint.event_types or type_ in endpoint.event_types


def _description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise DomainError("invalid", f"description must be text of at most {MAX_DESCRIPTION} characters")
    return value


def signing_keys(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during a rotation."""
    keys = [endpoint.secret]
    until = aware(endpoint.previous_secret_until)
    if endpoint.previous_secret and until is not None and now < until:
        keys.append(endpoint.previous_secret)
    return keys


def endpoint_json(e: WebhookEndpoint, now: datetime | None = None) -> dict[str, Any]:
    """An endpoint as admins see it. The secret is shown only when made (create, rotate-secret)."""
    now = now or datetime.now(timezone.utc)
    rotating = len(signing_keys(e, now)) > 1
    return {"id": e.id, "url": e.url, "description": e.description, "event_types": list(e.event_types),
            "enabled": e.enabled, "failing_since": _iso(e.failing_since), "disabled_at": _iso(e.disabled_at),
            "disabled_reason": e.disabled_reason,
            "previous_secret_until": _iso(e.previous_secret_until) if rotating else None,
            "created_at": _iso(e.created_at)}


async def create(db: AsyncSession, created_by: int | None, url: Any, types: Any, description: Any = "",
                 *, allow_private: bool = False, secret: str | None = None,
                 actor: Actor | None = None) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its secret (made here unless given, `whsec_…`)."""
    if secret is not None and not signing.is_secret(secret):
        raise DomainError("invalid", "secret must be whsec_ and 24 to 64 bytes in base64")
    endpoint = WebhookEndpoint(url=addresses.check_config(url, allow_private), event_types=event_types(types),
                               description=_description(description), enabled=True,
                               secret=secret or signing.new_secret(), created_by=created_by,
                               created_at=datetime.now(timezone.utc))
    db.add(endpoint)
    await db.flush()
    audit.record(db, actor, "webhook.create", "webhook", endpoint.id,
                 {"url": endpoint.url, "event_types": list(endpoint.event_types)})
    return endpoint, endpoint.secret


async def get(db: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    # beyond an id column's range PostgreSQL would refuse the query itself
    endpoint = await db.get(WebhookEndpoint, endpoint_id) if 0 < endpoint_id < 2**31 else None
    if endpoint is None:
        raise DomainError("not_found", "no such webhook endpoint")
    return endpoint


async def listing(db: AsyncSession) -> list[WebhookEndpoint]:
    return list((await db.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id))).scalars())


async def change(db: AsyncSession, endpoint: WebhookEndpoint, data: dict[str, Any], *,
                 allow_private: bool = False, actor: Actor | None = None) -> WebhookEndpoint:
    """Change url, event_types, description or enabled. Enabling again forgets the failures that
    disabled it: its pending deliveries are tried again on their schedule."""
    if "url" in data:
        endpoint.url = addresses.check_config(data["url"], allow_private)
    if "event_types" in data:
        endpoint.event_types = event_types(data["event_types"])
    if "description" in data:
        endpoint.description = _description(data["description"])
    if "enabled" in data:
        if type(data["enabled"]) is not bool:
            raise DomainError("invalid", "enabled must be true or false")
        if data["enabled"] and not endpoint.enabled:
            endpoint.failing_since = endpoint.disabled_at = endpoint.disabled_reason = None
        elif not data["enabled"] and endpoint.enabled:
            endpoint.disabled_at, endpoint.disabled_reason = datetime.now(timezone.utc), "disabled by an admin"
        endpoint.enabled = data["enabled"]
    audit.record(db, actor, "webhook.change", "webhook", endpoint.id,
                 {k: data[k] for k in ("url", "event_types", "description", "enabled") if k in data})
    return endpoint


async def rotate(db: AsyncSession, endpoint: WebhookEndpoint, overlap: float, secret: str | None = None,
                 actor: Actor | None = None) -> str:
    """A new secret; the old one goes on signing for `overlap` seconds beside it."""
    if secret is not None and not signing.is_secret(secret):
        raise DomainError("invalid", "secret must be whsec_ and 24 to 64 bytes in base64")
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = datetime.now(timezone.utc) + timedelta(seconds=overlap)
    endpoint.secret = secret or signing.new_secret()
    audit.record(db, actor, "webhook.rotate_secret", "webhook", endpoint.id)  # never the secret
    return endpoint.secret


async def deliveries(db: AsyncSession, endpoint: WebhookEndpoint, status: str | None = None,
                     limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
    """The delivery log, newest first: each delivery with its event and every attempt."""
    q = (select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
         .where(WebhookDelivery.endpoint_id == endpoint.id))
    if status is not None:
        if status not in ("pending", "succeeded", "failed"):
            raise DomainError("invalid", "status must be pending, succeeded or failed")
        q = q.where(WebhookDelivery.status == status)
    if before is not None:
        q = q.where(WebhookDelivery.id < before)
    rows = (await db.execute(q.order_by(WebhookDelivery.id.desc()).limit(max(1, min(limit, 500))))).all()
    ids = [d.id for d, _ in rows]
    tries: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for a in (await db.execute(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids))
                                   .order_by(WebhookAttempt.id))).scalars():
            tries[a.delivery_id].append({"at": _iso(a.at), "node": a.node_id, "status_code": a.status_code,
                                         "error": a.error, "response": a.response, "duration_ms": a.duration_ms})
    return [{"id": d.id, "event": {"id": ev.msg_id, "type": ev.type, "created_at": _iso(ev.created_at)},
             "status": d.status, "attempts": tries[d.id], "last_status_code": d.last_status_code,
             "next_attempt_at": _iso(d.next_attempt_at) if d.status == "pending" else None}
            for d, ev in rows]


async def replay(db: AsyncSession, endpoint: WebhookEndpoint, msg_id: Any, actor: Actor | None = None) -> WebhookDelivery:
    """Deliver an event to the endpoint again, now, under its same `webhook-id` (a receiver that has it
    already knows it by that id). Works for events the endpoint never had, too (subscribed later)."""
    if not isinstance(msg_id, str):
        raise DomainError("invalid", "event must be an event id (msg_…)")
    event = (await db.execute(select(WebhookEvent).where(WebhookEvent.msg_id == msg_id))).scalar_one_or_none()
    if event is None:
        raise DomainError("not_found", "no such webhook event")
    now = datetime.now(timezone.utc)
    delivery = (await db.execute(select(WebhookDelivery).where(
        WebhookDelivery.event_id == event.id, WebhookDelivery.endpoint_id == endpoint.id))).scalar_one_or_none()
    if delivery is None:
        delivery = WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id, status="pending", attempts=0,
                                   next_attempt_at=now, created_at=now)
        db.add(delivery)
    else:
        delivery.status, delivery.next_attempt_at, delivery.attempts = "pending", now, 0
    await db.flush()
    audit.record(db, actor, "webhook.replay", "webhook", endpoint.id, {"event": msg_id})
    return delivery
