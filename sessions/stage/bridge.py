"""The stage beyond one node. A publisher's media enters the node their socket is on. A viewer on
another node is served by that other node: it subscribes once to the publisher's node, as a viewer
would, and re-serves the stream to all its own viewers. That costs one decode and one encode per node,
not per viewer.

The nodes negotiate over the bus channel `node:stage` (clients cannot subscribe to `node:` channels):

    B -> all: {"op": "offer", "from": B, "req": r, "aid": 7, "pub": 12, "offer": {...}}
    A -> B:   {"op": "answer", "to": B, "req": r, "answer": {...}}    (the node that has publisher 12)

`pub` is any publisher id: 12, "screen:12" (12's shared screen) or "lesson". An offer for a
publisher on a group's small stage names the group too (`"gid": 5`). A moderator's removal
heard by one node reaches the publication on another the same way:

    B -> all: {"op": "stop", "from": B, "aid": 7, "pubs": [12, "screen:12"]}

A group member's page asking who is on the group's small stage makes every node that holds some of
it say so again on the group's channel (a group's stage keeps no record to read a roster from):

    B -> all: {"op": "hello", "from": B, "aid": 7, "gid": 5}

The link's peer connection is a View on the publisher's node, so when the publisher leaves, the link
ends. The feeds on B then end, and B's viewers get the next `stage` event and watch again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiortc import RTCPeerConnection, RTCSessionDescription

from collab.media import peers
from collab.media.relay import SCREEN_VIDEO_BITRATE, Feed
from sessions.stage import rules
from sessions.stage.view import View

if TYPE_CHECKING:
    from sessions.stage.stages import Stages

log = logging.getLogger("collab.stage")

CHANNEL = "node:stage"
ANSWER_WAIT = 5.0  # seconds for the publisher's node to answer
TRACKS_WAIT = 3.0  # seconds for the link's media to start


@dataclass
class Link:
    pc: RTCPeerConnection
    feeds: dict[str, Feed]

    @property
    def alive(self) -> bool:
        return bool(self.feeds) and not all(f.ended for f in self.feeds.values())


class Bridges:
    def __init__(self, services, stages: Stages) -> None:
        self.services = services
        self.stages = stages  # whose publishers this node holds
        self.node = services.settings.node_id
        self.links: dict[tuple[int, int | None, Any], Link] = {}  # (activity, group or None, publisher)
        self._pending: dict[str, asyncio.Future] = {}
        self._opening: dict[tuple[int, int | None, Any], asyncio.Future] = {}

    async def start(self) -> None:
        await self.services.hub.watch(CHANNEL, self._heard)

    async def close(self) -> None:
        for link in list(self.links.values()):
            for feed in link.feeds.values():
                feed.stop()
            await link.pc.close()
        self.links.clear()

    # -- the viewer's node ---------------------------------------------------------------------------

    async def feeds_for(self, activity_id: int, publisher_id: Any, group_id: int | None = None
                        ) -> dict[str, Feed] | None:
        """This node's copy of a publisher held by another node (None: nobody holds them); with
        `group_id`, of a publisher on that group's small stage."""
        key = (activity_id, group_id, publisher_id)
        link = self.links.get(key)
        if link is not None and link.alive:
            return link.feeds
        if link is not None:
            await self._drop(key)
        opening = self._opening.get(key)
        if opening is not None:  # viewers arriving together share one link
            return await asyncio.shield(opening)
        future = asyncio.get_running_loop().create_future()
        self._opening[key] = future
        try:
            feeds = await self._open(activity_id, publisher_id, group_id)
            future.set_result(feeds)
            return feeds
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            self._opening.pop(key, None)

    async def _open(self, activity_id: int, publisher_id: Any, group_id: int | None) -> dict[str, Feed] | None:
        pc = peers.new_peer()
        feeds: dict[str, Feed] = {}
        arrived = asyncio.Event()

        screen = rules.is_screen(publisher_id)

        @pc.on("track")
        def _track(track) -> None:
            feeds[track.kind] = Feed(track, SCREEN_VIDEO_BITRATE if screen and track.kind == "video" else None)
            arrived.set()

        for kind in ("video", "audio"):
            pc.addTransceiver(kind, direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        req = secrets.token_hex(8)
        waiter = asyncio.get_running_loop().create_future()
        self._pending[req] = waiter
        try:
            ask = {"op": "offer", "from": self.node, "req": req, "aid": activity_id, "pub": publisher_id,
                   "offer": {"type": "offer", "sdp": pc.localDescription.sdp}}
            if group_id is not None:
                ask["gid"] = group_id
            if not await self.services.hub.broadcast(CHANNEL, orjson.dumps(ask)):
                raise asyncio.TimeoutError  # no bus, no other node to ask
            answer = await asyncio.wait_for(waiter, ANSWER_WAIT)
        except (asyncio.TimeoutError, Exception):
            await pc.close()
            return None
        finally:
            self._pending.pop(req, None)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        try:  # aiortc announces every track of an answer together, so once one is here all are
            await asyncio.wait_for(arrived.wait(), TRACKS_WAIT)
        except asyncio.TimeoutError:
            await pc.close()
            return None
        self.links[(activity_id, group_id, publisher_id)] = Link(pc, feeds)
        return feeds

    async def _drop(self, key) -> None:
        link = self.links.pop(key, None)
        if link is not None:
            for feed in link.feeds.values():
                feed.stop()
            await link.pc.close()

    async def stop_elsewhere(self, activity_id: int, publisher_ids: list) -> None:
        """Ask the other nodes to take these publications off the stage (best effort: no bus, no other
        node)."""
        await self.services.hub.broadcast(CHANNEL, orjson.dumps({
            "op": "stop", "from": self.node, "aid": activity_id, "pubs": publisher_ids}))

    async def ask_to_announce(self, activity_id: int, group_id: int) -> None:
        """Every other node holding publications on this group's stage announces them again."""
        await self.services.hub.broadcast(CHANNEL, orjson.dumps({
            "op": "hello", "from": self.node, "aid": activity_id, "gid": group_id}))

    # -- the publisher's node ------------------------------------------------------------------------

    def _heard(self, data: bytes | None) -> None:
        if data is None:
            return
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if msg.get("op") == "answer" and msg.get("to") == self.node:
            waiter = self._pending.get(msg.get("req"))
            if waiter is not None and not waiter.done():
                waiter.set_result(msg["answer"])
        elif msg.get("op") == "offer" and msg.get("from") != self.node:
            asyncio.get_running_loop().create_task(self._answer(msg))
        elif msg.get("op") == "hello" and msg.get("from") != self.node:
            stage = self.stages.find(msg.get("aid"), msg.get("gid")) if type(msg.get("gid")) is int else None
            if stage is not None and stage.publishers:
                stage.spawn(stage.announce())
        elif msg.get("op") == "stop" and msg.get("from") != self.node:
            stage = self.stages.stages.get(msg.get("aid"))
            if stage is not None and isinstance(msg.get("pubs"), list):
                stage.spawn(self._stop(stage, msg["pubs"]))

    async def _stop(self, stage, publisher_ids: list) -> None:
        """Taken off by a moderator on another node, which recorded it: close here, say who is left."""
        held = [p for p in publisher_ids if isinstance(p, (int, str)) and p in stage.publishers]
        for publisher_id in held:
            await stage.take_off(publisher_id)
        if held:
            await stage.announce()

    async def _answer(self, msg: dict) -> None:
        gid = msg.get("gid")
        stage = self.stages.find(msg.get("aid"), gid if type(gid) is int else None)
        pub = stage.publishers.get(msg.get("pub")) if stage is not None else None
        if pub is None or not pub.feeds:
            return  # not ours: the node that has them answers
        try:
            pc, answer, tracks = await peers.send(msg.get("offer"), pub.feeds)
        except peers.OfferError:
            log.warning("a node's stage link offer was refused")
            return
        view = View(self.stages.new_id(), pub.user_id, pc, tracks, None)
        stage.add_view(view)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await stage.drop_view(view)

        await self.services.hub.broadcast(CHANNEL, orjson.dumps({
            "op": "answer", "to": msg["from"], "req": msg["req"], "answer": answer}))
