"""The node's open documents: loaded on first open, released when idle, flushed at shutdown.

Every node beats twice a second on `docsync:nodes`. Each room knows which node every
remote awareness state came through (the node tag on each bus message), so when a node's beats stop
(killed, cut off) the survivors withdraw its states from their sockets after `lapse` seconds, as its
own sockets' closing would have, instead of leaving its cursors for y-protocols' 30 s timeout. A lapse
is judged against this node's own beat, heard back over the same bus: a stalled bus or a stalled
event loop here silences every node alike and withdraws nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from collab.docs import metrics
from collab.docs.room import CLOSED_TAG, DELETED_TAG, EVICTED_TAG, DocRoom, channel_of, closed_message, closed_of
from collab.realtime.protocol import Close

log = logging.getLogger("collab.docs")

NODES_CHANNEL = "docsync:nodes"
BEAT_TAG = b"h"


class DocRooms:
    def __init__(self, sessionmaker, hub, node_id: str, idle_seconds: float = 30.0,
                 heartbeat: float = 0.5, lapse: float = 2.5) -> None:
        self.sessionmaker = sessionmaker
        self.hub = hub
        self.node_id_bytes = node_id.encode()[:255]
        self.node_tag = bytes((len(self.node_id_bytes),)) + self.node_id_bytes
        self.idle_seconds = idle_seconds
        self.rooms: dict[int, DocRoom] = {}
        self._opening: dict[int, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None
        self.heartbeat, self.lapse = heartbeat, lapse
        self.seen: dict[bytes, float] = {}  # node id -> when its last beat (or first message) was heard
        self.gone: set[bytes] = set()  # nodes judged gone (one that beats again was only stalled)
        self._beater: asyncio.Task | None = None

    async def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap(), name="doc-rooms-reaper")
        await self.hub.watch(NODES_CHANNEL, self._heard_beat)
        self._beater = asyncio.create_task(self._beat(), name="doc-rooms-heartbeat")

    async def stop(self) -> None:
        for task in (self._reaper, self._beater):
            if task:
                task.cancel()
        for room in list(self.rooms.values()):
            for p in list(room.peers):
                p.fail(Close.SHUTDOWN, "server shutting down; reconnect")
            try:
                await room.stop()
            except Exception:
                log.exception("closing a document failed", extra={"doc": room.doc_id})
        self.rooms.clear()

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def open(self, doc_id: int) -> DocRoom | None:
        """The room of a stored document (None if there is no such document). Concurrent opens of
        one document share one load."""
        room = self.rooms.get(doc_id)
        if room is not None:
            return room
        waiting = self._opening.get(doc_id)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future = asyncio.get_running_loop().create_future()
        self._opening[doc_id] = future
        try:
            room = DocRoom(doc_id, self)
            if await room.start():
                self.rooms[doc_id] = room
                metrics.OPEN.set(len(self.rooms))
            else:
                await self.hub.unwatch(room.channel, room._heard)
                room = None
            future.set_result(room)
            return room
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: concurrent openers get it; nobody else must see a warning
            raise
        finally:
            self._opening.pop(doc_id, None)

    async def deleted(self, doc_id: int) -> None:
        """A document was deleted: its sockets close here and on every node that has it open."""
        await self.hub.broadcast(channel_of(doc_id), DELETED_TAG + self.node_tag)
        room = self.rooms.get(doc_id)
        if room is not None:
            room._close_all(Close.NOT_FOUND, "the document was deleted")

    async def close(self, doc_id: int, code: int, reason: str) -> None:
        """Close every socket of a document, here and on every node, with `code` and `reason`, keeping
        the document and what its sockets sent: for the part that owns a document's home, when access
        to it ends for everyone (4003: the home says no now; 4004: the home is gone). Those who may
        still open it again can (the socket asks the home)."""
        message = closed_message(code, reason)
        await self.hub.broadcast(channel_of(doc_id), CLOSED_TAG + self.node_tag + message)
        room = self.rooms.get(doc_id)
        if room is not None:
            room.close_sockets(*closed_of(message))  # as every other node reads it

    async def evicted(self, doc_id: int, user_id: int, reason: str = "removed_from_studio") -> None:
        """Someone who lost access to the document (removed from its studio, moved out of its group):
        their sockets on it close with 4003 and `reason` here and on every node."""
        await self.hub.broadcast(channel_of(doc_id), EVICTED_TAG + self.node_tag + f"{user_id}:{reason}".encode())
        room = self.rooms.get(doc_id)
        if room is not None:
            room.evict(user_id, reason)

    def discard(self, room: DocRoom) -> None:
        if self.rooms.get(room.doc_id) is room:
            del self.rooms[room.doc_id]
            metrics.OPEN.set(len(self.rooms))
            self.spawn(self.hub.unwatch(room.channel, room._heard))

    async def release_idle(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        idle = [r for r in self.rooms.values()
                if not r.peers and r.idle_since is not None and now - r.idle_since >= self.idle_seconds]
        released = 0
        for room in idle:
            await room.flush()  # stored before it is forgotten: a reopen loads from the database
            if room.peers or room._pending or self.rooms.get(room.doc_id) is not room:
                continue  # someone came back meanwhile
            del self.rooms[room.doc_id]
            metrics.OPEN.set(len(self.rooms))
            await self.hub.unwatch(room.channel, room._heard)
            released += 1
        return released

    # -- which nodes are alive ---------------------------------------------------------------------

    def saw(self, node: bytes) -> None:
        """A message from `node` that carried awareness: a node first heard this way is alive now, so
        its states are withdrawn even if it dies before its first beat reaches us."""
        if node not in self.seen:
            self.seen[node] = time.monotonic()

    def _heard_beat(self, data: bytes | None) -> None:
        now = time.monotonic()
        if data is None:  # the bus dropped or came back: nobody's silence meanwhile means anything
            for node in self.seen:
                self.seen[node] = now
            return
        if data[:1] == BEAT_TAG:
            node = data[2 : 2 + data[1]]
            self.seen[node] = now
            if node in self.gone:  # it was only stalled: ask it for its states again
                self.gone.discard(node)
                for room in list(self.rooms.values()):
                    self.spawn(room.ask_others())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self.hub.broadcast(NODES_CHANNEL, BEAT_TAG + self.node_tag)
                self._judge()
            except Exception:
                log.exception("document heartbeat failed")

    def _judge(self) -> None:
        """Nodes silent for `lapse` longer than our own beat took to come back are gone."""
        mine = self.seen.get(self.node_id_bytes)
        if mine is None:
            return
        gone = [n for n, t in self.seen.items() if n != self.node_id_bytes and mine - t > self.lapse]
        for node in gone:
            del self.seen[node]
            self.gone.add(node)
            log.warning("document node %s stopped beating; its awareness states are withdrawn",
                        node.decode(errors="replace"))
            for room in list(self.rooms.values()):
                room.node_gone(node)
        if len(self.gone) > 1000:
            self.gone.clear()

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.idle_seconds / 3))
            try:
                await self.release_idle()
            except Exception:
                log.exception("releasing idle documents failed")
