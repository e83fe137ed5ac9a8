"""The stage of a live activity: who publishes (presenter, experts, hosts, a teacher called on from the
hand queue), and who watches. Signaling travels over `/ws`; media goes through this node
(`collab.media`): each published track is decoded once and encoded once for all its viewers.

    stage.publish {activity_id, offer}        -> {answer}      camera, microphone, screen
    stage.watch   {activity_id, publisher_id, offer} -> {answer, watch_id}
    stage.unwatch {activity_id, watch_id}
    stage.leave   {activity_id}                                 stop publishing
    stage.accept  {activity_id}                                 a called-on teacher takes the stage
    stage.remove  {activity_id, user_id}                        moderators take someone off
    stage.state   {activity_id}               -> {on_stage}

Who is on stage, with which tracks, goes to the room as `stage` events; joining and leaving are
recorded (`stage_joined`, `stage_left`) for the replay. While the activity is live, each publication
is recorded (`collab.media.recorder`, no second encode) and listed in the replay. A publisher's socket closing ends its
publication; a viewer's ends its peer connections. Invitations are the hand queue's: `hand.call` puts
a hand in state `called`, which lets that teacher publish; taking the stage makes it `on_stage`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import av
from prometheus_client import Gauge
from sqlalchemy import select

from collab import policy
from collab.media import peers
from collab.media.player import LessonPlayer
from collab.media.recorder import Recorder
from collab.media.relay import Feed
from collab.policy import StageSeat
from collab.realtime.dispatch import CommandError, Context, Registry, require
from collab.studios import library
from sessions import lesson_videos
from sessions.records import ActivityEvent, Hand, LessonVideo, Recording
from sessions.room import channel_of, in_room, record_event
from sessions.stage_bridge import Bridges

log = logging.getLogger("collab.stage")

MAX_VIEWS_PER_SOCKET = 8  # a viewer watches a few publishers at once, not hundreds

PUBLISHERS = Gauge("collab_stage_publishers", "Stage publications held by this node")
VIEWS = Gauge("collab_stage_views", "Peer connections sending the stage from this node (viewers and other nodes' links)")
LINKS = Gauge("collab_stage_links", "Links this node holds to publishers on other nodes")


@dataclass
class Publisher:
    user_id: int | str  # a person's id, or LESSON for the lesson video
    name: str
    pc: Any
    feeds: dict[str, Feed] = field(default_factory=dict)
    client: Any = None
    recorder: Recorder | None = None
    recording_since: datetime | None = None
    player: LessonPlayer | None = None
    owner_id: int = 0  # the person behind it: themselves, or whoever put the lesson video on stage


LESSON = "lesson"  # the publisher id of the lesson video on the stage


@dataclass
class View:
    id: str
    publisher_id: int | str
    pc: Any
    tracks: list
    client: Any = None


class Stage:
    """One activity's stage on this node."""

    def __init__(self, activity_id: int, services) -> None:
        self.activity_id = activity_id
        self.services = services
        self.publishers: dict[int, Publisher] = {}
        self.views: dict[str, View] = {}
        self.watching = False

    async def follow_the_room(self) -> None:
        """Listen to the room on this node (once): when the activity ends, its stage closes here."""
        if self.watching:
            return
        self.watching = True
        await self.services.hub.watch(channel_of(self.activity_id), self._heard)

    def _heard(self, data: bytes | None) -> None:
        if data and (b'"type":"ended"' in data or b'"type":"archived"' in data) and self.publishers:
            asyncio.get_running_loop().create_task(self._close_everything())

    async def _close_everything(self) -> None:
        for pub in list(self.publishers.values()):
            await _close_publisher(self, pub)
            await _record_left(self, pub.user_id)
        for view in list(self.views.values()):
            await _close_view(self, view)
        await self.announce()

    async def announce(self) -> None:
        """Who is on stage through this node. With publishers on several nodes, a client keeps the
        latest list per `node` and shows them all."""
        await self.services.hub.publish(channel_of(self.activity_id), {
            "type": "stage", "id": f"stage:{secrets.token_hex(8)}", "node": self.services.settings.node_id,
            "on_stage": self.on_stage()})

    def on_stage(self) -> list[dict[str, Any]]:
        out = []
        for p in self.publishers.values():
            item = {"user_id": p.user_id, "name": p.name, "tracks": sorted(p.feeds)}
            if p.player is not None:
                item["video"] = p.player.state()
            out.append(item)
        return out


