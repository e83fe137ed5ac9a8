"""The room every live-activity command works in: find the activity, ask the policy, record the event
of record, publish it. Chat, Q&A, polls, hands and the lifecycle all take this one road.

Commands see the activity as a `RoomView` from the node's cache (`sessions.room_cache`); one that
changes the row loads it with `row()`. Events in `ROOM_CHANGES` change what the cache holds, so
recording one tells every node to forget its copy."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from collab import policy
from collab.realtime.dispatch import CommandError, Context, require
from sessions.records import Activity, ActivityEvent, aware
from sessions.room_cache import RoomView, rooms

# Events after which the activity, or one teacher's standing in it ("user_id"), reads differently.
ROOM_CHANGES = frozenset({"lobby_opened", "started", "phase_changed", "phase_extended", "ended", "archived",
                          "slow_mode", "premoderation", "qa_approval", "teacher_removed", "teacher_readmitted"})


def channel_of(activity_id: int) -> str:
    return f"activity:{activity_id}"


async def find_activity(ctx: Context, args: dict[str, Any], db) -> RoomView:
    activity_id = require(args, "activity_id", int)
    view = await rooms(ctx.services).view(db, activity_id)
    if view is None:
        raise CommandError("not_found", "no such activity")
    return view


async def access(ctx: Context, db, view: RoomView, actor=None) -> policy.ActivityAccess:
    """`actor`'s place in the activity (the command's own actor by default)."""
    return await rooms(ctx.services).access(db, view, ctx.actor if actor is None else actor)


async def in_room(ctx: Context, args: dict[str, Any], db, action: str = "activity.attend"):
    """The activity a command names, once the policy allows `action` there; and the actor's place in it."""
    view = await find_activity(ctx, args, db)
    acc = await access(ctx, db, view)
    policy.authorize(ctx.actor, action, acc)
    return view, acc


async def row(db, view: RoomView) -> Activity:
    """The stored activity behind a view, for a command that changes it."""
    activity = await db.get(Activity, view.id)
    if activity is None:
        raise CommandError("not_found", "no such activity")
    return activity


def event_json(ev: ActivityEvent, by_name: str) -> dict[str, Any]:
    return {**ev.data, "id": f"activity-event:{ev.id}", "at": aware(ev.at).isoformat(),
            "by": {"id": ev.actor_id, "name": by_name}}


async def record_event(ctx: Context, db, activity_id: int, event: dict[str, Any], *, room: bool = True,
                       desk: bool = False) -> dict[str, Any]:
    """The road every activity change takes: record it (committing the session's other changes with
    it), then publish it to the room and/or the moderators' desk. Returns the event as published."""
    return (await record_and_publish(ctx, db, activity_id, event, room=room, desk=desk))[0]


async def record_and_publish(ctx: Context, db, activity_id: int, event: dict[str, Any], *, room: bool = True,
                             desk: bool = False) -> tuple[dict[str, Any], int | None]:
    """`record_event`, also returning the event's offset in the room (None if not published there)."""
    record = ActivityEvent(activity_id=activity_id, type=event["type"], data=event, actor_id=ctx.actor.user_id,
                           at=datetime.now(timezone.utc))
    db.add(record)
    await db.commit()
    if event["type"] in ROOM_CHANGES:
        await rooms(ctx.services).changed(activity_id, event.get("user_id"))
    out = event_json(record, ctx.actor.name)
    offset = None
    if room:
        offset = await ctx.services.hub.publish(channel_of(activity_id), out)
    if desk:
        await ctx.services.hub.publish(moderation_channel_of(activity_id), out)
    return out, offset


def current_phase(activity: Activity):
    return activity.phases[activity.current_phase] if activity.current_phase is not None else None


def moderation_channel_of(activity_id: int) -> str:
    return f"activity:{activity_id}:mod"
