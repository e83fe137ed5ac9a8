"""Raised hands: an ordered queue the moderators see; an expert calls on a teacher (the stage turns
that into an invitation to speak); teachers lower their own hand, moderators anyone's.

Raising and lowering go to the moderators' desk; a call goes to the whole room, so everyone sees who
is invited to speak. Reactions are in `sessions.reactions`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select

from collab import policy
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.store.models import User
from sessions.records import Hand, aware
from sessions.room import access, current_phase, find_activity, in_room, record_event


async def queue(db, activity_id: int) -> list[dict[str, Any]]:
    rows = await db.execute(select(Hand, User.display_name, User.school, User.region)
                            .join(User, User.id == Hand.user_id)
                            .where(Hand.activity_id == activity_id, Hand.status == "raised")
                            .order_by(Hand.raised_at, Hand.user_id))
    return [{"user": {"id": h.user_id, "name": n, "school": s, "region": r}, "raised_at": aware(h.raised_at).isoformat()}
            for h, n, s, r in rows.all()]


async def _raise(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db)
        phase = current_phase(activity)
        if activity.state != "live" or not (phase and phase.hands):
            raise CommandError("hands_closed", "hands are not taken during this phase")
        hand = await db.get(Hand, (activity.id, ctx.actor.user_id))
        if hand is not None and hand.status == "raised":
            raise CommandError("already_raised", "your hand is already raised")
        if hand is None:
            db.add(Hand(activity_id=activity.id, user_id=ctx.actor.user_id, status="raised", raised_at=now))
        else:
            hand.status, hand.raised_at = "raised", now  # to the back of the queue
        await db.flush()
        position = (await db.execute(select(func.count()).select_from(Hand).where(
            Hand.activity_id == activity.id, Hand.status == "raised", Hand.raised_at <= now))).scalar_one()
        await record_event(ctx, db, activity.id, {"type": "hand_raised", "user_id": ctx.actor.user_id},
                           room=False, desk=True)
    return {"position": position}


async def _lower(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    async with ctx.services.sessionmaker() as db:
        activity = await find_activity(ctx, args, db)
        acc = await access(ctx, db, activity)
        user_id = args.get("user_id", ctx.actor.user_id)
        if type(user_id) is not int:
            raise CommandError("invalid", "user_id must be a user id")
        if user_id != ctx.actor.user_id:
            policy.authorize(ctx.actor, "activity.moderate", acc)
        hand = await db.get(Hand, (activity.id, user_id))
        # a teacher called on stage may still say no: lowering their own called hand declines
        declined = hand is not None and hand.status == "called" and user_id == ctx.actor.user_id
        if hand is None or hand.status != "raised" and not declined:
            raise CommandError("not_raised", "that hand is not raised")
        hand.status = "lowered"
        event = {"type": "hand_lowered", "user_id": user_id, **({"declined": True} if declined else {})}
        return await record_event(ctx, db, activity.id, event, room=False, desk=True)


async def _call(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    user_id = require(args, "user_id", int)
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db, "activity.moderate")
        hand = await db.get(Hand, (activity.id, user_id))
        if hand is None or hand.status != "raised":
            raise CommandError("not_raised", "call on a teacher whose hand is raised")
        hand.status = "called"
        user = await db.get(User, user_id)
        return await record_event(ctx, db, activity.id, {"type": "hand_called", "user_id": user_id,
                                                         "name": user.display_name if user else ""}, desk=True)


async def _queue(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db, "activity.moderate")
        return {"hands": await queue(db, activity.id)}


def register(registry: Registry) -> None:
    registry.add("hand.raise", _raise)
    registry.add("hand.lower", _lower)
    registry.add("hand.call", _call)
    registry.add("hand.queue", _queue)
