"""The room every live-activity command works in, and the one road each command takes through it
(DESIGN.md, "The path of a message"):

    scene = await load(ctx, db, args, facts=...)   # 1. load: the room and the actor's standing from the
                                                   #    node's cache (no query when warm), the command's own
                                                   #    facts in one statement; the policy asked once
    change = rules.decide_...(facts, args, now)    # 2. decide: a pure function (discussion, questions,
                                                   #    voting, floor, lifecycle); refuses with a DomainError
    out = await record(ctx, db, scene.room.id, *writes, event=change.event)
                                                   # 3. record: one transaction; the room cache forgets
                                                   #    what the change made stale
    await publish(ctx, scene.room.id, out)         # 4. publish: to the room and/or the moderators' desk

Commands see the activity as a `RoomView` from the node's cache (`sessions.room_cache`) and change it
with statements, never through the view. Events in `ROOM_CHANGES` change what the cache holds, so
`record` tells every node to forget its copy: no caller has to remember to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy.sql import Executable

from collab import policy
from collab.realtime.dispatch import CommandError, Context, require
from sessions import audited
from sessions.records import ActivityEvent, aware
from sessions.room_cache import RoomView, rooms

# Events after which the activity, or one teacher's standing in it ("user_id"), reads differently.
ROOM_CHANGES = frozenset({"lobby_opened", "started", "phase_changed", "phase_extended", "ended", "archived",
                          "slow_mode", "premoderation", "qa_approval", "teacher_removed", "teacher_readmitted"})


def channel_of(activity_id: int) -> str:
    return f"activity:{activity_id}"


def moderation_channel_of(activity_id: int) -> str:
    return f"activity:{activity_id}:mod"


def group_channel_of(activity_id: int, group_id: int) -> str:
    """A breakout group's channel (sessions/groups): its chat, members, rapporteur, small stage."""
    return f"activity:{activity_id}:group:{group_id}"


# -- 1. load ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scene:
    """What a command found: the room as this node holds it, the actor's place in it, and the rows of
    the command's own facts statement (none when it has none)."""

    room: RoomView
    access: policy.ActivityAccess
    rows: tuple = ()

    @property
    def facts(self) -> Any:
        """The first row of the facts statement (a select of scalar subqueries has exactly one), or None."""
        return self.rows[0] if self.rows else None


Facts = Callable[[int], Executable]  # activity id -> the one statement that reads a command's own facts


async def load(ctx: Context, db, args: dict[str, Any], *, authorize: str | None = "activity.attend",
               facts: Facts | None = None) -> Scene:
    """Step 1. The activity `args` names and the actor's standing (the node's cache: no query when warm);
    the policy asked whether the actor may `authorize` there (None: the command asks it itself, because
    its decision needs the answer as a fact, not as a gate); then `facts(activity_id)` in one round trip."""
    view = await find_activity(ctx, args, db)
    acc = await access(ctx, db, view)
    if authorize is not None:
        policy.authorize(ctx.actor, authorize, acc)
    rows = tuple((await db.execute(facts(view.id))).all()) if facts is not None else ()
    return Scene(view, acc, rows)


def exempt(ctx: Context, scene: Scene) -> bool:
    """Staff, and whoever may moderate, are not held back by a phase's permissions, slow mode,
    pre-moderation or question approval: a fact for the discussion's and the questions' decisions."""
    return bool(scene.access.staff) or policy.allowed(ctx.actor, "activity.moderate", scene.access)


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
    scene = await load(ctx, db, args, authorize=action)
    return scene.room, scene.access


def current_phase(activity):
    return activity.phases[activity.current_phase] if activity.current_phase is not None else None


# -- 3. record --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Only:
    """A write that must change exactly one row: a compare-and-set. When it changes none, the room
    moved on since it was loaded: nothing is stored, the node's copy is dropped, the caller is told
    `conflict`."""

    statement: Executable


async def record(ctx: Context, db, activity_id: int, *writes: Any,
                 event: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Step 3. `writes` (statements, `Only` statements, new rows) and the event of record in one
    transaction, committing the session's other changes with them; then every node forgets what the
    event made stale in its room cache (`ROOM_CHANGES`), before anyone is answered. Returns the event
    as it will be published (None without one)."""
    for write in writes:
        if isinstance(write, Only):
            if (await db.execute(write.statement)).rowcount != 1:
                await db.rollback()
                rooms(ctx.services).forget(activity_id)
                raise CommandError("conflict", "the activity changed meanwhile; look at it again")
        elif isinstance(write, Executable):
            await db.execute(write)
        else:
            db.add(write)
    stored = None
    if event is not None:
        stored = ActivityEvent(activity_id=activity_id, type=event["type"], data=event,
                               actor_id=ctx.actor.user_id, at=datetime.now(timezone.utc))
        db.add(stored)
        audited.note(ctx, db, activity_id, event)  # a staff action's audit row, in the same transaction
    if stored is not None and event["type"] in ROOM_CHANGES:
        await rooms(ctx.services).commit(db, activity_id, event.get("user_id"))
    else:
        await db.commit()
    return None if stored is None else event_json(stored, ctx.actor.name)


def event_json(ev: ActivityEvent, by_name: str) -> dict[str, Any]:
    return {**ev.data, "id": f"activity-event:{ev.id}", "at": aware(ev.at).isoformat(),
            "by": {"id": ev.actor_id, "name": by_name}}


# -- 4. publish -------------------------------------------------------------------------------------


async def publish(ctx: Context, activity_id: int, out: dict[str, Any], *, room: bool = True,
                  desk: bool = False) -> int | None:
    """Step 4. To the room and/or the moderators' desk; returns the offset on the first of them (None
    when the bus is away)."""
    offset = None
    if room:
        offset = await ctx.services.hub.publish(channel_of(activity_id), out)
    if desk:
        on_desk = await ctx.services.hub.publish(moderation_channel_of(activity_id), out)
        offset = offset if room else on_desk
    return offset


# -- steps 3 and 4 for an event alone ---------------------------------------------------------------


async def record_event(ctx: Context, db, activity_id: int, event: dict[str, Any], *, room: bool = True,
                       desk: bool = False) -> dict[str, Any]:
    """Steps 3 and 4 for a change that is only its event (the stage's): record it, committing the
    session's other changes with it, then publish it to the room and/or the moderators' desk. Returns
    the event as published."""
    out = await record(ctx, db, activity_id, event=event)
    await publish(ctx, activity_id, out, room=room, desk=desk)
    return out
