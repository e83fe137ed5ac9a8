"""A breakout group's small stage (docs/stage.md, "A group's small stage"): every member of a group
of at most eight sends camera and microphone through the relay and watches the others, as on the main
stage but keyed by (activity, group). Its `stage` events go to the group's channel; nothing of it is
recorded; the program never shows it; it closes on every node when the group phase ends.

    group.stage.publish {activity_id, group_id, offer} -> {answer}
    group.stage.watch   {activity_id, group_id, publisher_id, offer} -> {answer, watch_id}
    group.stage.unwatch {activity_id, group_id, watch_id}
    group.stage.leave   {activity_id, group_id}
    group.stage.state   {activity_id, group_id} -> {on_stage}   (and the other nodes announce theirs)

The policy's `group.stage`: the group's members while its phase runs, and the activity's moderators.
"""

from __future__ import annotations

from typing import Any

from collab.media import peers
from collab.realtime.dispatch import CommandError, Context, Registry, require
from sessions.groups.commands import find_group
from sessions.groups.formation import members_now
from sessions.room import load
from sessions.stage import rules
from sessions.stage.publisher import Publisher
from sessions.stage.stages import Stage, stages_of
from sessions.stage.view import View


async def _stage(ctx: Context, args: dict[str, Any]) -> Stage:
    """The group's small stage on this node, once the actor may take part in it and the group is
    small enough to have one."""
    group_id = require(args, "group_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args)  # in the room first: an outsider learns nothing of its groups
        phase, _, _, _ = await find_group(ctx, db, scene, group_id, "group.stage")
        rules.check_group_size(await members_now(db, group_id))
    return stages_of(ctx).of_group(scene.room.id, group_id, phase.phase)


async def _publish(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    stage = await _stage(ctx, args)
    user_id = ctx.actor.user_id
    await stage.take_off(user_id)  # publishing again (another camera, a reconnect) replaces it
    pub = Publisher(stage, user_id, ctx.actor.name, ctx, owner_id=user_id)
    pub.pc, answer = await peers.receive(args.get("offer"), pub.add_feed)  # unusable: `invalid`
    await stage.take(pub)

    def gone() -> None:
        if pub.current:
            stage.spawn(stage.leave(pub))

    ctx.client.when_closed(gone)
    stage.spawn(stage.announce_when_media_flows(pub, live=False))  # a group's talk is not recorded
    return {"answer": answer}


async def _watch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    publisher_id = rules.group_publisher_id(args.get("publisher_id"))
    stage = await _stage(ctx, args)
    await stage.follow_the_room()  # a node with viewers only closes them at the phase's end too
    feeds = await stages_of(ctx).feeds_of(stage.activity_id, publisher_id, stage.group_id)
    if not feeds:
        raise CommandError("not_on_stage", "that person is not on the group's stage")
    rules.check_room_for_a_view(len(stage.views_by(ctx.client)))
    pc, answer, tracks = await peers.send(args.get("offer"), feeds)
    view = View(stages_of(ctx).new_id(), publisher_id, pc, tracks, ctx.client)
    stage.add_view(view)
    ctx.client.when_closed(lambda: stage.spawn(stage.drop_view(view)))
    return {"answer": answer, "watch_id": view.id}


async def _unwatch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    watch_id = require(args, "watch_id", str, max_len=32)
    group_id = require(args, "group_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args)
    stage = stages_of(ctx).find(scene.room.id, group_id)
    view = stage.views.get(watch_id) if stage is not None else None
    if view is None or view.client is not ctx.client:
        raise CommandError("not_found", "no such view")
    await stage.drop_view(view)
    return {}


async def _leave(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    group_id = require(args, "group_id", int)
    async with ctx.services.sessionmaker() as db:
        scene = await load(ctx, db, args)
    stage = stages_of(ctx).find(scene.room.id, group_id)
    pub = stage.publishers.get(ctx.actor.user_id) if stage is not None else None
    if pub is None:
        raise CommandError("not_on_stage", "you are not on the group's stage")
    await pub.close()
    await stage.announce()
    return {}


async def _state(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Who is on the group's stage through this node; the other nodes that hold some of it say so on
    the group's channel (`stage` events with the group's id), which the asker follows."""
    stage = await _stage(ctx, args)
    await stages_of(ctx).bridges.ask_to_announce(stage.activity_id, stage.group_id)
    return {"on_stage": stage.on_stage(), "node": ctx.services.settings.node_id}


def register(registry: Registry) -> None:
    registry.add("group.stage.publish", _publish)
    registry.add("group.stage.watch", _watch)
    registry.add("group.stage.unwatch", _unwatch)
    registry.add("group.stage.leave", _leave)
    registry.add("group.stage.state", _state)
