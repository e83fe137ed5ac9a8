"""Node channels without a hub or sockets: watchers hear their channel's bytes, and a lost or returned
bus; the bus subscription is taken by the first watcher and ended by the last, unless the hub's
sockets still need it."""

from __future__ import annotations

from collab.realtime.bus import BusUnavailable
from collab.realtime.node_channels import NodeChannels


class SubscriptionBus:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.down = False

    async def subscribe(self, channel: str) -> None:
        self.calls.append(("subscribe", channel))

    async def unsubscribe(self, channel: str) -> None:
        self.calls.append(("unsubscribe", channel))

    async def broadcast(self, channel: str, data: bytes) -> None:
        if self.down:
            raise BusUnavailable("down")
        self.calls.append(("broadcast", channel))


def recorder() -> tuple[list[bytes | None], object]:
    heard: list[bytes | None] = []
    return heard, heard.append


async def test_a_watcher_gets_the_bytes_of_its_channel_only():
    nodes = NodeChannels(SubscriptionBus(), fanned_out=set())  # type: ignore[arg-type]
    heard, watcher = recorder()
    await nodes.watch("rooms:nodes", watcher)  # type: ignore[arg-type]
    nodes.heard("rooms:nodes", b'{"a":1}')
    nodes.heard("announce:x", b'{"id":2}')
    assert heard == [b'{"a":1}']


async def test_every_watcher_is_told_when_the_bus_was_lost_or_came_back():
    nodes = NodeChannels(SubscriptionBus(), fanned_out=set())  # type: ignore[arg-type]
    (one, w1), (two, w2) = recorder(), recorder()
    await nodes.watch("rooms:nodes", w1)  # type: ignore[arg-type]
    await nodes.watch("stage:links", w2)  # type: ignore[arg-type]
    nodes.bus_changed()
    assert one == [None] and two == [None]


async def test_first_watcher_subscribes_last_one_out_unsubscribes():
    bus = SubscriptionBus()
    nodes = NodeChannels(bus, fanned_out=set())  # type: ignore[arg-type]
    (heard1, w1), (heard2, w2) = recorder(), recorder()
    await nodes.watch("rooms:nodes", w1)  # type: ignore[arg-type]
    await nodes.watch("rooms:nodes", w2)  # type: ignore[arg-type]
    assert bus.calls == [("subscribe", "rooms:nodes")]
    await nodes.unwatch("rooms:nodes", w1)  # type: ignore[arg-type]
    nodes.heard("rooms:nodes", b"x")
    assert heard1 == [] and heard2 == [b"x"] and "rooms:nodes" in nodes
    await nodes.unwatch("rooms:nodes", w2)  # type: ignore[arg-type]
    assert bus.calls[-1] == ("unsubscribe", "rooms:nodes") and "rooms:nodes" not in nodes


async def test_a_channel_the_hubs_sockets_listen_to_keeps_the_hubs_subscription():
    bus = SubscriptionBus()
    nodes = NodeChannels(bus, fanned_out={"activity:5"})  # type: ignore[arg-type]
    heard, watcher = recorder()
    await nodes.watch("activity:5", watcher)  # type: ignore[arg-type]
    await nodes.unwatch("activity:5", watcher)  # type: ignore[arg-type]
    assert bus.calls == []  # the hub subscribed it for its sockets and will end it


async def test_broadcast_says_whether_the_bus_took_it():
    bus = SubscriptionBus()
    nodes = NodeChannels(bus, fanned_out=set())  # type: ignore[arg-type]
    assert await nodes.broadcast("rooms:nodes", b"beat") is True
    bus.down = True
    assert await nodes.broadcast("rooms:nodes", b"beat") is False
