"""Writes this node's attendance intervals: queued by the hub's presence hook, stored in batches.

A join storm of 10,000 teachers is 10,000 interval rows: they go in one batch a second, not one
transaction each. Open intervals get a heartbeat (`last_seen`) every `HEARTBEAT` seconds, so a node
that dies leaves intervals that end where its heartbeat stopped. At start-up a node closes what an
earlier process with the same node id left open.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sessions.records import AttendanceInterval

log = logging.getLogger("collab.attendance")

HEARTBEAT = 30.0
FLUSH = 1.0


class AttendanceRecorder:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], node_id: str) -> None:
        self.sessionmaker = sessionmaker
        self.node_id = node_id
        self._events: list[tuple[int, int, bool, datetime]] = []
        self._task: asyncio.Task | None = None

    def hook(self, channel: str, user_id: int, present: bool) -> None:
        try:
            activity_id = int(channel.partition(":")[2])
        except ValueError:
            return
        self._events.append((activity_id, user_id, present, datetime.now(timezone.utc)))

    async def start(self) -> None:
        async with self.sessionmaker() as db:  # what a previous run of this node left open ends here
            await db.execute(update(AttendanceInterval).where(
                AttendanceInterval.node_id == self.node_id, AttendanceInterval.left_at.is_(None))
                .values(left_at=AttendanceInterval.last_seen))
            await db.commit()
        self._task = asyncio.create_task(self._run(), name="attendance-recorder")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        now = datetime.now(timezone.utc)
        await self.flush()
        async with self.sessionmaker() as db:  # a clean shutdown closes every open interval now
            await db.execute(update(AttendanceInterval).where(
                AttendanceInterval.node_id == self.node_id, AttendanceInterval.left_at.is_(None))
                .values(left_at=now, last_seen=now))
            await db.commit()

    async def _run(self) -> None:
        since_beat = 0.0
        while True:
            await asyncio.sleep(FLUSH)
            since_beat += FLUSH
            try:
                await self.flush()
                if since_beat >= HEARTBEAT:
                    since_beat = 0.0
                    await self.heartbeat()
            except Exception:  # the database may be briefly away: keep the queue, try again
                log.exception("attendance flush failed; will retry")

    async def flush(self) -> None:
        events, self._events = self._events, []
        if not events:
            return
        try:
            async with self.sessionmaker() as db:
                # In order: a teacher may leave and come back within one batch. Runs of joins go in
                # one multi-row insert.
                opens: list[dict] = []
                for a, u, present, t in events:
                    if present:
                        opens.append(dict(activity_id=a, user_id=u, node_id=self.node_id, joined_at=t, last_seen=t))
                        continue
                    if opens:
                        await db.execute(insert(AttendanceInterval), opens)
                        opens = []
                    await db.execute(update(AttendanceInterval).where(
                        AttendanceInterval.activity_id == a, AttendanceInterval.user_id == u,
                        AttendanceInterval.node_id == self.node_id, AttendanceInterval.left_at.is_(None))
                        .values(left_at=t, last_seen=t))
                if opens:
                    await db.execute(insert(AttendanceInterval), opens)
                await db.commit()
        except Exception:
            self._events[:0] = events  # in order, ahead of anything queued meanwhile
            raise

    async def heartbeat(self) -> None:
        now = datetime.now(timezone.utc)
        async with self.sessionmaker() as db:
            await db.execute(update(AttendanceInterval).where(
                AttendanceInterval.node_id == self.node_id, AttendanceInterval.left_at.is_(None))
                .values(last_seen=now))
            await db.commit()
