"""The discussion over `/ws`: post, reply, delete; moderators hide, pin, approve, mute, slow the chat
and switch pre-moderation. Each change is recorded before it is published: messages in
`chat_messages`, moderation actions in the activity's event record.

Visible messages go to the room (`activity:<id>`); held ones only to the moderators' desk
(`activity:<id>:mod`) until an expert approves them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select

from collab import policy
from collab.auth.accounts import actor_of
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.store.models import User
from sessions import discussion
from sessions.records import ChatMessage, Mute, Removal, aware
from sessions.room import (
    access,
    channel_of,
    current_phase,
    find_activity,
    in_room,
    moderation_channel_of,
    record_event,
    row,
)
from sessions.room_cache import RoomView

FOREVER = datetime.max.replace(tzinfo=timezone.utc)


def message_json(m: ChatMessage, name: str) -> dict[str, Any]:
    return {"id": m.id, "user": {"id": m.user_id, "name": name}, "body": m.body, "reply_to": m.reply_to,
            "status": m.status, "pinned": m.pinned, "at": aware(m.created_at).isoformat()}


def _fail(exc: discussion.DiscussionError) -> CommandError:
    return CommandError(exc.code, exc.message)


async def _post(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        staff = bool(acc.staff) or policy.allowed(ctx.actor, "activity.moderate", acc)
        phase = current_phase(activity)
        room = discussion.Room(activity.state, phase.chat if phase else True, activity.slow_mode,
                               activity.premoderation)
        mute = await db.get(Mute, (activity.id, ctx.actor.user_id))
        last = (await db.execute(select(func.max(ChatMessage.created_at)).where(
            ChatMessage.activity_id == activity.id, ChatMessage.user_id == ctx.actor.user_id))).scalar_one()
        author = discussion.Author(staff, None if mute is None else (aware(mute.until) if mute.until else FOREVER),
                                   aware(last) if last else None)
        try:
            body, status = discussion.check_post(room, author, args.get("body"), now)
        except discussion.DiscussionError as exc:
            raise _fail(exc) from None
        reply_to = args.get("reply_to")
        if reply_to is not None:
            parent = await db.get(ChatMessage, reply_to) if type(reply_to) is int else None
            if parent is None or parent.activity_id != activity.id or parent.status != "visible":
                raise CommandError("invalid", "reply_to must be a visible message of this activity")
        message = ChatMessage(activity_id=activity.id, user_id=ctx.actor.user_id, body=body, reply_to=reply_to,
                              status=status, pinned=False, created_at=now)
        db.add(message)
        await db.commit()
    data = message_json(message, ctx.actor.name)
    if status == "visible":
        offset = await ctx.services.hub.publish(channel_of(activity.id),
                                                {"type": "chat", "id": f"chat:{message.id}", "message": data})
    else:
        offset = await ctx.services.hub.publish(moderation_channel_of(activity.id),
                                                {"type": "chat_held", "id": f"chat:{message.id}", "message": data})
    return {"message": data, "offset": offset}


async def _message(db, activity: RoomView, args: dict[str, Any]) -> ChatMessage:
    message_id = require(args, "message_id", int)
    message = await db.get(ChatMessage, message_id)
    if message is None or message.activity_id != activity.id:
        raise CommandError("not_found", "no such message in this activity")
    return message


async def _held(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """The pre-moderation queue, oldest first, for a moderator who opens the desk late or reconnects."""
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db, "activity.moderate")
        rows = await db.execute(select(ChatMessage, User.display_name).join(User, User.id == ChatMessage.user_id)
                                .where(ChatMessage.activity_id == activity.id, ChatMessage.status == "held")
                                .order_by(ChatMessage.id).limit(200))
        return {"messages": [message_json(m, name) for m, name in rows.all()]}


def _moderation(change):
    """A moderator's action on one message: authorize, change the record, record the action, publish."""

    async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        async with ctx.services.sessionmaker() as db:
            activity = await find_activity(ctx, args, db)
            acc = await access(ctx, db, activity)
            message = await _message(db, activity, args)
            event = await change(ctx, db, acc, message)
            if event.get("type") == "chat":  # an approved message enters the room as a new post
                await db.commit()
                author = await db.get(User, message.user_id)
                data = message_json(message, author.display_name if author else "")
                await ctx.services.hub.publish(channel_of(activity.id),
                                               {"type": "chat", "id": f"chat:{message.id}", "message": data})
                return await record_event(ctx, db, activity.id, {"type": "chat_approved", "message_id": message.id},
                                          desk=True)
            return await record_event(ctx, db, activity.id, event, desk=True)

    return handle


async def _delete(ctx, db, acc, m: ChatMessage) -> dict[str, Any]:
    if m.user_id != ctx.actor.user_id:
        policy.authorize(ctx.actor, "activity.moderate", acc)
    if m.status == "deleted":
        raise CommandError("invalid", "already deleted")
    m.status = "deleted"
    return {"type": "chat_deleted", "message_id": m.id}


