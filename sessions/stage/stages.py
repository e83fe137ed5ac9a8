"""An activity's stage on this node (`Stage`: its publishers and views), and the node's stages
(`Stages`, provided on the node's services by `part.install`, found by commands through `stages_of(ctx)`).

A breakout group's small stage (`sessions.stage.group_stage`) is a `Stage` too, keyed by (activity,
group): its `stage` events go to the group's channel, nothing of it is recorded, the program never
takes it, and it closes when its group phase is no longer the activity's phase."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from typing import Any

from prometheus_client import Gauge

from collab.media.relay import Fanout
from collab.realtime.dispatch import Context
from sessions.room import channel_of, group_channel_of, record_event
from sessions.stage import rules
from sessions.stage.bridge import Bridges
from sessions.stage.publisher import Publisher
from sessions.stage.view import View

log = logging.getLogger("collab.stage")

PUBLISHERS = Gauge("collab_stage_publishers", "Stage publications held by this node")
VIEWS = Gauge("collab_stage_views", "Peer connections sending the stage from this node (viewers and other nodes' links)")
LINKS = Gauge("collab_stage_links", "Links this node holds to publishers on other nodes")


class Stage:
    """One activity's stage on this node, or one of its groups' small stages (`group_id`, in the group
    phase `phase`)."""

    def __init__(self, activity_id: int, services, group_id: int | None = None, phase: int | None = None) -> None:
        self.activity_id = activity_id
        self.group_id = group_id
        self.phase = phase
        self.services = services
        self.publishers: dict[int | str, Publisher] = {}
        self.views: dict[str, View] = {}
        self.watching = False
        self.ended = False  # a group's stage whose phase is over: the node forgets it
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro) -> None:
        """Run `coro` beside the command that asked for it, holding on to it until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- publishers ----------------------------------------------------------------------------------

    async def take(self, pub: Publisher) -> None:
        """`pub` is on the stage (replacing any publication under its id), which now follows the room."""
        self.publishers[pub.user_id] = pub
        await self.follow_the_room()

    async def take_off(self, publisher_id: int | str) -> None:
        """Close the publication under `publisher_id`, if there is one."""
        pub = self.publishers.get(publisher_id)
        if pub is not None:
            await pub.close()

    async def announce_when_media_flows(self, pub: Publisher, live: bool) -> None:
        """A publisher's media flows after the answer: announce it (and, live, start recording, which
        needs the picture's size) once its first frame is here, or its time to arrive is up."""
        await pub.media_started()
        if pub.current:
            if live and pub.feeds:
                pub.start_recording()
            await self.announce()

    async def leave(self, pub: Publisher) -> None:
        """The publisher's socket went away (closed, or the network dropped it)."""
        try:
            await pub.close()
            await self._record_end(pub)
            await self.announce()
        except Exception:
            log.exception("closing a publication failed")

    @property
    def channel(self) -> str:
        """Where its `stage` events go: the room, or the group's channel."""
        if self.group_id is None:
            return channel_of(self.activity_id)
        return group_channel_of(self.activity_id, self.group_id)

    async def _record_end(self, pub: Publisher) -> None:
        """In the publisher's name: a person left the stage, or their screen share ended (the lesson
        video's end, and a group's small stage, are no events of record)."""
        if pub.source == "lesson" or self.group_id is not None:
            return
        async with self.services.sessionmaker() as db:
            if pub.person:
                await record_event(pub.ctx, db, self.activity_id, {"type": "stage_left", "user_id": pub.user_id},
                                   room=False)
            else:
                await record_event(pub.ctx, db, self.activity_id, {"type": "screen_stopped", "user_id": pub.owner_id},
                                   desk=True)

    # -- views ---------------------------------------------------------------------------------------

    def views_of(self, publisher_id: int | str) -> list[View]:
        return [v for v in self.views.values() if v.publisher_id == publisher_id]

    def views_by(self, client: Any) -> list[View]:
        return [v for v in self.views.values() if v.client is client]

    def add_view(self, view: View) -> None:
        self.views[view.id] = view

    async def drop_view(self, view: View) -> None:
        self.views.pop(view.id, None)
        await view.close()

    # -- the room ------------------------------------------------------------------------------------

    async def follow_the_room(self) -> None:
        """Listen to the room on this node (once): when the activity ends (a group's stage: when its
        phase is over), its stage closes here."""
        if self.watching:
            return
        self.watching = True
        await self.services.hub.watch(channel_of(self.activity_id), self._heard)

    def _heard(self, data: bytes | None) -> None:
        if self.group_id is not None:
            if (self.publishers or self.views) and rules.closes_group_stage(data, self.phase):
                self.spawn(self.close_everything())
        elif self.publishers and rules.closes_the_stage(data):
            self.spawn(self.close_everything())

    async def close_everything(self) -> None:
        """The activity ended (a group's phase did): everyone leaves the stage, and every view closes."""
        held = bool(self.publishers)
        for pub in list(self.publishers.values()):
            await pub.close()
            await self._record_end(pub)
        for view in list(self.views.values()):
            await self.drop_view(view)
        await self.announce()
        if self.group_id is not None:
            self.ended = True
            if self.watching:
                self.watching = False
                await self.services.hub.unwatch(channel_of(self.activity_id), self._heard)
            if held:  # the group's pages turn their cameras off
                await self.services.hub.publish(self.channel, {
                    "type": "group_stage_closed", "id": f"group-stage-closed:{secrets.token_hex(8)}",
                    "group_id": self.group_id, "node": self.services.settings.node_id})

    async def close(self) -> None:
        """The node stops: close everything, recording nothing (the people did not leave)."""
        for view in list(self.views.values()):
            await self.drop_view(view)
        for pub in list(self.publishers.values()):
            await pub.close()

    async def announce(self) -> None:
        """Who is on stage through this node. With publishers on several nodes, a client keeps the
        latest list per `node` and shows them all."""
        event = {"type": "stage", "id": f"stage:{secrets.token_hex(8)}", "node": self.services.settings.node_id,
                 "on_stage": self.on_stage()}
        if self.group_id is not None:
            event["group_id"] = self.group_id
        await self.services.hub.publish(self.channel, event)

    def on_stage(self) -> list[dict[str, Any]]:
        out = []
        for p in self.publishers.values():
            item = {"user_id": p.user_id, "name": p.name, "source": p.source, "tracks": sorted(p.feeds)}
            if p.source == "screen":
                item["owner_id"] = p.owner_id
            if p.player is not None:
                item["video"] = p.player.state()
            out.append(item)
        return out


