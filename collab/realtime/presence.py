"""Who is here: each channel's sockets and distinct users on this node, and the counts over all nodes.

`ChannelPresence` counts one channel on this node, sans I/O: a socket in, a socket out, and whether
that was a user's first or last socket (a teacher with two tabs open is one user). `NodePresence` is
the node's side of it, the one the hub owns and calls:

- user hooks: `hook(channel, user_id, present)` when a user's first socket on this node joins a
  channel of the hook's namespace and when their last one leaves (attendance records these);
- what to write: every channel whose counts changed, and all of them every `ttl / 3`, so a live
  node's counts never lapse on the bus and a dead node's expire (`due()`, no I/O; `write()` does it);
- what everyone sees: the counts summed over all nodes, read from the bus at most once a second per
  channel per node (`counts()`).

Only `write()`, `withdraw()` and `counts()` touch the bus. presence_feed.py pushes what `counts()`
reads to a room's sockets when it changes.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Callable, Iterable

from collab.realtime.bus import Bus, BusUnavailable, PresenceCounts

PresenceHook = Callable[[str, int, bool], None]

CACHE_SECONDS = 1.0  # how long a node reuses a channel's counts read from the bus
CACHE_SIZE = 10_000  # channels whose counts are kept; past it the cache starts again


class ChannelPresence:
    """One channel on this node: its sockets (subscribed or joining), its users, and whether the bus
    has the current figures (`changed` until written)."""

    __slots__ = ("channel", "sockets", "users", "changed")

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sockets = 0
        self.users: Counter[int] = Counter()  # user id -> their sockets on this channel here
        self.changed = True

    def add(self, user_id: int) -> bool:
        """A socket of `user_id` joined. True if it is the user's first here."""
        self.sockets += 1
        self.users[user_id] += 1
        self.changed = True
        return self.users[user_id] == 1

    def discard(self, user_id: int) -> bool:
        """A socket of `user_id` left. True if it was the user's last here."""
        self.sockets -= 1
        self.changed = True
        self.users[user_id] -= 1
        if self.users[user_id] <= 0:
            del self.users[user_id]
            return True
        return False

    @property
    def counts(self) -> tuple[int, int]:
        """(sockets, distinct users)."""
        return self.sockets, len(self.users)


class NodePresence:
    def __init__(self, bus: Bus, ttl: float = 30.0) -> None:
        self.bus = bus
        self.ttl = ttl
        self._hooks: dict[str, PresenceHook] = {}
        self._last_full = 0.0  # when every channel's counts were last written, changed or not
        self._cache: dict[str, tuple[float, PresenceCounts]] = {}

    # -- this node's sockets (no I/O) --------------------------------------------------------------

    def on_user(self, namespace: str, hook: PresenceHook) -> None:
        """`hook(channel, user_id, present)` on a user's first socket into / last out of a channel of
        `namespace`. Synchronous: the hook queues, never waits."""
        self._hooks[namespace] = hook

    def join(self, here: ChannelPresence, user_id: int) -> None:
        if here.add(user_id):
            self._tell(here.channel, user_id, True)

    def leave(self, here: ChannelPresence, user_id: int) -> None:
        if here.discard(user_id):
            self._tell(here.channel, user_id, False)

    def _tell(self, channel: str, user_id: int, present: bool) -> None:
        hook = self._hooks.get(channel.partition(":")[0])
        if hook is not None:
            hook(channel, user_id, present)

    def due(self, channels: Iterable[ChannelPresence], now: float) -> list[ChannelPresence]:
        """The channels whose counts to write now: the changed ones, and every one every `ttl / 3`
        (the bus forgets a node's counts after `ttl`)."""
        full = now - self._last_full > self.ttl / 3
        if full:
            self._last_full = now
        return [here for here in channels if full or here.changed]

    # -- the bus -----------------------------------------------------------------------------------

    async def write(self, channels: Iterable[ChannelPresence], now: float) -> None:
        """Write what `due()` says, in order; stop at the first failure (the bus is down: what was
        not written stays changed and goes with the next attempt)."""
        for here in self.due(channels, now):
            here.changed = False  # before the await: a change while writing is written next time
            sockets, users = here.counts
            try:
                await self.bus.set_presence(here.channel, sockets, users)
            except BusUnavailable:
                here.changed = True
                return

    async def withdraw(self, channel: str) -> None:
        """This node has nobody on `channel` any more (or is stopping): its share drops at once rather
        than at expiry."""
        try:
            await self.bus.set_presence(channel, 0, 0)
        except BusUnavailable:
            pass

    async def counts(self, channel: str) -> PresenceCounts:
        """The channel's counts over all nodes. Nodes write theirs about once a second, and ten
        thousand pages asking every few seconds would otherwise be a bus read each: a node reads a
        channel's at most once per `CACHE_SECONDS`."""
        now = time.monotonic()
        cached = self._cache.get(channel)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        counts = await self.bus.presence(channel)
        if len(self._cache) > CACHE_SIZE:
            self._cache.clear()
        self._cache[channel] = (now, counts)
        return counts
