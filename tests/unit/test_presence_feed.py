"""The presence feed without sockets: a room's count reaches its sockets as one control line when it
changes, never for an unchanged count, and only on the namespaces that asked for it."""

from __future__ import annotations

import asyncio

from collab.realtime.hub import Hub
from collab.realtime.memory_bus import MemoryBus
from test_hub import make_client, subscribe


def counts_seen(wire) -> list[dict]:
    return [line["presence"] for line in wire.lines() if "presence" in line]


async def test_a_changed_count_is_pushed_once_and_only_on_fed_namespaces():
    hub = Hub(MemoryBus("n1"), flush_interval=0.01, presence_interval=0)  # ticks driven by the test
    hub.presence_feed.feed("activity")
    await hub.start()
    try:
        (a, wa), (b, wb), (c, wc) = make_client(hub, 1), make_client(hub, 2), make_client(hub, 3)
        await subscribe(hub, a, "activity:7")
        await subscribe(hub, b, "activity:7")
        await subscribe(hub, c, "announce:all")  # not fed: asked for on demand only
        await hub.bus.set_presence("activity:7", 2, 2)  # what the housekeeping loop writes each second
        await hub.bus.set_presence("announce:all", 1, 1)
        await hub.presence_feed.tick()
        await asyncio.sleep(0.05)
        assert counts_seen(wa) == counts_seen(wb) == [{"clients": 2, "users": 2}]
        assert counts_seen(wc) == []

        hub.node_presence._cache.clear()  # past the node's one-second reuse of a count read from the bus
        await hub.presence_feed.tick()  # nothing changed: nothing sent
        await asyncio.sleep(0.05)
        assert len(counts_seen(wa)) == 1

        hub.remove_client(b)  # someone left
        await hub.bus.set_presence("activity:7", 1, 1)
        hub.node_presence._cache.clear()
        await hub.presence_feed.tick()
        await asyncio.sleep(0.05)
        assert counts_seen(wa)[-1] == {"clients": 1, "users": 1}
        line = next(line for line in wa.lines() if "presence" in line)
        assert line["ch"] == "activity:7" and "o" not in line  # a count, not an event: no offset
    finally:
        await hub.stop()
