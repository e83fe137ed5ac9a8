"""The hub without sockets: coalescing, backpressure, recovery, gaps and epochs.

A `FakeWire` stands in for the transport (the hub's only I/O); the buses are the real in-process one
or a scripted one for node-level faults.
"""

from __future__ import annotations

import asyncio
import types

import orjson
import pytest

from collab.realtime.bus import PresenceCounts, Publication
from collab.realtime.client import Client
from collab.realtime.protocol import push_line
from collab.realtime.hub import Hub
from collab.realtime.memory_bus import MemoryBus
from collab.settings import Settings


class FakeWire:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.paused = False
        self.closed_with: int | None = None
        self.on_drain = None

    def write(self, frame: bytes) -> bool:
        if self.closed_with is not None:
            return False
        self.frames.append(frame)
        return True

    def close(self, code: int, reason: str = "") -> None:
        self.closed_with = code

    def lines(self) -> list[dict]:
        out = []
        for f in self.frames:
            payload = f[2:] if f[1] < 126 else f[4:] if f[1] == 126 else f[10:]
            out.extend(orjson.loads(line) for line in payload.split(b"\n"))
        return out


def make_client(hub: Hub, user_id: int, **settings) -> tuple[Client, FakeWire]:
    services = types.SimpleNamespace(hub=hub, settings=Settings(secret="x", **settings))
    wire = FakeWire()
    c = Client(wire, services)  # type: ignore[arg-type]
    c.user_id = user_id
    hub.add_client(c)
    return c, wire


async def subscribe(hub: Hub, client: Client, channel: str, since=None, as_pushes: bool = False) -> dict:
    """`as_pushes`: write recovered publications as the real client does (push lines with offsets);
    otherwise as bare events, which most tests here read."""
    def go_live(result, pubs):
        name = orjson.dumps(channel)
        client.send(orjson.dumps({"id": 1, "ok": result}) + b"".join(
            b"\n" + (push_line(name, p.offset, p.data) if as_pushes else p.data) for p in pubs))

    client.channels[channel] = None
    return await hub.subscribe(client, channel, since, go_live)


@pytest.fixture
async def hub():
    h = Hub(MemoryBus("n1", history_size=10), flush_interval=0.01)
    await h.start()
    yield h
    await h.stop()


async def test_events_of_one_flush_share_one_frame_built_once(hub):
    (a, wa), (b, wb) = make_client(hub, 1), make_client(hub, 2)
    await subscribe(hub, a, "announce:x")
    await subscribe(hub, b, "announce:x")
    wa.frames.clear(), wb.frames.clear()
    for i in range(5):
        await hub.publish("announce:x", {"id": i})
    await asyncio.sleep(0.05)
    assert len(wa.frames) == 1 and wa.frames == wb.frames  # one coalesced frame, same bytes
    assert [line["e"]["id"] for line in wa.lines()] == [0, 1, 2, 3, 4]
    assert [line["o"] for line in wa.lines()] == [1, 2, 3, 4, 5]


async def test_a_paused_socket_queues_and_gets_one_frame_on_drain(hub):
    (a, wa), (b, wb) = make_client(hub, 1), make_client(hub, 2)
    await subscribe(hub, a, "announce:x")
    await subscribe(hub, b, "announce:x")
    wa.frames.clear(), wb.frames.clear()
    wa.paused = True
    for i in range(3):
        await hub.publish("announce:x", {"id": i})
        await asyncio.sleep(0.03)
    assert len(wb.frames) == 3 and wa.frames == []  # the fast socket did not wait for the slow one
    wa.paused = False
    a.drain()
    assert len(wa.frames) == 1 and [line["e"]["id"] for line in wa.lines()] == [0, 1, 2]


async def test_outbox_over_hard_limit_closes_with_slow_consumer_code(hub):
    (a, wa), (b, wb) = make_client(hub, 1, outbox_hard_bytes=2000), make_client(hub, 2)
    await subscribe(hub, a, "announce:x")
    await subscribe(hub, b, "announce:x")
    wa.paused = True
    for i in range(10):
        await hub.publish("announce:x", {"id": i, "pad": "x" * 300})
        await asyncio.sleep(0.02)
    assert wa.closed_with == 4008
    assert len(wb.lines()) >= 11  # reply + every event