async def _hide(ctx, db, acc, m: ChatMessage) -> dict[str, Any]:
    policy.authorize(ctx.actor, "activity.moderate", acc)
    m.status = "hidden"
    return {"type": "chat_hidden", "message_id": m.id}


def _pin(value: bool):
    async def change(ctx, db, acc, m: ChatMessage) -> dict[str, Any]:
        policy.authorize(ctx.actor, "activity.moderate", acc)
        if m.status != "visible":
            raise CommandError("invalid", "only a visible message can be pinned")
        m.pinned = value
        return {"type": "chat_pinned" if value else "chat_unpinned", "message_id": m.id}

    return change


async def _approve(ctx, db, acc, m: ChatMessage) -> dict[str, Any]:
    policy.authorize(ctx.actor, "activity.moderate", acc)
    if m.status != "held":
        raise CommandError("invalid", "that message is not waiting for approval")
    m.status = "visible"
    return {"type": "chat"}


def _room_setting(apply):
    """Slow mode, pre-moderation, mute and unmute: authorize, change, record, publish."""

    async def handle(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        async with ctx.services.sessionmaker() as db:
            activity, _ = await in_room(ctx, args, db, "activity.moderate")
            try:
                event = await apply(db, activity, args)
            except discussion.DiscussionError as exc:
                raise _fail(exc) from None
            return await record_event(ctx, db, activity.id, event, desk=True)

    return handle


async def _slow_mode(db, activity: RoomView, args) -> dict[str, Any]:
    seconds = discussion.slow_mode_seconds(args.get("seconds"))
    (await row(db, activity)).slow_mode = seconds
    return {"type": "slow_mode", "seconds": seconds}


async def _premoderation(db, activity: RoomView, args) -> dict[str, Any]:
    on = args.get("on")
    if not isinstance(on, bool):
        raise discussion.DiscussionError("invalid", "on must be true or false")
    (await row(db, activity)).premoderation = on
    return {"type": "premoderation", "on": on}


async def _target(db, args) -> User:
    user_id = require(args, "user_id", int)
    user = await db.get(User, user_id)
    if user is None:
        raise CommandError("not_found", "no such user")
    return user


async def _mute(db, activity: RoomView, args) -> dict[str, Any]:
    user = await _target(db, args)
    until = discussion.mute_until(datetime.now(timezone.utc), args.get("minutes"))
    existing = await db.get(Mute, (activity.id, user.id))
    if existing is None:
        db.add(Mute(activity_id=activity.id, user_id=user.id, until=until))
    else:
        existing.until = until
    return {"type": "muted", "user_id": user.id, "until": until.isoformat() if until else None}


async def _unmute(db, activity: RoomView, args) -> dict[str, Any]:
    user = await _target(db, args)
    existing = await db.get(Mute, (activity.id, user.id))
    if existing is not None:
        await db.delete(existing)
    return {"type": "unmuted", "user_id": user.id}


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


async def _remove(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Take a teacher out of the room on every node; they stay out until readmitted."""
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db, "activity.moderate")
        user = await _target(db, args)
        target = await access(ctx, db, activity, actor_of(user))
        if target.staff or user.id == activity.organizer_id:
            raise CommandError("invalid", "staff cannot be removed from their own activity")
        if await db.get(Removal, (activity.id, user.id)) is None:
            db.add(Removal(activity_id=activity.id, user_id=user.id, removed_by=ctx.actor.user_id))
        out = await record_event(ctx, db, activity.id, {"type": "teacher_removed", "user_id": user.id}, desk=True)
    await ctx.services.hub.kick(channel_of(activity.id), user.id, "removed by a moderator")
    return out


async def _readmit(db, activity: RoomView, args) -> dict[str, Any]:
    user = await _target(db, args)
    removal = await db.get(Removal, (activity.id, user.id))
    if removal is not None:
        await db.delete(removal)
    return {"type": "teacher_readmitted", "user_id": user.id}


def register(registry: Registry) -> None:
    registry.add("activity.remove", _remove)
    registry.add("activity.readmit", _room_setting(_readmit))
    registry.add("chat.post", _post)
    registry.add("chat.delete", _moderation(_delete))
    registry.add("chat.hide", _moderation(_hide))
    registry.add("chat.pin", _moderation(_pin(True)))
    registry.add("chat.unpin", _moderation(_pin(False)))
    registry.add("chat.approve", _moderation(_approve))
    registry.add("chat.held", _held)
    registry.add("chat.slow_mode", _room_setting(_slow_mode))
    registry.add("chat.premoderation", _room_setting(_premoderation))
    registry.add("chat.mute", _room_setting(_mute))
    registry.add("chat.unmute", _room_setting(_unmute))
