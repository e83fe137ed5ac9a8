"""Live counts pushed to the people in a room, instead of each page asking for them.

A room of ten thousand pages each polling for "在线 N" is ten thousand commands and bus reads every few
seconds, and each page shows the number of its own moment. Instead, every node reads a channel's count
from the bus once per `interval` (the same summed hash every node writes, so all nodes read the same
figure) and, when it changed since the node last said it, appends one control line
`{"ch": ..., "presence": {"clients": C, "users": U}}` to the channel's next frame. It costs one bus read
per channel per node per interval and one small line per socket per change, coalesced with the room's
other pushes. Counts are not events: no offset, no history; a reconnecting page gets the current one in
its snapshot or with the next change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from collab.realtime.bus import BusUnavailable, PresenceCounts
from collab.realtime.protocol import control_line

if TYPE_CHECKING:
    from collab.realtime.hub import Hub

log = logging.getLogger("collab.presence")


class PresenceFeed:
    def __init__(self, hub: Hub, interval: float = 2.0) -> None:
        self.hub = hub
        self.interval = interval
        self.namespaces: set[str] = set()
        self._shown: dict[str, PresenceCounts] = {}  # what this node last pushed, per channel
        self._task: asyncio.Task | None = None

    def feed(self, namespace: str) -> None:
        """Push counts on every channel of `namespace` (activity rooms); others are read on demand."""
        self.namespaces.add(namespace)

    def start(self) -> None:
        if self.namespaces and self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="presence-feed")

    def stop(self) -> None:
        if self._task:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:  # a count is cosmetic next to the events; try again next interval
                log.exception("presence feed failed")

    async def tick(self) -> None:
        hub = self.hub
        fed = [st for st in list(hub.channels.values())
               if st.live and st.name.partition(":")[0] in self.namespaces]
        for name in [n for n in self._shown if n not in hub.channels]:
            del self._shown[name]  # nobody here listens any more
        for st in fed:
            try:
                counts = await hub.presence(st.name)
            except BusUnavailable:
                return
            if self._shown.get(st.name) == counts or hub.channels.get(st.name) is not st:
                continue
            self._shown[st.name] = counts
            hub.push_line(st, control_line(st.name, "presence", {"clients": counts.clients,
                                                                 "users": counts.users}))
