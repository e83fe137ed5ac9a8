"""The front row: attendees (besides the stage and its moderators) who watch the stage in real time,
over WebRTC, while the program is on; everyone else watches the program. The organizer sets how many
(`front_row` of the activity; a small studio session can seat everyone).

A seat is held by a socket, from the `program.watch` that gave it until the socket closes. Each node
counts the seats its sockets hold and reports the count as the bus presence of `frontrow:<activity>`,
every second and on each change, so the count over all nodes is a sum that forgets a dead node. The
limit is soft: two nodes seating their last teacher in the same instant may seat one too many, which
costs one WebRTC viewer, never a refusal of someone entitled.
"""

from __future__ import annotations

from typing import Any

from collab.realtime.bus import BusUnavailable


def _channel(activity_id: int) -> str:
    return f"frontrow:{activity_id}"


class FrontRow:
    def __init__(self, bus) -> None:
        self.bus = bus
        self.seats: dict[int, set[Any]] = {}  # activity -> the sockets seated through this node
        self._reported: dict[int, int] = {}

    def holds(self, activity_id: int, client: Any) -> bool:
        return client in self.seats.get(activity_id, ())

    async def take(self, activity_id: int, client: Any, limit: int) -> bool:
        """Seat `client` if it holds a seat or one is free; False when the row is full."""
        held = self.seats.setdefault(activity_id, set())
        if client in held:
            return True
        if limit <= 0:
            return False
        try:
            everyone = (await self.bus.presence(_channel(activity_id))).clients
        except BusUnavailable:
            everyone = 0  # the other nodes cannot be counted: seat by this node's own count
        others = max(0, everyone - self._reported.get(activity_id, 0))
        if others + len(held) >= limit:
            return False
        held.add(client)
        await self._report(activity_id)
        return True

    async def release(self, activity_id: int, client: Any) -> None:
        held = self.seats.get(activity_id)
        if held is not None and client in held:
            held.discard(client)
            await self._report(activity_id)

    async def taken(self, activity_id: int) -> int:
        try:
            return (await self.bus.presence(_channel(activity_id))).clients
        except BusUnavailable:
            return len(self.seats.get(activity_id, ()))

    async def refresh(self) -> None:
        """Keep this node's counts from expiring (called every second)."""
        for activity_id in list(self.seats):
            await self._report(activity_id)
            if not self.seats[activity_id]:
                del self.seats[activity_id]
                self._reported.pop(activity_id, None)

    async def _report(self, activity_id: int) -> None:
        count = len(self.seats.get(activity_id, ()))
        try:
            await self.bus.set_presence(_channel(activity_id), count, count)
            self._reported[activity_id] = count
        except BusUnavailable:
            pass
