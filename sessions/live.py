"""Running an activity over `/ws`: the host's lifecycle commands, the activity channel, the snapshot.

Every change takes the road of `sessions.room`: load (the room from the node's cache; the policy asked
once), decide (`sessions.lifecycle`, no I/O), record the new state and the event of record in one
transaction, then publish on `activity:<id>`. Two hosts pressing "next" at once on two nodes cannot
both win: the state is written with a compare-and-set (`room.Only`), and the loser is told `conflict`.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import update as sql_update

from collab import policy
from collab.policy import ActivityChannel
from collab.realtime.bus import BusUnavailable
from collab.realtime.dispatch import CommandError, Context, Registry
from collab.webhooks import outbox
from sessions import lifecycle, outbound, scheduling
from sessions.chat import recent_for_snapshot
from sessions.groups import commands as group_commands, formation as groups_formation
from sessions.polls import current_poll
from sessions.qa import top_questions
from sessions.records import Activity, ActivityPhase, aware
from sessions.room import Only, access, channel_of, load, publish, record
from sessions.room_cache import rooms
from sessions.stage import roster as stage_roster, seat


def live_state(a: Activity) -> lifecycle.LiveState:
    return lifecycle.LiveState(
        state=a.state, phase_count=len(a.phases), current_phase=a.current_phase,
        phase_started_at=a.phase_started_at and aware(a.phase_started_at),
        started_at=a.started_at and aware(a.started_at), ended_at=a.ended_at and aware(a.ended_at),
    )


def _lifecycle_command(command: str):
    async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        async with ctx.services.sessionmaker() as db:
            scene = await load(ctx, db, args, authorize="activity.run")
            before = live_state(scene.room)
            change = lifecycle.apply(before, command, args, now)
            after, activity_id = change.state, scene.room.id
            same_phase = (Activity.current_phase.is_(None) if before.current_phase is None
                          else Activity.current_phase == before.current_phase)
            writes = [Only(  # two hosts pressing "next" at once on two nodes: one wins, the other hears `conflict`
                sql_update(Activity)
                .where(Activity.id == activity_id, Activity.state == before.state, same_phase)
                .values(state=after.state, current_phase=after.current_phase, phase_started_at=after.phase_started_at,
                        started_at=after.started_at, ended_at=after.ended_at)
                .execution_options(synchronize_session=False))]
            if change.extend_minutes:
                writes.append(
                    sql_update(ActivityPhase)
                    .where(ActivityPhase.activity_id == activity_id, ActivityPhase.position == after.current_phase)
                    .values(minutes=ActivityPhase.minutes + change.extend_minutes)
                    .execution_options(synchronize_session=False))
            if change.event["type"] in outbound.LIFECYCLE:  # told in the transaction of the change
                writes.append(outbox.row(outbound.LIFECYCLE[change.event["type"]],
                                         outbound.lifecycle(scene.room, after, change.event), now))
            event = await record(ctx, db, activity_id, *writes, event=change.event)
        answer = {"event": event, "offset": await publish(ctx, activity_id, event)}
        if change.event["type"] in ("started", "phase_changed"):
            await groups_formation.on_phase(ctx, activity_id)  # a group phase: people go into their groups
        return answer

    return handle


SNAPSHOT_TTL = 1.0  # a join storm of thousands shares one snapshot a second per node
_shared: dict[int, tuple[float, dict[str, Any]]] = {}


async def _shared_snapshot(ctx: Context, activity_id: int, view=None) -> dict[str, Any]:
    """What every attendee's snapshot has in common. The channel position is read before the state
    and kept with it, so a cached copy still tells the client where to recover from. A copy is not
    used once the room itself has moved on (another state or phase: `view`, the node's fresh copy)."""
    now = time.monotonic()
    cached = _shared.get(activity_id)
    if cached is not None and now - cached[0] < SNAPSHOT_TTL and (view is None or (
            cached[1]["activity"]["state"] == view.state
            and cached[1]["activity"]["current_phase"] == view.current_phase)):
        return cached[1]
    hub = ctx.services.hub
    try:
        position = await hub.bus.position(channel_of(activity_id))
        presence = await hub.presence(channel_of(activity_id))
    except BusUnavailable:
        raise CommandError("bus_unavailable", "the bus is unreachable; try again shortly") from None
    async with ctx.services.sessionmaker() as db:
        activity = await rooms(ctx.services).view(db, activity_id)
        body = scheduling.activity_json(activity)
        body["slow_mode"], body["premoderation"] = activity.slow_mode, activity.premoderation
        body["qa_approval"] = activity.qa_approval
        shared = {
            "activity": body,
            "chat": await recent_for_snapshot(db, activity_id),
            "questions": await top_questions(db, activity_id, "votes", limit=20),
            "poll": await current_poll(db, activity_id),
            "stage": await stage_roster(db, activity_id),
            "reporting": await group_commands.reporting_now(db, activity_id),  # a group reporting back
            "channel": channel_of(activity_id),
            "since": {"epoch": position.epoch, "offset": position.offset},
            "presence": {"clients": presence.clients, "users": presence.users},
        }
    if len(_shared) > 10_000:
        _shared.clear()
    _shared[activity_id] = (now, shared)
    return shared


def me_of(actor, acc: policy.ActivityAccess, stage_seat: policy.StageSeat) -> dict[str, Any]:
    """The caller's place in the room: what the page offers them. Each command is still authorized
    when it arrives."""
    return {"roles": sorted(acc.staff), "registration": acc.registration,
            "may_run": policy.allowed(actor, "activity.run", acc),
            "may_moderate": policy.allowed(actor, "activity.moderate", acc),
            "may_publish": policy.allowed(actor, "stage.publish", stage_seat),
            "invited_on_stage": stage_seat.invited,
            "may_manage_stage": policy.allowed(actor, "stage.manage", acc),
            "may_upload_media": policy.allowed(actor, "activity.media", acc)}


async def _snapshot(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """All a late joiner needs at once, and where on the channel to subscribe from."""
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args)
        activity, acc = scene.room, scene.access
        stage_seat = policy.StageSeat(acc)
        if activity.state == "live" and not policy.allowed(ctx.actor, "stage.publish", stage_seat):
            stage_seat = await seat(ctx, db, activity, acc)  # a teacher whose raised hand was called
    return {**await _shared_snapshot(ctx, activity.id, activity), "me": me_of(ctx.actor, acc, stage_seat)}


async def _resolve_channel(ctx: Context, channel: str) -> ActivityChannel | policy.GuardedChannel:
    """`activity:<id>` is the room; `activity:<id>:mod` its moderators' desk; `activity:<id>:group:<gid>`
    one of its breakout groups (sessions/groups)."""
    parts = channel.split(":")
    if len(parts) == 4 and parts[2] == "group" and parts[1].isdigit() and parts[3].isdigit():
        async with ctx.services.sessionmaker() as db:
            view = await rooms(ctx.services).view(db, int(parts[1]))
            acc = None if view is None else await access(ctx, db, view)
            return await group_commands.resolve_channel(ctx, db, view, acc, int(parts[3])) if view else \
                policy.GuardedChannel(channel, "group.attend", None)
    moderation = len(parts) == 3 and parts[2] == "mod"
    if len(parts) not in (2, 3) or len(parts) == 3 and not moderation or not parts[1].isdigit():
        return ActivityChannel(channel, None)
    async with ctx.services.sessionmaker() as db:
        view = await rooms(ctx.services).view(db, int(parts[1]))
        acc = None if view is None else await access(ctx, db, view)
        return ActivityChannel(channel, acc, moderation)


def register(registry: Registry) -> None:
    registry.channel_namespace("activity", _resolve_channel)
    registry.add("activity.snapshot", _snapshot)
    for command in lifecycle.COMMANDS:
        registry.add(f"activity.{command}", _lifecycle_command(command))
