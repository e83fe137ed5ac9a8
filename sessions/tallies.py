"""Counts that change thousands of times a second (upvotes, poll answers) leave each node as absolute
totals at most once per `interval` per activity, not as one event per vote. Totals, not deltas: two
nodes publishing the same question's count both tell the truth, so clients simply keep the latest."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Awaitable, Callable

log = logging.getLogger("collab.tallies")

# load(activity_id, keys) -> the event to publish on the activity's channel
Loader = Callable[[int, set[int]], Awaitable[dict]]
Publisher = Callable[[int, dict], Awaitable[object]]


class Tally:
    def __init__(self, load: Loader, publish: Publisher, interval: float = 1.0) -> None:
        self.load = load
        self.publish = publish
        self.interval = interval
        self._dirty: dict[int, set[int]] = defaultdict(set)
        self._task: asyncio.Task | None = None

    def mark(self, activity_id: int, key: int) -> None:
        self._dirty[activity_id].add(key)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        while self._dirty:  # what was marked while publishing goes out a tick later, not never
            await asyncio.sleep(self.interval)
            dirty, self._dirty = self._dirty, defaultdict(set)
            for activity_id, keys in dirty.items():
                try:
                    await self.publish(activity_id, await self.load(activity_id, keys))
                except Exception:  # counts are recorded; the next change republishes them
                    log.exception("tally publish failed", extra={"activity": activity_id})
