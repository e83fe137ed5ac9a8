"""Breakout groups over `/ws` (docs/groups.md, "Commands"). Every command takes the road of
`sessions.room`: load (the room and the actor's standing from the node's cache, the groups from the
node's `GroupBook`), decide (`sessions.groups.rules`), record, publish: to the group's channel
(`activity:<id>:group:<gid>`), or to the room for what everyone sees.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update

from collab import policy
from collab.errors import DomainError
from collab.policy import GroupAccess
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.store.models import User
from sessions.batches import upsert
from sessions.groups import formation, leaving, notes, rules
from sessions.groups.book import Group, PhaseBook, book_of
from sessions.groups.records import ActivityGroup, GroupMember, GroupMessage
from sessions.chat import author_facts
from sessions.records import ActivityEvent, Hand, aware
from sessions.room import Scene, exempt, group_channel_of, load, publish, record, record_event

FOREVER = datetime.max.replace(tzinfo=timezone.utc)
HISTORY = 100
MOVED = "moved_to_another_group"  # the close reason of a moved teacher's sockets on the old group's notes


def group_json(activity_id: int, phase: rules.GroupPhase, g: Group, members: int) -> dict[str, Any]:
    return {"id": g.id, "number": g.number, "name": g.name, "size": phase.size, "members": members,
            "rapporteur": {"id": g.rapporteur[0], "name": g.rapporteur[1]} if g.rapporteur else None,
            "doc_id": g.doc_id, "channel": group_channel_of(activity_id, g.id)}


def message_json(m: GroupMessage, name: str) -> dict[str, Any]:
    return {"id": m.id, "group_id": m.group_id, "user": {"id": m.user_id, "name": name}, "body": m.body,
            "status": m.status, "at": aware(m.created_at).isoformat()}


def _ends_at(view, phase: rules.GroupPhase) -> str | None:
    if view.current_phase != phase.phase or view.phase_started_at is None:
        return None
    return (aware(view.phase_started_at) + timedelta(minutes=view.phases[phase.phase].minutes)).isoformat()


# -- finding a group and the actor's place in it ----------------------------------------------------


async def _phase_book(ctx: Context, db, scene: Scene) -> tuple[rules.GroupPhase, PhaseBook]:
    phase = rules.last_group_phase(scene.room)
    book = None if phase is None else await book_of(ctx.services).phase(db, scene.room.id, phase.phase)
    if book is None:
        raise DomainError("no_groups", "no groups have been formed in this activity")
    return phase, book


async def _access(ctx: Context, db, view, acc, phase: rules.GroupPhase, group_id: int) -> GroupAccess:
    """The actor's place in group `group_id` of `phase`: a member or not, the phase running or not."""
    mine = await book_of(ctx.services).group_of(db, view.id, phase.phase, ctx.actor.user_id) if ctx.actor else None
    running = rules.running_group_phase(view)
    return GroupAccess(acc, member=mine == group_id, running=running is not None and running.phase == phase.phase)


async def find_group(ctx: Context, db, scene: Scene, group_id: int, action: str
                     ) -> tuple[rules.GroupPhase, PhaseBook, Group, GroupAccess]:
    """The group `group_id` of the activity's current (or latest) group phase, once the policy allows
    `action` there (for the commands here, and for what other parts do in a group: its small stage,
    sessions.stage.group_stage)."""
    phase, book = await _phase_book(ctx, db, scene)
    g = book.groups.get(group_id)
    if g is None:
        raise CommandError("not_found", "no such group in this activity's group discussion")
    acc = await _access(ctx, db, scene.room, scene.access, phase, group_id)
    if not policy.allowed(ctx.actor, action, acc) and policy.allowed(ctx.actor, "activity.attend", scene.access):
        if not policy.allowed(ctx.actor, "group.attend", acc):  # in the room, not in this group
            raise CommandError("not_in_group", "you are not in this group")
        if not acc.running:
            raise CommandError("no_groups", "the group discussion has ended")
    policy.authorize(ctx.actor, action, acc)
    return phase, book, g, acc


async def resolve_channel(ctx: Context, db, view, acc, group_id: int) -> policy.GuardedChannel:
    """`activity:<id>:group:<gid>` for the subscribe command: guarded by `group.attend`."""
    channel = group_channel_of(view.id, group_id)
    phase = rules.last_group_phase(view)
    book = None if phase is None or acc is None else await book_of(ctx.services).phase(db, view.id, phase.phase)
    if book is None or group_id not in book.groups:
        return policy.GuardedChannel(channel, "group.attend", None)
    return policy.GuardedChannel(channel, "group.attend", await _access(ctx, db, view, acc, phase, group_id))


