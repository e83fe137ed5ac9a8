"""The discussion over `/ws`: post, reply, delete; moderators hide, pin, approve, mute, slow the chat
and switch pre-moderation. Each change is recorded before it is published: messages in
`chat_messages`, moderation actions in the activity's event record.

Visible messages go to the room (`activity:<id>`); held ones only to the moderators' desk
(`activity:<id>:mod`) until an expert approves them. Every command takes the road of `sessions.room`
(load, decide, record, publish); the rules are `sessions.discussion`'s.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, select, update

from collab import policy
from collab.realtime.dispatch import Context, Registry, require
from collab.store.models import User
from sessions import discussion
from sessions.batches import upsert
from sessions.groups.leaving import shut_out
from sessions.records import Activity, ChatMessage, Mute, Removal, aware
from sessions.room import current_phase, exempt, load, publish, record

FOREVER = datetime.max.replace(tzinfo=timezone.utc)


def message_json(m: ChatMessage, name: str) -> dict[str, Any]:
    return {"id": m.id, "user": {"id": m.user_id, "name": name}, "body": m.body, "reply_to": m.reply_to,
            "status": m.status, "pinned": m.pinned, "at": aware(m.created_at).isoformat()}


# -- posting ----------------------------------------------------------------------------------------

def author_facts(messages):
    """An author's facts in one round trip (activity `a`, user `u`): whether and until when they are
    muted in the activity, and their last post in `messages` (the room's chat, or the groups')."""
    mute = (Mute.activity_id == bindparam("a")) & (Mute.user_id == bindparam("u"))
    return select(
        exists().where(mute),
        select(Mute.until).where(mute).scalar_subquery(),
        select(func.max(messages.created_at))
        .where(messages.activity_id == bindparam("a"), messages.user_id == bindparam("u")).scalar_subquery(),
    )


# Built once: the author's facts, and the status of the message they reply to (if it is this activity's).
_AUTHOR = author_facts(ChatMessage)
_AUTHOR_REPLYING = _AUTHOR.add_columns(
    select(ChatMessage.status).where(ChatMessage.id == bindparam("r"), ChatMessage.activity_id == bindparam("a"))
    .scalar_subquery())


async def _post(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    user_id, reply_to = ctx.actor.user_id, args.get("reply_to")
    async with ctx.services.sessionmaker() as db:
        # 1. load: the room and the author's standing (cache), the author's facts (one statement)
        scene = await load(ctx, db, args, facts=lambda a: (
            _AUTHOR_REPLYING.params(a=a, u=user_id, r=reply_to) if type(reply_to) is int
            else _AUTHOR.params(a=a, u=user_id)))
        muted, until, last, *parent = scene.facts
        # 2. decide
        post = discussion.decide_post(_room(scene.room), discussion.Author(
            exempt(ctx, scene), (aware(until) if until else FOREVER) if muted else None, last and aware(last)),
            args.get("body"), reply_to, parent[0] if parent else None, now)
        # 3. record
        message = ChatMessage(activity_id=scene.room.id, user_id=user_id, body=post.body, reply_to=post.reply_to,
                              status=post.status, pinned=False, created_at=now)
        await record(ctx, db, scene.room.id, message)
    # 4. publish: to the room, or only to the moderators' desk while it waits for approval
    data = message_json(message, ctx.actor.name)
    held = post.status == "held"
    offset = await publish(ctx, scene.room.id, {"type": "chat_held" if held else "chat", "id": f"chat:{message.id}",
                                                "message": data}, room=not held, desk=held)
    return {"message": data, "offset": offset}


def _room(view) -> discussion.Room:
    phase = current_phase(view)
    return discussion.Room(view.state, phase.chat if phase else True, view.slow_mode, view.premoderation)


# -- a moderator's action on one message ------------------------------------------------------------


def _message_facts(args: dict[str, Any]):
    def facts(activity_id: int):
        message_id = require(args, "message_id", int)
        return (select(ChatMessage, User.display_name).join(User, User.id == ChatMessage.user_id)
                .where(ChatMessage.id == message_id, ChatMessage.activity_id == activity_id))
    return facts


def _moderation(action: str):
    """Delete (also one's own), hide, pin, unpin, approve."""

    async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        async with ctx.services.sessionmaker() as db:
            scene = await load(ctx, db, args, authorize=None, facts=_message_facts(args))
            m, author = scene.facts if scene.facts else (None, "")
            change = discussion.decide_message(
                action, m and discussion.Message(m.id, m.user_id, m.status), ctx.actor.user_id,
                policy.allowed(ctx.actor, "activity.moderate", scene.access))
            data = {**message_json(m, author), **change.changes}
            out = await record(ctx, db, scene.room.id,
                               update(ChatMessage).where(ChatMessage.id == m.id).values(**change.changes),
                               event=change.event)
        if action == "approve":  # an approved message enters the room as a new post
            await publish(ctx, scene.room.id, {"type": "chat", "id": f"chat:{m.id}", "message": data})
        await publish(ctx, scene.room.id, out, desk=True)
        return out

    return handle


async def _held(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """The pre-moderation queue, oldest first, for a moderator who opens the desk late or reconnects."""
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args, authorize="activity.moderate", facts=lambda a: (
            select(ChatMessage, User.display_name).join(User, User.id == ChatMessage.user_id)
            .where(ChatMessage.activity_id == a, ChatMessage.status == "held").order_by(ChatMessage.id).limit(200)))
        return {"messages": [message_json(m, name) for m, name in scene.rows]}


# -- the room's settings and its teachers -----------------------------------------------------------


def _target_facts(args: dict[str, Any]):
    user_id = args.get("user_id")
    return lambda a: select(exists().where(User.id == (user_id if type(user_id) is int else None)))


def _target(scene, args: dict[str, Any]) -> discussion.Target:
    user_id = args.get("user_id")
    return discussion.Target(user_id, bool(scene.facts[0]),
                             staff=any(s.user_id == user_id for s in scene.room.staff),
                             organizer=user_id == scene.room.organizer_id)


def _setting(needs_target: bool = False):
    """A moderator's change to the room or to one teacher in it: `decide(ctx, db, scene, args)` returns
    (writes, event)."""

    def wrap(decide):
        async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
            async with ctx.services.sessionmaker() as db:
                scene = await load(ctx, db, args, authorize="activity.moderate",
                                   facts=_target_facts(args) if needs_target else None)
                writes, event = decide(ctx, db, scene, args)
                out = await record(ctx, db, scene.room.id, *writes, event=event)
            await publish(ctx, scene.room.id, out, desk=True)
            if event["type"] == "teacher_removed":
                await shut_out(ctx.services, scene.room.id, event["user_id"], "removed by a moderator")
            return out

        return handle

    return wrap


@_setting()
def _slow_mode(ctx, db, scene, args):
    event = discussion.decide_slow_mode(args.get("seconds"))
    return [update(Activity).where(Activity.id == scene.room.id).values(slow_mode=event["seconds"])], event


@_setting()
def _premoderation(ctx, db, scene, args):
    event = discussion.decide_premoderation(args.get("on"))
    return [update(Activity).where(Activity.id == scene.room.id).values(premoderation=event["on"])], event


@_setting(needs_target=True)
def _mute(ctx, db, scene, args):
    until, event = discussion.decide_mute(_target(scene, args), args.get("minutes"), datetime.now(timezone.utc))
    stmt = upsert(db, Mute).values(activity_id=scene.room.id, user_id=event["user_id"], until=until)
    return [stmt.on_conflict_do_update(index_elements=["activity_id", "user_id"], set_={"until": until})], event


@_setting(needs_target=True)
def _unmute(ctx, db, scene, args):
    event = discussion.decide_unmute(_target(scene, args))
    return [delete(Mute).where(Mute.activity_id == scene.room.id, Mute.user_id == event["user_id"])], event


@_setting(needs_target=True)
def _remove(ctx, db, scene, args):
    """Take a teacher out of the room on every node; they stay out until readmitted."""
    event = discussion.decide_remove(_target(scene, args))
    stmt = upsert(db, Removal).values(activity_id=scene.room.id, user_id=event["user_id"], removed_by=ctx.actor.user_id)
    return [stmt.on_conflict_do_nothing(index_elements=["activity_id", "user_id"])], event


@_setting(needs_target=True)
def _readmit(ctx, db, scene, args):
    event = discussion.decide_readmit(_target(scene, args))
    return [delete(Removal).where(Removal.activity_id == scene.room.id, Removal.user_id == event["user_id"])], event


async def recent_for_snapshot(db, activity_id: int, limit: int = 50) -> dict[str, Any]:
    rows = (await db.execute(
        select(ChatMessage, User.display_name).join(User, User.id == ChatMessage.user_id)
        .where(ChatMessage.activity_id == activity_id, ChatMessage.status == "visible")
        .order_by(ChatMessage.id.desc()).limit(limit))).all()
    pinned = (await db.execute(
        select(ChatMessage, User.display_name).join(User, User.id == ChatMessage.user_id)
        .where(ChatMessage.activity_id == activity_id, ChatMessage.status == "visible", ChatMessage.pinned)
        .order_by(ChatMessage.id))).all()
    return {"recent": [message_json(m, n) for m, n in reversed(rows)],
            "pinned": [message_json(m, n) for m, n in pinned]}


def register(registry: Registry) -> None:
    registry.add("activity.remove", _remove)
    registry.add("activity.readmit", _readmit)
    registry.add("chat.post", _post)
    for action in discussion.MESSAGE_ACTIONS:
        registry.add(f"chat.{action}", _moderation(action))
    registry.add("chat.held", _held)
    registry.add("chat.slow_mode", _slow_mode)
    registry.add("chat.premoderation", _premoderation)
    registry.add("chat.mute", _mute)
    registry.add("chat.unmute", _unmute)