async def test_staying_behind_past_the_grace_period_closes(hub):
    a, wa = make_client(hub, 1, slow_consumer_grace=0.0)
    await subscribe(hub, a, "announce:x")
    wa.paused = True
    await hub.publish("announce:x", {"id": 1})
    await asyncio.sleep(0.05)
    assert wa.closed_with is None
    await asyncio.sleep(1.2)  # the hub's once-a-second sweep
    assert wa.closed_with == 4008


async def test_recovery_from_history_and_honest_failure(hub):
    a, wa = make_client(hub, 1)
    first = await subscribe(hub, a, "announce:r")
    hub.unsubscribe(a, "announce:r")
    for i in range(4):
        await hub.publish("announce:r", {"id": i})
    b, wb = make_client(hub, 1)
    r = await subscribe(hub, b, "announce:r", since=(first["epoch"], 0))
    assert r["recovered"] is True
    assert [line.get("id") for line in wb.lines()[1:]] == [0, 1, 2, 3]
    # history holds 10: a client 20 behind cannot be recovered and is told so
    for i in range(20):
        await hub.publish("announce:r", {"id": i})
    c, wc = make_client(hub, 3)
    r = await subscribe(hub, c, "announce:r", since=(first["epoch"], 2))
    assert r["recovered"] is False
    c2, _ = make_client(hub, 4)
    r = await subscribe(hub, c2, "announce:r", since=("another-epoch", 2))
    assert r["recovered"] is False


class ScriptedBus(MemoryBus):
    """A bus whose pub/sub deliveries the test controls, to create gaps and epoch changes."""

    async def publish(self, channel, data):
        s = self._stream(channel)
        s.offset += 1
        pub = Publication(channel, s.epoch, s.offset, data)
        s.pubs.append(pub)
        return pub  # not delivered: the test calls deliver()

    def deliver(self, pub):
        self._on_pub(pub)


async def one_subscriber(bus, channel):
    hub = Hub(bus, flush_interval=0.01)
    await hub.start()
    client, wire = make_client(hub, 1)
    await subscribe(hub, client, channel)
    return bus, hub, client, wire


async def test_node_level_gap_is_filled_from_history_in_order():
    bus, hub, a, wa = await one_subscriber(ScriptedBus("n1"), "announce:g")
    pubs = [await bus.publish("announce:g", orjson.dumps({"id": i})) for i in range(5)]
    bus.deliver(pubs[0])
    bus.deliver(pubs[3])  # 2 and 3 lost on the way: the hub fetches them
    bus.deliver(pubs[4])
    bus.deliver(pubs[1])  # late duplicate: dropped
    await asyncio.sleep(0.1)
    assert [line["o"] for line in wa.lines()[1:]] == [1, 2, 3, 4, 5]
    await hub.stop()


async def test_new_epoch_tells_clients_to_resync():
    bus, hub, a, wa = await one_subscriber(ScriptedBus("n1"), "announce:e")
    bus.deliver(await bus.publish("announce:e", b'{"id":1}'))
    bus._streams.clear()  # history lost, as when Redis restarts empty
    bus.deliver(await bus.publish("announce:e", b'{"id":2}'))
    await asyncio.sleep(0.05)
    reply, *lines = wa.lines()
    assert lines[0]["o"] == 1
    assert "resync" in lines[1] and lines[1]["resync"]["epoch"] != reply["ok"]["epoch"]
    assert lines[2]["o"] == 1 and lines[2]["e"]["id"] == 2  # the new epoch starts again at 1
    await hub.stop()


class DownBus(MemoryBus):
    up = True

    async def publish(self, channel, data):
        from collab.realtime.bus import BusUnavailable

        if not self.up:
            raise BusUnavailable("down")
        return await super().publish(channel, data)


async def test_bus_outage_delivers_locally_then_publishes_for_everyone():
    bus, hub, a, wa = await one_subscriber(DownBus("n1"), "announce:o")
    bus.up = False
    hub._on_bus_state(False)
    assert await hub.publish("announce:o", {"id": "during"}) is None
    await asyncio.sleep(0.05)
    assert wa.lines()[-1] == {"ch": "announce:o", "o": None, "e": {"id": "during"}}
    bus.up = True
    hub._on_bus_state(True)  # the queued event goes to the bus: other nodes and history get it
    await asyncio.sleep(0.1)
    assert wa.lines()[-1] == {"ch": "announce:o", "o": 1, "e": {"id": "during"}}
    assert (await bus.history("announce:o", 0)).pubs[0].data == b'{"id":"during"}'
    await hub.stop()