# -- a teacher's own group --------------------------------------------------------------------------


async def _mine(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """The caller's group in the running (or latest) group phase; a late joiner is placed now."""
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args)
        view, me = scene.room, ctx.actor.user_id
        phase = rules.last_group_phase(view)
        if phase is None:
            return {"phase": None, "group": None, "choices": [], "forming": False}
        book = book_of(ctx.services)
        pb = await book.phase(db, view.id, phase.phase)
        running = rules.running_group_phase(view) is not None
        if pb is None and running:
            pb = await formation.overdue(ctx, db, view, phase)
        if pb is None:  # the host's command is forming them: `groups_formed` follows
            return {"phase": phase.phase, "mode": phase.mode, "group": None, "choices": [], "forming": running}
        gid = await book.group_of(db, view.id, phase.phase, me)
        placed = False
        if gid is None and running and me not in formation.staff_ids(view):
            gid = await formation.place(db, book, view, phase, me)
            placed = gid is not None
        counts = pb.counts()
        answer = {"phase": phase.phase, "mode": phase.mode, "forming": False, "ends_at": _ends_at(view, phase),
                  "questions": list(phase.plan.questions),
                  "group": group_json(view.id, phase, pb.groups[gid], counts.get(gid, 0)) if gid in pb.groups else None,
                  "choices": [group_json(view.id, phase, g, counts.get(g.id, 0)) for g in pb.by_number()]
                  if phase.mode == "self_select" else []}
    if placed:
        await _joined(ctx, view.id, gid, "late")
    return answer


async def _joined(ctx: Context, activity_id: int, group_id: int, how: str) -> None:
    await ctx.services.hub.publish(group_channel_of(activity_id, group_id), {
        "type": "group_member_joined", "id": f"joined:{ctx.actor.user_id}:{datetime.now(timezone.utc).timestamp()}",
        "user": {"id": ctx.actor.user_id, "name": ctx.actor.name}, "how": how})


async def _left(ctx: Context, activity_id: int, group_id: int, doc_id: int | None, user: dict[str, Any],
                reason: str) -> None:
    """A teacher is no longer in a group: their subscription to its channel and their sockets on its
    notes close on every node, and the group hears it."""
    await leaving.out_of(ctx.services, activity_id, group_id, doc_id, user["id"], reason, MOVED)
    await ctx.services.hub.publish(group_channel_of(activity_id, group_id), {
        "type": "group_member_left", "id": f"left:{user['id']}:{datetime.now(timezone.utc).timestamp()}", "user": user})


async def _choose(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Self-selection: join a named group with room (moving from the one chosen before)."""
    group_id = require(args, "group_id", int)
    me = ctx.actor.user_id
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args)
        phase = rules.need_running(scene.room)
        book = book_of(ctx.services)
        pb = await book.phase(db, scene.room.id, phase.phase)
        if pb is None or group_id not in pb.groups:
            raise CommandError("not_found", "no such group in this group discussion")
        if me in formation.staff_ids(scene.room):
            raise CommandError("invalid", "the activity's staff are in every group; they do not choose one")
        await formation.lock_group(db, group_id)
        current = await book.group_of(db, scene.room.id, phase.phase, me)
        rules.check_choice(phase, current, group_id, await formation.members_now(db, group_id))
        before = await formation.put(db, scene.room.id, phase.phase, me, group_id, "chosen")
        await db.commit()
        await book.changed(scene.room.id, phase.phase, user_id=me, now_in=group_id)
        count = await formation.members_now(db, group_id)
    if before is not None and before != group_id:
        await _left(ctx, scene.room.id, before, pb.groups[before].doc_id, {"id": me, "name": ctx.actor.name},
                    "you chose another group")
    await _joined(ctx, scene.room.id, group_id, "chosen")
    return {"group": group_json(scene.room.id, phase, pb.groups[group_id], count)}


# -- what moderators see and do ---------------------------------------------------------------------


async def _list(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Every group with its members and how active each group's chat has been."""
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="activity.moderate")
        phase, pb = await _phase_book(ctx, db, scene)
        messages = dict((await db.execute(select(GroupMessage.group_id, func.count()).where(
            GroupMessage.activity_id == scene.room.id, GroupMessage.group_id.in_(list(pb.groups)))
            .group_by(GroupMessage.group_id))).all())
        counts = pb.counts()
        return {"phase": phase.phase, "mode": phase.mode, "ends_at": _ends_at(scene.room, phase),
                "groups": [{**group_json(scene.room.id, phase, g, counts.get(g.id, 0)),
                            "messages": messages.get(g.id, 0)} for g in pb.by_number()]}


