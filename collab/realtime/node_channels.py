"""Channels between nodes: listeners that are the node itself, not its clients.

A per-node cache hears that a record changed on another node (the room cache, the document rooms),
the stage's bridge negotiates a link with the publisher's node: they `watch` a channel and
`broadcast` on it. What they hear comes over the same bus subscription as the channel's sockets, if
any (the hub subscribes a channel once, for both), but without order, history or gap filling: such
messages are useless late, so a watcher is told instead, with `None`, whenever the bus was lost or came
back and something may have been missed.
"""

from __future__ import annotations

from typing import Callable, Container

from collab.realtime.bus import Bus, BusUnavailable

Watcher = Callable[[bytes | None], None]


class NodeChannels:
    def __init__(self, bus: Bus, fanned_out: Container[str]) -> None:
        """`fanned_out`: the channels the hub is subscribed to for sockets; the bus subscription of
        one of those is the hub's to end."""
        self.bus = bus
        self.fanned_out = fanned_out
        self.watchers: dict[str, list[Watcher]] = {}

    def __contains__(self, channel: str) -> bool:
        """Whether anything on this node watches `channel` (then its bus subscription stays)."""
        return channel in self.watchers

    async def watch(self, channel: str, watcher: Watcher) -> None:
        """Call `watcher(data)` for every publication and broadcast on `channel`, and `watcher(None)`
        whenever the bus is lost or comes back."""
        first = channel not in self.watchers
        self.watchers.setdefault(channel, []).append(watcher)
        if first and channel not in self.fanned_out:
            await self.bus.subscribe(channel)

    async def unwatch(self, channel: str, watcher: Watcher) -> None:
        watchers = self.watchers.get(channel, [])
        if watcher in watchers:
            watchers.remove(watcher)
        if not watchers:
            self.watchers.pop(channel, None)
            if channel not in self.fanned_out:
                await self.bus.unsubscribe(channel)

    async def broadcast(self, channel: str, data: bytes) -> bool:
        """To every node's watchers of `channel` (this one's too), with no history. False if the bus
        is down. Meant for channels clients cannot subscribe to (`node:`, `docsync:`). The bus hands a
        broadcast to the hub as a publication with no epoch; the hub gives those to watchers only, so
        one on a channel with sockets neither reaches them nor passes for a new epoch."""
        try:
            await self.bus.broadcast(channel, data)
            return True
        except BusUnavailable:
            return False

    # -- from the hub ------------------------------------------------------------------------------

    def heard(self, channel: str, data: bytes) -> None:
        """A publication or broadcast on `channel` (from the bus, or published locally while it was away)."""
        for watcher in self.watchers.get(channel, ()):
            watcher(data)

    def bus_changed(self) -> None:
        """The bus was lost or came back: whatever was said meanwhile was not heard."""
        for watchers in self.watchers.values():
            for watcher in watchers:
                watcher(None)
