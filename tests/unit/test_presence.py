"""Presence without a hub or sockets: sockets in and out, counts and user hooks out; what the bus is
told and when, against a recording stand-in for the bus."""

from __future__ import annotations

import pytest

from collab.realtime import presence as presence_module
from collab.realtime.bus import BusUnavailable, PresenceCounts
from collab.realtime.presence import ChannelPresence, NodePresence


class PresenceBus:
    """The three bus calls presence makes, recorded; `down` makes them fail as a lost Redis does."""

    def __init__(self) -> None:
        self.written: list[tuple[str, int, int]] = []
        self.reads = 0
        self.down = False
        self.stored: dict[str, PresenceCounts] = {}

    async def set_presence(self, channel: str, clients: int, users: int) -> None:
        if self.down:
            raise BusUnavailable("down")
        self.written.append((channel, clients, users))
        self.stored[channel] = PresenceCounts(clients, users)

    async def presence(self, channel: str) -> PresenceCounts:
        if self.down:
            raise BusUnavailable("down")
        self.reads += 1
        return self.stored.get(channel, PresenceCounts(0, 0))


def hooked(node: NodePresence, namespace: str = "activity") -> list[tuple[str, int, bool]]:
    calls: list[tuple[str, int, bool]] = []
    node.on_user(namespace, lambda channel, user_id, present: calls.append((channel, user_id, present)))
    return calls


def test_counts_sockets_and_distinct_users():
    node, here = NodePresence(PresenceBus()), ChannelPresence("activity:1")  # type: ignore[arg-type]
    node.join(here, 7)
    node.join(here, 7)  # the same teacher in a second tab
    node.join(here, 8)
    assert here.counts == (3, 2)
    node.leave(here, 8)
    assert here.counts == (2, 1)
    node.leave(here, 7)
    node.leave(here, 7)
    assert here.counts == (0, 0) and not here.users


def test_a_users_first_socket_in_and_last_out_fire_the_hook_once_each():
    node = NodePresence(PresenceBus())  # type: ignore[arg-type]
    calls = hooked(node)
    here = ChannelPresence("activity:1")
    node.join(here, 7)
    node.join(here, 7)
    assert calls == [("activity:1", 7, True)]
    node.leave(here, 7)
    assert calls == [("activity:1", 7, True)]  # a tab closed, the teacher is still here
    node.leave(here, 7)
    assert calls == [("activity:1", 7, True), ("activity:1", 7, False)]


def test_the_hook_hears_its_namespace_only():
    node = NodePresence(PresenceBus())  # type: ignore[arg-type]
    calls = hooked(node, "activity")
    node.join(ChannelPresence("studio:3"), 7)
    node.join(ChannelPresence("activity:3"), 7)
    assert calls == [("activity:3", 7, True)]


def test_changed_channels_are_due_and_all_of_them_every_third_of_the_ttl():
    node = NodePresence(PresenceBus(), ttl=30.0)  # type: ignore[arg-type]
    quiet, busy = ChannelPresence("announce:a"), ChannelPresence("announce:b")
    assert node.due([quiet, busy], now=100.0) == [quiet, busy]  # first time: all of them
    quiet.changed = busy.changed = False
    assert node.due([quiet, busy], now=101.0) == []
    node.join(busy, 1)
    assert node.due([quiet, busy], now=102.0) == [busy]
    busy.changed = False
    assert node.due([quiet, busy], now=110.5) == [quiet, busy]  # > ttl / 3 since the last full write


async def test_write_sends_the_counts_and_only_what_changed_next_time():
    bus = PresenceBus()
    node = NodePresence(bus, ttl=30.0)  # type: ignore[arg-type]
    a, b = ChannelPresence("announce:a"), ChannelPresence("announce:b")
    node.join(a, 1)
    node.join(a, 2)
    node.join(b, 1)
    await node.write([a, b], now=100.0)
    assert bus.written == [("announce:a", 2, 2), ("announce:b", 1, 1)]
    node.leave(a, 2)
    await node.write([a, b], now=101.0)
    assert bus.written[2:] == [("announce:a", 1, 1)]


async def test_a_write_the_bus_refused_is_written_once_it_is_back():
    bus = PresenceBus()
    node = NodePresence(bus, ttl=30.0)  # type: ignore[arg-type]
    a, b = ChannelPresence("announce:a"), ChannelPresence("announce:b")
    await node.write([a, b], now=100.0)
    node.join(a, 1)
    node.join(b, 2)
    bus.down = True
    await node.write([a, b], now=101.0)
    assert a.changed and b.changed
    bus.down = False
    await node.write([a, b], now=102.0)
    assert bus.written[2:] == [("announce:a", 1, 1), ("announce:b", 1, 1)]


async def test_withdraw_drops_this_nodes_share_and_survives_a_lost_bus():
    bus = PresenceBus()
    node = NodePresence(bus)  # type: ignore[arg-type]
    await node.withdraw("announce:a")
    assert bus.written == [("announce:a", 0, 0)]
    bus.down = True
    await node.withdraw("announce:a")  # no exception: the counts expire on the bus instead


async def test_counts_are_read_from_the_bus_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch):
    clock = [1000.0]
    monkeypatch.setattr(presence_module.time, "monotonic", lambda: clock[0])
    bus = PresenceBus()
    node = NodePresence(bus)  # type: ignore[arg-type]
    bus.stored["announce:a"] = PresenceCounts(5, 4)
    assert [await node.counts("announce:a") for _ in range(50)] == [PresenceCounts(5, 4)] * 50
    assert bus.reads == 1
    bus.stored["announce:a"] = PresenceCounts(6, 5)
    clock[0] += presence_module.CACHE_SECONDS
    assert await node.counts("announce:a") == PresenceCounts(6, 5) and bus.reads == 2
