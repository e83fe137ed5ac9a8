"""The stage's signaling commands over `/ws` (docs/stage.md): publish, watch, unwatch, leave, accept,
remove and state (`stage.video` is sessions.stage.lesson's). Each loads what it needs, asks the policy
and the stage's rules, then acts on the node's `Stage`; joins, leaves, acceptances, removals and screen
shares starting and stopping are recorded through `sessions.room.record_event`.

A person publishes their camera (and microphone) under their user id, and a shared screen beside it
under `rules.screen_of(user_id)`: `source` says which (`camera` by default)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from collab import policy
from collab.media import peers
from collab.policy import StageSeat
from collab.realtime.dispatch import CommandError, Context, Registry, require
from sessions.records import ActivityEvent, Hand
from sessions.room import in_room, record_event
from sessions.stage import rules
from sessions.stage.publisher import Publisher
from sessions.stage.stages import stages_of
from sessions.stage.view import View


async def seat(ctx: Context, db, activity, acc) -> StageSeat:
    """The actor's seat: invited on stage when an expert called on their raised hand."""
    hand = await db.get(Hand, (activity.id, ctx.actor.user_id))
    return StageSeat(acc, invited=rules.invited(hand.status if hand is not None else None))


async def roster(db, activity_id: int) -> list[dict[str, Any]]:
    """Who is on stage, from the record (every node's publications), for a late joiner's snapshot;
    the `stage` events that follow give the tracks and the node of each."""
    rows = (await db.execute(select(ActivityEvent.type, ActivityEvent.data).where(
        ActivityEvent.activity_id == activity_id,
        ActivityEvent.type.in_(rules.ROSTER_EVENTS))
        .order_by(ActivityEvent.id))).all()
    return rules.roster(rows)


