"""The room every live-activity command works in: find the activity, ask the policy, record the event
of record, publish it. Chat, Q&A, polls, hands and the lifecycle all take this one road."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from collab import policy
from collab.realtime.dispatch import CommandError, Context, require
from sessions import scheduling
from sessions.records import Activity, ActivityEvent, aware


def channel_of(activity_id: int) -> str:
    return f"activity:{activity_id}"


async def find_activity(ctx: Context, args: dict[str, Any], db) -> Activity:
    activity_id = require(args, "activity_id", int)
    activity = await scheduling.get(db, activity_id)
    if activity is None:
        raise CommandError("not_found", "no such activity")
    return activity


async def in_room(ctx: Context, args: dict[str, Any], db, action: str = "activity.attend"):
    """The activity a command names, once the policy allows `action` there; and the actor's place in it."""
    activity = await find_activity(ctx, args, db)
    access = await scheduling.access(db, activity, ctx.actor)
    policy.authorize(ctx.actor, action, access)
    return activity, access


def event_json(ev: ActivityEvent, by_name: str) -> dict[str, Any]:
    return {**ev.data, "id": f"activity-event:{ev.id}", "at": aware(ev.at).isoformat(),
            "by": {"id": ev.actor_id, "name": by_name}}


async def record_event(ctx: Context, db, activity_id: int, event: dict[str, Any], *, room: bool = True,
                       desk: bool = False) -> dict[str, Any]:
    """The road every activity change takes: record it (committing the session's other changes with
    it), then publish it to the room and/or the moderators' desk. Returns the event as published."""
    record = ActivityEvent(activity_id=activity_id, type=event["type"], data=event, actor_id=ctx.actor.user_id,
                           at=datetime.now(timezone.utc))
    db.add(record)
    await db.commit()
    out = event_json(record, ctx.actor.name)
    if room:
        await ctx.services.hub.publish(channel_of(activity_id), out)
    if desk:
        await ctx.services.hub.publish(moderation_channel_of(activity_id), out)
    return out


def current_phase(activity: Activity):
    return activity.phases[activity.current_phase] if activity.current_phase is not None else None


def moderation_channel_of(activity_id: int) -> str:
    return f"activity:{activity_id}:mod"