async def test_presence_counts_clients_and_distinct_users(hub):
    c1, _ = make_client(hub, 1)
    c2, _ = make_client(hub, 1)  # same teacher, second tab
    c3, _ = make_client(hub, 2)
    for c in (c1, c2, c3):
        await subscribe(hub, c, "announce:p")
    assert hub.local_presence("announce:p") == (3, 2)
    await asyncio.sleep(1.2)
    assert await hub.bus.presence("announce:p") == PresenceCounts(3, 2)
    hub.remove_client(c1)
    hub.remove_client(c3)
    assert hub.local_presence("announce:p") == (1, 1)


async def test_the_counts_pages_poll_are_read_from_the_bus_once_a_second(hub):
    c1, _ = make_client(hub, 1)
    await subscribe(hub, c1, "announce:q")
    await asyncio.sleep(1.2)  # the node has written its counts
    reads = 0
    real = hub.bus.presence

    async def counting(channel):
        nonlocal reads
        reads += 1
        return await real(channel)

    hub.bus.presence = counting
    answers = [await hub.presence("announce:q") for _ in range(100)]  # a roomful of pages asking
    assert answers == [PresenceCounts(1, 1)] * 100 and reads == 1
    c2, _ = make_client(hub, 2)
    await subscribe(hub, c2, "announce:q")
    await asyncio.sleep(1.2)  # a second later the new teacher is counted
    assert await hub.presence("announce:q") == PresenceCounts(2, 2) and reads == 2


async def test_a_large_channel_gathers_longer_a_small_one_goes_out_quickly():
    hub = Hub(MemoryBus("n1"), flush_interval=0.01, flush_interval_large=0.3, large_channel=3)
    await hub.start()
    big = [make_client(hub, i) for i in range(3)]
    small, small_wire = make_client(hub, 9)
    for c, _ in big:
        await subscribe(hub, c, "announce:big")
    await subscribe(hub, small, "announce:small")
    for _, w in big + [(small, small_wire)]:
        w.frames.clear()
    await hub.publish("announce:big", {"id": 1})
    await hub.publish("announce:small", {"id": 1})
    await asyncio.sleep(0.1)
    assert len(small_wire.lines()) == 1  # a small channel does not wait
    assert big[0][1].frames == []  # the large one is still gathering
    await hub.publish("announce:big", {"id": 2})
    await asyncio.sleep(0.3)
    assert [line["e"]["id"] for line in big[0][1].lines()] == [1, 2] and len(big[0][1].frames) == 1
    await hub.stop()


async def test_fan_out_in_slices_keeps_every_socket_in_order():
    """Large fan-outs are written a slice per loop turn; frames still reach each socket in order."""
    hub = Hub(MemoryBus("n1"), flush_interval=0.001, flush_interval_large=0.001, write_slice=2)
    await hub.start()
    clients = [make_client(hub, i) for i in range(7)]
    for c, _ in clients:
        await subscribe(hub, c, "announce:s")
    for _, w in clients:
        w.frames.clear()
    for i in range(20):
        await hub.publish("announce:s", {"id": i})
        await asyncio.sleep(0)  # let flushes and slices interleave
    await asyncio.sleep(0.1)
    for _, w in clients:
        assert [line["e"]["id"] for line in w.lines()] == list(range(20))
    await hub.stop()