async def _publish(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    source = rules.source(args.get("source"))
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        stage_seat = await seat(ctx, db, activity, acc)
        policy.authorize(ctx.actor, "stage.publish", stage_seat)
        if stage_seat.invited:
            hand = await db.get(Hand, (activity.id, ctx.actor.user_id))
            hand.status = "on_stage"
            await db.commit()
    stage = stages_of(ctx).of(activity.id)
    user_id = ctx.actor.user_id
    screen = source == "screen"
    publisher_id = rules.screen_of(user_id) if screen else user_id
    await stage.take_off(publisher_id)  # publishing again (another camera or window, a reconnect) replaces it
    pub = Publisher(stage, publisher_id, ctx.actor.name, ctx, owner_id=user_id)
    pub.pc, answer = await peers.receive(args.get("offer"), pub.add_feed, screen=screen)  # unusable: `invalid`
    await stage.take(pub)

    def gone() -> None:
        if pub.current:
            stage.spawn(stage.leave(pub))

    ctx.client.when_closed(gone)
    stage.spawn(stage.announce_when_media_flows(pub, activity.state == "live"))
    async with ctx.services.sessionmaker() as db:
        if screen:
            await record_event(ctx, db, activity.id, {"type": "screen_started", "user_id": user_id, "name": pub.name},
                               desk=True)
        else:
            await record_event(ctx, db, activity.id, {"type": "stage_joined", "user_id": user_id, "name": pub.name},
                               room=False)
    return {"answer": answer}


async def _leave(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Step down (the camera and any shared screen), or with `source: screen` stop sharing only."""
    only_screen = rules.source(args.get("source")) == "screen"
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db)
        stage = stages_of(ctx).of(activity.id)
        user_id = ctx.actor.user_id
        camera = None if only_screen else stage.publishers.get(user_id)
        screen = stage.publishers.get(rules.screen_of(user_id))
        if camera is None and screen is None:
            raise CommandError("not_on_stage", "you are not sharing a screen" if only_screen
                               else "you are not publishing")
        if screen is not None:
            await screen.close()
            await record_event(ctx, db, activity.id, {"type": "screen_stopped", "user_id": user_id}, desk=True)
        if camera is not None:
            await camera.close()
            hand = await db.get(Hand, (activity.id, user_id))
            if hand is not None and rules.lowered_on_leaving(hand.status):
                hand.status = rules.LOWERED
            await record_event(ctx, db, activity.id, {"type": "stage_left", "user_id": user_id}, room=False)
    await stage.announce()
    return {}


async def _accept(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """A called-on teacher says yes (before or instead of publishing at once)."""
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        hand = await db.get(Hand, (activity.id, ctx.actor.user_id))
        if hand is None or not rules.invited(hand.status):
            raise CommandError("not_invited", "nobody has invited you on stage")
        hand.status = "on_stage"
        return await record_event(ctx, db, activity.id, {"type": "stage_accepted", "user_id": ctx.actor.user_id,
                                                         "name": ctx.actor.name}, desk=True)


async def _remove(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Take someone off the stage, their shared screen with them; with `source: screen`, stop only
    their sharing. Whichever node holds the publications closes them."""
    user_id = require(args, "user_id", int)
    only_screen = rules.source(args.get("source")) == "screen"
    screen_id = rules.screen_of(user_id)
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        policy.authorize(ctx.actor, "stage.manage", acc)
        stages = stages_of(ctx)
        stage = stages.of(activity.id)
        sharing = screen_id in stage.publishers or any(p["user_id"] == screen_id for p in await roster(db, activity.id))
        if only_screen and not sharing:
            raise CommandError("not_on_stage", "they are not sharing a screen")
        await stages.stop(activity.id, [screen_id] if only_screen else [user_id, screen_id])
        out = None
        if not only_screen:
            hand = await db.get(Hand, (activity.id, user_id))
            if hand is not None and rules.lowered_on_removal(hand.status):
                hand.status = rules.LOWERED  # and with it, the right to publish
            out = await record_event(ctx, db, activity.id, {"type": "stage_removed", "user_id": user_id}, desk=True)
        if sharing:
            stopped = await record_event(ctx, db, activity.id, {"type": "screen_stopped", "user_id": user_id},
                                         desk=True)
            out = out or stopped
    await stage.announce()
    return out


async def _watch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    publisher_id = rules.publisher_id(args.get("publisher_id"))
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
    stages = stages_of(ctx)
    if stages.admit is not None:
        await stages.admit(ctx, activity, acc)  # real time is for the stage's side and the front row
    stage = stages.of(activity.id)
    feeds = await stages.feeds_of(activity.id, publisher_id)
    if not feeds:
        raise CommandError("not_on_stage", "that person is not on the stage")
    rules.check_room_for_a_view(len(stage.views_by(ctx.client)))
    pc, answer, tracks = await peers.send(args.get("offer"), feeds)
    view = View(stages.new_id(), publisher_id, pc, tracks, ctx.client)
    stage.add_view(view)
    ctx.client.when_closed(lambda: stage.spawn(stage.drop_view(view)))
    return {"answer": answer, "watch_id": view.id}


async def _unwatch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    watch_id = require(args, "watch_id", str, max_len=32)
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db)
    stage = stages_of(ctx).of(activity.id)
    view = stage.views.get(watch_id)
    if view is None or view.client is not ctx.client:
        raise CommandError("not_found", "no such view")
    await stage.drop_view(view)
    return {}


async def _state(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """`on_stage`: publications through this node, with their tracks; `roster`: everyone on stage,
    through any node (from the record)."""
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db)
        everyone = await roster(db, activity.id)
    return {"on_stage": stages_of(ctx).of(activity.id).on_stage(), "roster": everyone}


def register(registry: Registry) -> None:
    registry.add("stage.publish", _publish)
    registry.add("stage.watch", _watch)
    registry.add("stage.unwatch", _unwatch)
    registry.add("stage.leave", _leave)
    registry.add("stage.accept", _accept)
    registry.add("stage.remove", _remove)
    registry.add("stage.state", _state)
