"""The node's open documents: loaded on first open, released when idle, flushed at shutdown."""

from __future__ import annotations

import asyncio
import logging
import time

from collab.docs import metrics
from collab.docs.room import DELETED_TAG, DocRoom, channel_of
from collab.realtime.protocol import Close

log = logging.getLogger("collab.docs")


class DocRooms:
    def __init__(self, sessionmaker, hub, node_id: str, idle_seconds: float = 30.0) -> None:
        self.sessionmaker = sessionmaker
        self.hub = hub
        self.node_id_bytes = node_id.encode()[:255]
        self.node_tag = bytes((len(self.node_id_bytes),)) + self.node_id_bytes
        self.idle_seconds = idle_seconds
        self.rooms: dict[int, DocRoom] = {}
        self._opening: dict[int, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None

    async def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap(), name="doc-rooms-reaper")

    async def stop(self) -> None:
        if self._reaper:
            self._reaper.cancel()
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

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.idle_seconds / 3))
            try:
                await self.release_idle()
            except Exception:
                log.exception("releasing idle documents failed")
