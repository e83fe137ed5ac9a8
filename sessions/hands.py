"""Raised hands: an ordered queue the moderators see; an expert calls on a teacher (the stage turns
that into an invitation to speak); teachers lower their own hand, moderators anyone's.

Raising and lowering go to the moderators' desk; a call goes to the whole room, so everyone sees who
is invited to speak. Every command takes the road of `sessions.room` (load, decide, record, publish);
the rules are `sessions.floor`'s. Reactions are in `sessions.reactions`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, update

from collab import policy
from collab.realtime.dispatch import Context, Registry, require
from collab.store.models import User
from sessions import floor
from sessions.batches import upsert
from sessions.records import Hand, aware
from sessions.room import current_phase, load, publish, record


async def queue(db, activity_id: int) -> list[dict[str, Any]]:
    rows = await db.execute(select(Hand, User.display_name, User.school, User.region)
                            .join(User, User.id == Hand.user_id)
                            .where(Hand.activity_id == activity_id, Hand.status == "raised")
                            .order_by(Hand.raised_at, Hand.user_id))
    return [{"user": {"id": h.user_id, "name": n, "school": s, "region": r}, "raised_at": aware(h.raised_at).isoformat()}
            for h, n, s, r in rows.all()]


def _status(activity_id: int, user_id: int):
    return select(Hand.status).where(Hand.activity_id == activity_id, Hand.user_id == user_id).scalar_subquery()


async def _raise(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    me = ctx.actor.user_id
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, facts=lambda a: select(
            _status(a, me),
            select(func.count()).select_from(Hand).where(  # the hands raised before this one
                Hand.activity_id == a, Hand.status == "raised", Hand.raised_at <= now, Hand.user_id != me)
            .scalar_subquery()))
        phase = current_phase(scene.room)
        event, position = floor.decide_raise(scene.room.state, bool(phase and phase.hands), me, *scene.facts)
        hand = upsert(db, Hand).values(activity_id=scene.room.id, user_id=me, status="raised", raised_at=now)
        out = await record(ctx, db, scene.room.id, hand.on_conflict_do_update(
            index_elements=["activity_id", "user_id"], set_={"status": "raised", "raised_at": now}),  # to the back
            event=event)
    await publish(ctx, scene.room.id, out, room=False, desk=True)
    return {"position": position}


async def _lower(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    user_id = args.get("user_id", ctx.actor.user_id)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="activity.attend", facts=lambda a: select(
            _status(a, user_id if type(user_id) is int else None)))
        event = floor.decide_lower(user_id, ctx.actor.user_id,
                                   policy.allowed(ctx.actor, "activity.moderate", scene.access), scene.facts[0])
        out = await record(ctx, db, scene.room.id, update(Hand).where(
            Hand.activity_id == scene.room.id, Hand.user_id == user_id).values(status="lowered"), event=event)
    await publish(ctx, scene.room.id, out, room=False, desk=True)
    return out


async def _call(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    user_id = require(args, "user_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="activity.moderate", facts=lambda a: select(
            _status(a, user_id), select(User.display_name).where(User.id == user_id).scalar_subquery()))
        event = floor.decide_call(user_id, *scene.facts)
        out = await record(ctx, db, scene.room.id, update(Hand).where(
            Hand.activity_id == scene.room.id, Hand.user_id == user_id).values(status="called"), event=event)
    await publish(ctx, scene.room.id, out, desk=True)
    return out


async def _queue(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="activity.moderate")
        return {"hands": await queue(db, scene.room.id)}


def register(registry: Registry) -> None:
    registry.add("hand.raise", _raise)
    registry.add("hand.lower", _lower)
    registry.add("hand.call", _call)
    registry.add("hand.queue", _queue)
