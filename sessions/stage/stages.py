"""An activity's stage on this node (`Stage`: its publishers and views), and the node's stages
(`Stages`, provided on the node's services by `part.install`, found by commands through `stages_of(ctx)`)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from typing import Any

from prometheus_client import Gauge

from collab.media.relay import Fanout
from collab.realtime.dispatch import Context
from sessions.room import channel_of, record_event
from sessions.stage import rules
from sessions.stage.bridge import Bridges
from sessions.stage.publisher import Publisher
from sessions.stage.view import View

log = logging.getLogger("collab.stage")

PUBLISHERS = Gauge("collab_stage_publishers", "Stage publications held by this node")
VIEWS = Gauge("collab_stage_views", "Peer connections sending the stage from this node (viewers and other nodes' links)")
LINKS = Gauge("collab_stage_links", "Links this node holds to publishers on other nodes")


class Stage:
    """One activity's stage on this node."""

    def __init__(self, activity_id: int, services) -> None:
        self.activity_id = activity_id
        self.services = services
        self.publishers: dict[int | str, Publisher] = {}
        self.views: dict[str, View] = {}
        self.watching = False
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

    async def _record_end(self, pub: Publisher) -> None:
        """In the publisher's name: a person left the stage, or their screen share ended (the lesson
        video's end is no event of record)."""
        if pub.source == "lesson":
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
        """Listen to the room on this node (once): when the activity ends, its stage closes here."""
        if self.watching:
            return
        self.watching = True
        await self.services.hub.watch(channel_of(self.activity_id), self._heard)

    def _heard(self, data: bytes | None) -> None:
        if self.publishers and rules.closes_the_stage(data):
            self.spawn(self.close_everything())

    async def close_everything(self) -> None:
        """The activity ended: everyone leaves the stage, and every view closes."""
        for pub in list(self.publishers.values()):
            await pub.close()
            await self._record_end(pub)
        for view in list(self.views.values()):
            await self.drop_view(view)
        await self.announce()

    async def close(self) -> None:
        """The node stops: close everything, recording nothing (the people did not leave)."""
        for view in list(self.views.values()):
            await self.drop_view(view)
        for pub in list(self.publishers.values()):
            await pub.close()

    async def announce(self) -> None:
        """Who is on stage through this node. With publishers on several nodes, a client keeps the
        latest list per `node` and shows them all."""
        await self.services.hub.publish(channel_of(self.activity_id), {
            "type": "stage", "id": f"stage:{secrets.token_hex(8)}", "node": self.services.settings.node_id,
            "on_stage": self.on_stage()})

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

    def new_id(self) -> str:
        return f"w{next(self._ids)}"

    async def feeds_of(self, activity_id: int, publisher_id: int | str) -> dict[str, Fanout] | None:
        """A publisher's feeds: theirs when they publish through this node, or else this node's copy
        from the node that holds them (one link for all of this node's viewers); None: nobody does."""
        stage = self.stages.get(activity_id)
        pub = stage.publishers.get(publisher_id) if stage is not None else None
        if pub is not None and pub.feeds:
            return pub.feeds
        return await self.bridges.feeds_for(activity_id, publisher_id)

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
        PUBLISHERS.set_function(lambda: sum(len(st.publishers) for st in self.stages.values()))
        VIEWS.set_function(lambda: sum(len(st.views) for st in self.stages.values()))
        LINKS.set_function(lambda: len(self.bridges.links))

    async def close_all(self) -> None:
        await self.bridges.close()
        for stage in list(self.stages.values()):
            await stage.close()


def stages_of(ctx: Context) -> Stages:
    return ctx.services.get(Stages)