class Stages:
    """The node's stages, and its links to other nodes' publishers (`sessions.stage.bridge`)."""

    def __init__(self, services) -> None:
        self.services = services
        self.stages: dict[int, Stage] = {}
        self.groups: dict[tuple[int, int], Stage] = {}  # (activity, group) -> the group's small stage
        self._ids = itertools.count(1)
        self.bridges = Bridges(services, self)
        # Asked before a viewer watches (raising to refuse): set by the program's part, which sends
        # the audience to the program and keeps WebRTC for the stage's side and the front row.
        self.admit = None

    def of(self, activity_id: int) -> Stage:
        stage = self.stages.get(activity_id)
        if stage is None:
            stage = self.stages[activity_id] = Stage(activity_id, self.services)
        return stage

    def of_group(self, activity_id: int, group_id: int, phase: int) -> Stage:
        """A group's small stage on this node (a new one when the group phase is another than the
        one it was made in: the host went back to a phase whose groups were formed again)."""
        for key in [k for k, st in self.groups.items() if st.ended]:  # phases over: forget their stages
            del self.groups[key]
        stage = self.groups.get((activity_id, group_id))
        if stage is None or stage.phase != phase:
            stage = self.groups[(activity_id, group_id)] = Stage(activity_id, self.services, group_id, phase)
        return stage

    def find(self, activity_id: Any, group_id: Any = None) -> Stage | None:
        """The stage this node holds: the activity's, or with `group_id` that group's."""
        if group_id is None:
            return self.stages.get(activity_id)
        return self.groups.get((activity_id, group_id))

    def new_id(self) -> str:
        return f"w{next(self._ids)}"

    async def feeds_of(self, activity_id: int, publisher_id: int | str,
                       group_id: int | None = None) -> dict[str, Fanout] | None:
        """A publisher's feeds: theirs when they publish through this node, or else this node's copy
        from the node that holds them (one link for all of this node's viewers); None: nobody does.
        With `group_id`, on that group's small stage."""
        stage = self.find(activity_id, group_id)
        pub = stage.publishers.get(publisher_id) if stage is not None else None
        if pub is not None and pub.feeds:
            return pub.feeds
        return await self.bridges.feeds_for(activity_id, publisher_id, group_id)

    async def stop(self, activity_id: int, publisher_ids: list[int | str]) -> None:
        """Take these publications off the stage, on whichever node holds them (a moderator's
        `stage.remove` is heard by one node; the publisher's socket may be on another)."""
        stage = self.stages.get(activity_id)
        if stage is not None:
            for publisher_id in publisher_ids:
                await stage.take_off(publisher_id)
        await self.bridges.stop_elsewhere(activity_id, publisher_ids)

    async def start(self) -> None:
        """At node start: listen for other nodes that want a publisher of ours; count for the metrics."""
        await self.bridges.start()
        PUBLISHERS.set_function(lambda: sum(len(st.publishers) for st in self.all()))
        VIEWS.set_function(lambda: sum(len(st.views) for st in self.all()))
        LINKS.set_function(lambda: len(self.bridges.links))

    def all(self) -> list[Stage]:
        return [*self.stages.values(), *self.groups.values()]

    async def close_all(self) -> None:
        await self.bridges.close()
        for stage in self.all():
            await stage.close()


def stages_of(ctx: Context) -> Stages:
    return ctx.services.get(Stages)