async def _members(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    group_id = require(args, "group_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize=None)
        await find_group(ctx, db, scene, group_id, "group.attend")
        rows = (await db.execute(
            select(GroupMember.user_id, User.display_name, User.school, User.region, GroupMember.how)
            .join(User, User.id == GroupMember.user_id).where(GroupMember.group_id == group_id)
            .order_by(GroupMember.joined_at, GroupMember.user_id))).all()
    return {"members": [{"id": u, "name": n, "school": s, "region": r, "how": how} for u, n, s, r, how in rows]}


async def _move(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """A moderator moves a teacher into a group (the teacher's old group loses them at once)."""
    user_id, group_id = require(args, "user_id", int), require(args, "group_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="activity.moderate")
        phase = rules.need_running(scene.room)
        book = book_of(ctx.services)
        pb = await book.phase(db, scene.room.id, phase.phase)
        if pb is None or group_id not in pb.groups:
            raise CommandError("not_found", "no such group in this group discussion")
        name = (await db.execute(select(User.display_name).where(User.id == user_id))).scalar()
        if name is None or user_id in formation.staff_ids(scene.room):
            raise CommandError("not_found", "no such teacher in this activity")
        before = await formation.put(db, scene.room.id, phase.phase, user_id, group_id, "moved")
        out = await record(ctx, db, scene.room.id, event={
            "type": "group_moved", "user_id": user_id, "name": name, "from": before, "group_id": group_id})
        await book.changed(scene.room.id, phase.phase, user_id=user_id, now_in=group_id)
    if before is not None and before != group_id:
        await _left(ctx, scene.room.id, before, pb.groups[before].doc_id, {"id": user_id, "name": name},
                    "a moderator moved you to another group")
    await ctx.services.hub.publish(group_channel_of(scene.room.id, group_id), {
        "type": "group_member_joined", "id": f"moved:{out['id']}", "user": {"id": user_id, "name": name}, "how": "moved"})
    await publish(ctx, scene.room.id, out, room=False, desk=True)
    return out


async def _broadcast(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """To every group at once: an event on the room, which every group view shows."""
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="activity.moderate")
        rules.need_running(scene.room)
        body = rules.check_broadcast(args.get("body"))
        out = await record(ctx, db, scene.room.id, event={"type": "group_broadcast", "body": body})
    out["offset"] = await publish(ctx, scene.room.id, out)
    return out


# -- the group's chat ------------------------------------------------------------------------------

_AUTHOR = author_facts(GroupMessage)  # muted in the room is muted in the groups


async def _post(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    group_id, me = require(args, "group_id", int), ctx.actor.user_id
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize=None, facts=lambda a: _AUTHOR.params(a=a, u=me))
        await find_group(ctx, db, scene, group_id, "group.post")
        muted, until, last = scene.facts
        body = rules.check_post(args.get("body"), (aware(until) if until else FOREVER) if muted else None,
                                last and aware(last), exempt(ctx, scene), now)
        message = GroupMessage(activity_id=scene.room.id, group_id=group_id, user_id=me, body=body,
                               status="visible", created_at=now)
        await record(ctx, db, scene.room.id, message)
    data = message_json(message, ctx.actor.name)
    offset = await ctx.services.hub.publish(group_channel_of(scene.room.id, group_id),
                                            {"type": "group_chat", "id": f"group-chat:{message.id}", "message": data})
    return {"message": data, "offset": offset}


async def _history(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    group_id = require(args, "group_id", int)
    before = args.get("before")
    if before is not None and (type(before) is not int or before < 1):
        raise CommandError("invalid", "before is a message id")
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize=None)
        await find_group(ctx, db, scene, group_id, "group.attend")
        moderator = policy.allowed(ctx.actor, "activity.moderate", scene.access)
        q = (select(GroupMessage, User.display_name).join(User, User.id == GroupMessage.user_id)
             .where(GroupMessage.group_id == group_id))
        if not moderator:
            q = q.where(GroupMessage.status == "visible")
        if before is not None:
            q = q.where(GroupMessage.id < before)
        rows = (await db.execute(q.order_by(GroupMessage.id.desc()).limit(HISTORY))).all()
    return {"messages": [message_json(m, n) for m, n in reversed(rows)], "more": len(rows) == HISTORY}


async def _hide(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    message_id = require(args, "message_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="activity.moderate")
        m = (await db.execute(select(GroupMessage).where(
            GroupMessage.id == message_id, GroupMessage.activity_id == scene.room.id))).scalar()
        if m is None:
            raise CommandError("not_found", "no such message in this activity's groups")
        if m.status == "hidden":
            raise CommandError("invalid", "that message is hidden already")
        group_id = m.group_id
        out = await record(ctx, db, scene.room.id, update(GroupMessage).where(GroupMessage.id == message_id)
                           .values(status="hidden"),
                           event={"type": "group_chat_hidden", "message_id": message_id, "group_id": group_id})
    await ctx.services.hub.publish(group_channel_of(scene.room.id, group_id), out)
    return out


# -- rapporteur, notes and the report-back ----------------------------------------------------------


async def _rapporteur(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    group_id = require(args, "group_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize=None)
        phase, _, _, _ = await find_group(ctx, db, scene, group_id, "group.post")
        members = set((await db.execute(select(GroupMember.user_id).where(GroupMember.group_id == group_id))).scalars())
        user_id = rules.check_rapporteur(members, args.get("user_id"))
        name = (await db.execute(select(User.display_name).where(User.id == user_id))).scalar_one()
        out = await record(ctx, db, scene.room.id,
                           update(ActivityGroup).where(ActivityGroup.id == group_id).values(rapporteur_id=user_id),
                           event={"type": "rapporteur_named", "group_id": group_id, "user_id": user_id, "name": name})
        await book_of(ctx.services).changed(scene.room.id, phase.phase, group_id=group_id)
    await ctx.services.hub.publish(group_channel_of(scene.room.id, group_id), out)
    await publish(ctx, scene.room.id, out, room=False, desk=True)
    return out


async def _notes_of(ctx: Context, db, view, phase: rules.GroupPhase, g: Group) -> int:
    """The group's notes document; made now if nobody has opened them yet (every node then rereads the
    group, which names it)."""
    if g.doc_id is not None:
        return g.doc_id
    doc_id = await notes.open_notes(db, view, phase, g.id, ctx.actor.user_id)
    await book_of(ctx.services).changed(view.id, phase.phase, group_id=g.id)
    return doc_id


async def _notes(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """The group's notes document, made from the guiding questions the first time anyone asks."""
    group_id = require(args, "group_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize=None)
        phase, _, g, acc = await find_group(ctx, db, scene, group_id, "group.notes.read")
        doc_id = await _notes_of(ctx, db, scene.room, phase, g)
    return {"doc_id": doc_id, "editable": policy.allowed(ctx.actor, "group.notes", acc)}


async def _report(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """The host brings a group's rapporteur on stage (an invitation, as a called hand is) and shows the
    group's notes beside them: every page, and the program, show them while the group reports."""
    group_id = require(args, "group_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="stage.manage")
        if scene.room.state != "live":
            raise CommandError("wrong_state", "groups report while the activity is live")
        phase, pb = await _phase_book(ctx, db, scene)
        g = pb.groups.get(group_id)
        if g is None:
            raise CommandError("not_found", "no such group in this activity's group discussion")
        if g.rapporteur is None:
            raise CommandError("no_rapporteur", "this group has not named its rapporteur")
        doc_id = await _notes_of(ctx, db, scene.room, phase, g)
        user_id, name = g.rapporteur
        now = datetime.now(timezone.utc)
        called = await record(ctx, db, scene.room.id, upsert(db, Hand).values(
            activity_id=scene.room.id, user_id=user_id, status="called", raised_at=now).on_conflict_do_update(
            index_elements=["activity_id", "user_id"], set_={"status": "called"}),
            event={"type": "hand_called", "user_id": user_id, "name": name})
        await publish(ctx, scene.room.id, called, desk=True)
        out = await record_event(ctx, db, scene.room.id, {
            "type": "group_reporting", "group": {"id": g.id, "number": g.number, "name": g.name},
            "rapporteur": {"id": user_id, "name": name}, "doc_id": doc_id})
    return out


async def reporting_now(db, activity_id: int) -> dict[str, Any] | None:
    """The group reporting now (a `group_reporting` with no phase change after it), for the snapshot of a
    page that joins or reloads during the report-back."""
    last = (await db.execute(select(ActivityEvent.data).where(
        ActivityEvent.activity_id == activity_id,
        ActivityEvent.type.in_(("group_reporting", "phase_changed", "started", "ended")))
        .order_by(ActivityEvent.id.desc()).limit(1))).scalar()
    return last if last is not None and last.get("type") == "group_reporting" else None


def register(registry: Registry) -> None:
    for name, handler in (("mine", _mine), ("choose", _choose), ("list", _list), ("members", _members),
                          ("move", _move), ("broadcast", _broadcast), ("post", _post), ("history", _history),
                          ("hide", _hide), ("rapporteur", _rapporteur), ("notes", _notes), ("report", _report)):
        registry.add(f"group.{name}", handler)
