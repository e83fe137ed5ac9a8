"""The studio channel `studio:<id>` on `/ws`: announcements from those who run the studio and members'
discussion, recorded before they are published. `doc:<id>` carries a document's comment events to the
readers who have it open, whatever its home (the edits themselves travel over `/ws/docs`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from collab import policy
from collab.docs import homes
from collab.policy import GuardedChannel
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.store.models import User
from collab.studios.access import studio_access
from collab.studios.records import StudioPost

MAX_POST = 2000


def channel_of(studio_id: int) -> str:
    return f"studio:{studio_id}"


def post_json(p: StudioPost, name: str) -> dict[str, Any]:
    return {"id": p.id, "kind": p.kind, "body": p.body, "user": {"id": p.user_id, "name": name},
            "at": p.created_at.isoformat()}


async def _post(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    studio_id = require(args, "studio_id", int)
    kind = args.get("kind", "discussion")
    if kind not in ("discussion", "announcement"):
        raise CommandError("invalid", "kind is discussion or announcement")
    body = require(args, "body", str, max_len=MAX_POST).strip()
    if not body:
        raise CommandError("invalid", "body: 1 to 2000 characters")
    async with ctx.services.sessionmaker() as db:
        access = await studio_access(db, studio_id, ctx.actor)
        if access is None:
            raise CommandError("not_found", "no such studio")
        policy.authorize(ctx.actor, "studio.announce" if kind == "announcement" else "studio.post", access)
        post = StudioPost(studio_id=studio_id, user_id=ctx.actor.user_id, kind=kind, body=body,
                          created_at=datetime.now(timezone.utc))
        db.add(post)
        await db.commit()
    data = post_json(post, ctx.actor.name)
    offset = await ctx.services.hub.publish(channel_of(studio_id), {"type": "post", "id": f"studio-post:{post.id}",
                                                                    "post": data})
    return {"post": data, "offset": offset}


async def recent_posts(db, studio_id: int, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
    q = (select(StudioPost, User.display_name).join(User, User.id == StudioPost.user_id)
         .where(StudioPost.studio_id == studio_id).order_by(StudioPost.id.desc()).limit(limit))
    if before is not None:
        q = q.where(StudioPost.id < before)
    return [post_json(p, n) for p, n in reversed((await db.execute(q)).all())]


async def _resolve_studio(ctx: Context, channel: str) -> GuardedChannel:
    _, _, rest = channel.partition(":")
    access = None
    if rest.isdigit():
        async with ctx.services.sessionmaker() as db:
            access = await studio_access(db, int(rest), ctx.actor)
    return GuardedChannel(channel, "studio.read", access)


async def _resolve_doc(ctx: Context, channel: str) -> GuardedChannel:
    # a document's readers, as its home says (a studio's members, or another part's rule)
    _, _, rest = channel.partition(":")
    found = None
    if rest.isdigit():
        async with ctx.services.sessionmaker() as db:
            found = await homes.find(db, int(rest), ctx.actor)
    if found is None:
        return GuardedChannel(channel, "doc.read", None)
    _, home = found
    return GuardedChannel(channel, home.read, home.resource)


def register(registry: Registry) -> None:
    registry.channel_namespace("studio", _resolve_studio)
    registry.channel_namespace("doc", _resolve_doc)
    registry.add("studio.post", _post)