class Stages:
    """The node's stages, and its links to other nodes' publishers (`sessions.stage_bridge`)."""

    def __init__(self, services) -> None:
        self.services = services
        self.stages: dict[int, Stage] = {}
        self._ids = itertools.count(1)
        self.bridges = Bridges(services, self)

    def of(self, activity_id: int) -> Stage:
        stage = self.stages.get(activity_id)
        if stage is None:
            stage = self.stages[activity_id] = Stage(activity_id, self.services)
        return stage

    def new_id(self) -> str:
        return f"w{next(self._ids)}"

    async def close_all(self) -> None:
        await self.bridges.close()
        for stage in list(self.stages.values()):
            for view in list(stage.views.values()):
                await _close_view(stage, view)
            for pub in list(stage.publishers.values()):
                await _close_publisher(stage, pub)


async def start(services) -> Stages:
    """At node start: the stage registry, listening for other nodes that want a publisher of ours."""
    stages = services.provide(Stages(services))
    await stages.bridges.start()
    PUBLISHERS.set_function(lambda: sum(len(st.publishers) for st in stages.stages.values()))
    VIEWS.set_function(lambda: sum(len(st.views) for st in stages.stages.values()))
    LINKS.set_function(lambda: len(stages.bridges.links))
    return stages


def stages_of(ctx: Context) -> Stages:
    return ctx.services.get(Stages)


# -- recording ---------------------------------------------------------------------------------------


def _start_recording(stage: Stage, pub: Publisher) -> None:
    """The stage of a live activity is recorded: one WebM per publication, from the shared packets."""
    video, audio = pub.feeds.get("video"), pub.feeds.get("audio")
    size = video.size if video is not None else None
    h264 = video is not None and video.mime == "video/h264"
    stamp = datetime.now(timezone.utc)
    name = (f"{stage.activity_id}/{stamp.strftime('%Y%m%dT%H%M%S')}-{pub.user_id}-{secrets.token_hex(3)}"
            + (".mkv" if h264 else ".webm"))
    try:
        pub.recorder = Recorder(Path(stage.services.settings.recordings_dir) / name, *(size or (None, None)),
                                audio is not None, h264)
    except Exception:
        log.exception("could not start a recording", extra={"activity": stage.activity_id})
        return
    pub.recording_since = stamp
    for kind, feed in pub.feeds.items():
        if video is not None and kind == "video":
            feed.request_keyframe()
        feed.sinks.append(lambda packet, kind=kind: pub.recorder.packet(kind, packet))


async def _keep_recording(stage: Stage, pub: Publisher) -> None:
    services, activity_id = stage.services, stage.activity_id
    recorder, pub.recorder = pub.recorder, None
    size = recorder.close()
    if not size:
        return
    file = str(recorder.path.relative_to(Path(services.settings.recordings_dir)))
    async with services.sessionmaker() as db:
        db.add(Recording(activity_id=activity_id, user_id=pub.owner_id, file=file, media_type=recorder.media_type,
                         bytes=size, started_at=pub.recording_since, ended_at=datetime.now(timezone.utc)))
        await db.commit()


async def _close_view(stage: Stage, view: View) -> None:
    stage.views.pop(view.id, None)
    for track in view.tracks:
        track.stop()
    await view.pc.close()


async def _close_publisher(stage: Stage, pub: Publisher) -> None:
    if stage.publishers.get(pub.user_id) is pub:
        del stage.publishers[pub.user_id]
    for feed in pub.feeds.values():
        feed.stop()
    if pub.player is not None:
        pub.player.stop()
    if pub.recorder is not None:
        await _keep_recording(stage, pub)
    for view in [v for v in stage.views.values() if v.publisher_id == pub.user_id]:
        await _close_view(stage, view)
    if pub.pc is not None:
        await pub.pc.close()


def _on_close(ctx: Context, callback) -> None:
    if ctx.client.on_close is None:
        ctx.client.on_close = []
    ctx.client.on_close.append(callback)


async def seat(ctx: Context, db, activity, acc) -> StageSeat:
    """The actor's seat: invited on stage when an expert called on their raised hand."""
    hand = await db.get(Hand, (activity.id, ctx.actor.user_id))
    return StageSeat(acc, invited=hand is not None and hand.status in ("called", "on_stage"))