async def test_joining_while_a_sliced_frame_is_written_loses_and_repeats_nothing():
    hub = Hub(MemoryBus("n1"), flush_interval=0.001, flush_interval_large=0.001, write_slice=2)
    await hub.start()
    old = [make_client(hub, i) for i in range(7)]
    for c, _ in old:
        await subscribe(hub, c, "announce:j")
    for i in range(3):
        await hub.publish("announce:j", {"id": i})
    await asyncio.sleep(0.003)  # the flush has started a sliced job
    new, new_wire = make_client(hub, 99)
    joining = asyncio.ensure_future(subscribe(hub, new, "announce:j", as_pushes=True))
    for i in range(3, 6):
        await hub.publish("announce:j", {"id": i})
        await asyncio.sleep(0)
    start = (await joining)["offset"]
    await asyncio.sleep(0.1)
    got = [line["o"] for line in new_wire.lines()[1:]]
    assert got == list(range(start + 1, 7))  # everything after its start, once, in order
    for _, w in old:
        assert [line["e"]["id"] for line in w.lines()[1:]] == list(range(6))
    await hub.stop()


async def test_a_kick_ends_one_users_subscriptions_and_nobody_sees_the_directive(hub):
    (a, wa), (a2, wa2), (b, wb) = make_client(hub, 1), make_client(hub, 1), make_client(hub, 2)
    for c in (a, a2, b):
        await subscribe(hub, c, "announce:k")
    await hub.kick("announce:k", 1, "removed by a moderator")
    await hub.publish("announce:k", {"id": "after"})
    await asyncio.sleep(0.05)
    for w in (wa, wa2):
        assert w.lines()[-1] == {"ch": "announce:k", "unsubscribed": {"reason": "removed by a moderator"}}
    assert "announce:k" not in a.channels and hub.local_presence("announce:k") == (1, 1)
    assert [line.get("e") for line in wb.lines()[1:]] == [{"id": "after"}]  # no directive, the event
    late, wl = make_client(hub, 3)
    await subscribe(hub, late, "announce:k", since=(wb.lines()[0]["ok"]["epoch"], 0))
    assert [line.get("id") for line in wl.lines()[1:]] == ["after"]  # recovery skips the directive too


async def test_a_users_presence_hook_fires_on_their_first_socket_in_and_last_out(hub):
    calls = []
    hub.on_user_presence("announce", lambda channel, user_id, present: calls.append((user_id, present)))
    (a, _), (a2, _) = make_client(hub, 1), make_client(hub, 1)
    await subscribe(hub, a, "announce:h")
    await subscribe(hub, a2, "announce:h")
    hub.remove_client(a)
    assert calls == [(1, True)]
    hub.remove_client(a2)
    assert calls == [(1, True), (1, False)]


async def test_a_watcher_keeps_hearing_a_channel_after_its_last_socket_left(hub):
    heard = []
    await hub.watch("announce:w", heard.append)
    a, _ = make_client(hub, 1)
    await subscribe(hub, a, "announce:w")
    hub.remove_client(a)
    await asyncio.sleep(0.01)  # the hub's unsubscribe from the bus, had nobody else listened
    await hub.publish("announce:w", b'{"id":1}')
    await hub.broadcast("announce:w", b"between nodes")
    await asyncio.sleep(0.01)
    assert heard == [b'{"id":1}', b"between nodes"]
    hub._on_bus_state(False)
    assert heard[-1] is None  # whatever is said while the bus is away will not be heard


async def test_a_broadcast_on_a_channel_with_sockets_reaches_watchers_only(hub):
    """A broadcast has no epoch or offset: taken for a publication it would tell every socket of the
    channel to resync and push them bytes that were never meant for clients."""
    heard = []
    await hub.watch("announce:b", heard.append)
    a, wire = make_client(hub, 1)
    await subscribe(hub, a, "announce:b")
    await hub.broadcast("announce:b", b"between nodes")
    await hub.publish("announce:b", b'{"id":1}')
    await asyncio.sleep(0.05)
    assert heard == [b"between nodes", b'{"id":1}']
    reply, *lines = wire.lines()
    assert lines == [{"ch": "announce:b", "o": 1, "e": {"id": 1}}]


async def test_a_teacher_who_just_came_in_is_counted_before_the_bus_has_heard(hub):
    """The all-node count is read at most once a second and written by each node on its own beat: a
    socket that joins in between must not be told the room it is in is empty."""
    assert await hub.presence("announce:new") == PresenceCounts(0, 0)  # read (and kept) before anyone came
    c1, _ = make_client(hub, 1)
    await subscribe(hub, c1, "announce:new")
    assert await hub.presence("announce:new") == PresenceCounts(1, 1)  # the kept read said 0
