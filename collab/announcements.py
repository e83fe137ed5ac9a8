"""Announcements: a signed-in organizer tells every teacher watching a channel something.

The first event of record on the real-time core, and the shape later features follow: validate (no
I/O), authorize (policy), persist the record, then publish. The record is written before anything is
broadcast, so a crash never shows people something that is then gone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab import policy
from collab.auth.actor import Actor
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.realtime.protocol import Error, valid_channel
from collab.store.models import Announcement

MAX_BODY = 2000


def validate(channel: Any, body: Any) -> tuple[str, str]:
    if not valid_channel(channel):
        raise CommandError(Error.BAD_CHANNEL, "channel must be 'namespace:name'")
    if not isinstance(body, str) or not body.strip():
        raise CommandError(Error.INVALID, "body must be non-empty text")
    if len(body) > MAX_BODY:
        raise CommandError(Error.INVALID, f"body is longer than {MAX_BODY} characters")
    return channel, body.strip()


def as_event(a: Announcement, author_name: str) -> dict[str, Any]:
    return {
        "type": "announcement",
        "id": f"announcement:{a.id}",
        "body": a.body,
        "author": {"id": a.author_id, "name": author_name},
        "at": a.created_at.isoformat(),
    }


async def post(db: AsyncSession, hub, actor: Actor, channel: str, body: str) -> tuple[dict[str, Any], int | None]:
    channel, body = validate(channel, body)
    policy.authorize(actor, "announce.post", channel)
    record = Announcement(channel=channel, author_id=actor.user_id, body=body)
    db.add(record)
    await db.commit()
    event = as_event(record, actor.name)
    offset = await hub.publish(channel, event)
    return event, offset


async def recent(db: AsyncSession, channel: str, limit: int = 50, before: int | None = None) -> list[Announcement]:
    """The newest `limit` announcements (older than id `before`, to page back), oldest first."""
    query = select(Announcement).where(Announcement.channel == channel)
    if before is not None:
        query = query.where(Announcement.id < before)
    rows = await db.execute(query.order_by(Announcement.id.desc()).limit(limit))
    return list(reversed(rows.scalars().all()))


def register(registry: Registry) -> None:
    @registry.command("announce.post")
    async def _post(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        channel = require(args, "channel", str, max_len=128)
        body = require(args, "body", str, max_len=MAX_BODY)
        async with ctx.services.sessionmaker() as db:
            event, offset = await post(db, ctx.services.hub, ctx.actor, channel, body)
        return {"id": event["id"], "offset": offset}