async def _publish(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        stage_seat = await seat(ctx, db, activity, acc)
        policy.authorize(ctx.actor, "stage.publish", stage_seat)
        if stage_seat.invited:
            hand = await db.get(Hand, (activity.id, ctx.actor.user_id))
            hand.status = "on_stage"
            await db.commit()
    stage = stages_of(ctx).of(activity.id)
    old = stage.publishers.get(ctx.actor.user_id)
    if old is not None:  # publishing again (another camera, a reconnect) replaces the old publication
        await _close_publisher(stage, old)
    pub = Publisher(ctx.actor.user_id, ctx.actor.name, None, client=ctx.client, owner_id=ctx.actor.user_id)
    try:
        pub.pc, answer = await peers.receive(args.get("offer"), lambda feed: pub.feeds.__setitem__(feed.kind, feed))
    except peers.OfferError as exc:
        raise CommandError("invalid", str(exc)) from None
    stage.publishers[pub.user_id] = pub
    await stage.follow_the_room()

    def gone() -> None:
        if stage.publishers.get(pub.user_id) is pub:
            asyncio.get_running_loop().create_task(_leave_quietly(stage, pub))

    _on_close(ctx, gone)
    asyncio.get_running_loop().create_task(_announce_when_tracks_arrive(stage, pub, activity.state == "live"))
    async with ctx.services.sessionmaker() as db:
        await record_event(ctx, db, activity.id, {"type": "stage_joined", "user_id": pub.user_id, "name": pub.name},
                           room=False)
    return {"answer": answer}


async def _announce_when_tracks_arrive(stage: Stage, pub: Publisher, live: bool) -> None:
    """Tracks appear when media starts flowing, after the answer: announce (and start recording)
    once they are there."""
    for _ in range(100):
        if pub.feeds or stage.publishers.get(pub.user_id) is not pub:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # audio and video usually arrive together
    video = pub.feeds.get("video")
    for _ in range(40):  # the recording needs the picture size: wait for a first frame
        if video is None or video.size is not None:
            break
        await asyncio.sleep(0.05)
    if stage.publishers.get(pub.user_id) is pub:
        if live and pub.feeds:
            _start_recording(stage, pub)
        await stage.announce()


async def _leave_quietly(stage: Stage, pub: Publisher) -> None:
    """The publisher's socket went away (closed, or the network dropped it)."""
    try:
        await _close_publisher(stage, pub)
        await _record_left(stage, pub.user_id)
        await stage.announce()
    except Exception:
        log.exception("closing a publication failed")


async def _record_left(stage: Stage, user_id: int | str) -> None:
    if not isinstance(user_id, int):
        return  # the lesson video is not a person on stage
    async with stage.services.sessionmaker() as db:
        db.add(ActivityEvent(activity_id=stage.activity_id, type="stage_left", data={"type": "stage_left", "user_id": user_id},
                             actor_id=user_id, at=datetime.now(timezone.utc)))
        await db.commit()


async def roster(db, activity_id: int) -> list[dict[str, Any]]:
    """Who is on stage, from the record (every node's publications), for a late joiner's snapshot;
    the `stage` events that follow give the tracks and the node of each."""
    rows = (await db.execute(select(ActivityEvent.type, ActivityEvent.data).where(
        ActivityEvent.activity_id == activity_id,
        ActivityEvent.type.in_(("stage_joined", "stage_left", "stage_removed")))
        .order_by(ActivityEvent.id))).all()
    on: dict[int, str] = {}
    for kind, data in rows:
        if kind == "stage_joined":
            on[data["user_id"]] = data.get("name", "")
        else:
            on.pop(data.get("user_id"), None)
    return [{"user_id": u, "name": n} for u, n in on.items()]


async def _leave(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db)
        stage = stages_of(ctx).of(activity.id)
        pub = stage.publishers.get(ctx.actor.user_id)
        if pub is None:
            raise CommandError("not_on_stage", "you are not publishing")
        await _close_publisher(stage, pub)
        hand = await db.get(Hand, (activity.id, ctx.actor.user_id))
        if hand is not None and hand.status == "on_stage":
            hand.status = "lowered"
        await record_event(ctx, db, activity.id, {"type": "stage_left", "user_id": ctx.actor.user_id}, room=False)
    await stage.announce()
    return {}


async def _accept(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """A called-on teacher says yes (before or instead of publishing at once)."""
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        hand = await db.get(Hand, (activity.id, ctx.actor.user_id))
        if hand is None or hand.status not in ("called", "on_stage"):
            raise CommandError("not_invited", "nobody has invited you on stage")
        hand.status = "on_stage"
        return await record_event(ctx, db, activity.id, {"type": "stage_accepted", "user_id": ctx.actor.user_id,
                                                         "name": ctx.actor.name}, desk=True)


async def _remove(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    user_id = require(args, "user_id", int)
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        policy.authorize(ctx.actor, "stage.manage", acc)
        stage = stages_of(ctx).of(activity.id)
        pub = stage.publishers.get(user_id)
        if pub is not None:
            await _close_publisher(stage, pub)
        hand = await db.get(Hand, (activity.id, user_id))
        if hand is not None and hand.status in ("called", "on_stage"):
            hand.status = "lowered"  # and with it, the right to publish
        out = await record_event(ctx, db, activity.id, {"type": "stage_removed", "user_id": user_id}, desk=True)
    await stage.announce()
    return out


async def _watch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    publisher_id = args.get("publisher_id")
    if publisher_id != LESSON and type(publisher_id) is not int:
        raise CommandError("invalid", f"publisher_id: a user id, or {LESSON!r} for the lesson video")
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db)
    stage = stages_of(ctx).of(activity.id)
    pub = stage.publishers.get(publisher_id)
    feeds = pub.feeds if pub is not None else None
    if not feeds:  # on another node: this node links to it once for everyone
        feeds = await stages_of(ctx).bridges.feeds_for(activity.id, publisher_id)
    if not feeds:
        raise CommandError("not_on_stage", "that person is not on the stage")
    mine = [v for v in stage.views.values() if v.client is ctx.client]
    if len(mine) >= MAX_VIEWS_PER_SOCKET:
        raise CommandError("too_many_views", f"at most {MAX_VIEWS_PER_SOCKET} at once per connection")
    try:
        pc, answer, tracks = await peers.send(args.get("offer"), feeds)
    except peers.OfferError as exc:
        raise CommandError("invalid", str(exc)) from None
    view = View(stages_of(ctx).new_id(), publisher_id, pc, tracks, ctx.client)
    stage.views[view.id] = view
    _on_close(ctx, lambda: asyncio.get_running_loop().create_task(_close_view(stage, view)))
    return {"answer": answer, "watch_id": view.id}


async def _unwatch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    watch_id = require(args, "watch_id", str, max_len=32)
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db)
    stage = stages_of(ctx).of(activity.id)
    view = stage.views.get(watch_id)
    if view is None or view.client is not ctx.client:
        raise CommandError("not_found", "no such view")
    await _close_view(stage, view)
    return {}


async def _state(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """`on_stage`: publications through this node, with their tracks; `roster`: everyone on stage,
    through any node (from the record)."""
    async with ctx.services.sessionmaker() as db:
        activity, _ = await in_room(ctx, args, db)
        everyone = await roster(db, activity.id)
    return {"on_stage": stages_of(ctx).of(activity.id).on_stage(), "roster": everyone}


async def _video(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """The lesson video on the stage: start {video_id}, play, pause, seek {position}, stop."""
    action = args.get("action")
    if action not in ("start", "play", "pause", "seek", "stop"):
        raise CommandError("invalid", "action is start, play, pause, seek or stop")
    async with ctx.services.sessionmaker() as db:
        activity, acc = await in_room(ctx, args, db)
        policy.authorize(ctx.actor, "stage.publish", await seat(ctx, db, activity, acc))
        video = None
        if action == "start":
            video = await db.get(LessonVideo, require(args, "video_id", int))
            if video is None or video.activity_id != activity.id:
                raise CommandError("not_found", "no such lesson video in this activity")
    stage = stages_of(ctx).of(activity.id)
    pub = stage.publishers.get(LESSON)
    if action == "start":
        if pub is not None:
            await _close_publisher(stage, pub)
        path = library.path_of(lesson_videos.root(ctx.services.settings), video.sha256)
        try:
            player = LessonPlayer(path)
        except (ValueError, OSError, av.FFmpegError) as exc:
            raise CommandError("invalid", f"that video cannot be played: {exc}"[:200]) from None
        pub = Publisher(LESSON, video.title, None, feeds=dict(player.feeds), player=player, owner_id=ctx.actor.user_id)
        stage.publishers[LESSON] = pub
        await stage.follow_the_room()
        player.play()
        if activity.state == "live":
            _start_recording(stage, pub)
    elif pub is None or pub.player is None:
        raise CommandError("not_on_stage", "no lesson video is on the stage")
    elif action == "play":
        pub.player.play()
    elif action == "pause":
        pub.player.pause()
    elif action == "seek":
        position = args.get("position")
        if not isinstance(position, (int, float)) or position < 0:
            raise CommandError("invalid", "position: seconds from the start")
        pub.player.seek(float(position))
    else:
        await _close_publisher(stage, pub)
    await stage.announce()
    return {"video": pub.player.state() if action != "stop" else None}


def register(registry: Registry) -> None:
    registry.add("stage.video", _video)
    registry.add("stage.publish", _publish)
    registry.add("stage.watch", _watch)
    registry.add("stage.unwatch", _unwatch)
    registry.add("stage.leave", _leave)
    registry.add("stage.accept", _accept)
    registry.add("stage.remove", _remove)
    registry.add("stage.state", _state)
