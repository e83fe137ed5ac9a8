"""The bus contract, run against both implementations: the in-process bus and Redis (real server)."""

from __future__ import annotations

import asyncio
import secrets

import harness
import pytest

from collab.realtime.bus import BusUnavailable, PresenceCounts
from collab.realtime.memory_bus import MemoryBus
from collab.realtime.redis_bus import RedisBus


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request, redis_url):
    made = []

    async def make(node_id: str, **kw):
        if request.param == "memory":
            if made:  # one process has one memory bus; "another node" is the same object
                return made[0][0]
            bus = MemoryBus(node_id, history_size=kw.get("history_size", 100))
        else:
            bus = RedisBus(redis_url, node_id, history_size=kw.get("history_size", 100),
                           presence_ttl=kw.get("presence_ttl", 30.0))
        got: list = []
        states: list = []
        await bus.start(got.append, states.append)
        made.append((bus, got, states))
        return bus

    make.kind = request.param
    make.received = lambda bus: next(g for b, g, _ in made if b is bus)
    yield make
    for bus, _, _ in made:
        await bus.close()


def chan() -> str:
    return "announce:" + secrets.token_hex(6)


async def wait_for(cond, timeout=3.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_publish_assigns_increasing_offsets_in_one_epoch(make_bus):
    bus = await make_bus("a")
    ch = chan()
    pubs = [await bus.publish(ch, b'{"n":%d}' % i) for i in range(5)]
    assert [p.offset for p in pubs] == [1, 2, 3, 4, 5]
    assert len({p.epoch for p in pubs}) == 1
    assert await bus.position(ch) == (await bus.history(ch, 0)).position


async def test_subscribed_nodes_receive_in_order(make_bus):
    a, b = await make_bus("a"), await make_bus("b")
    ch = chan()
    await b.subscribe(ch)
    await asyncio.sleep(0.05)
    for i in range(50):
        await a.publish(ch, b'{"n":%d}' % i)
    got = make_bus.received(b)
    await wait_for(lambda: len([p for p in got if p.channel == ch]) == 50)
    mine = [p for p in got if p.channel == ch]
    assert [p.offset for p in mine] == list(range(1, 51))
    assert mine[7].data == b'{"n":7}'


async def test_a_broadcast_reaches_subscribed_nodes_and_leaves_no_history(make_bus):
    a, b = await make_bus("a"), await make_bus("b")
    ch, other = chan(), chan()
    await b.subscribe(ch)
    await asyncio.sleep(0.05)
    binary = bytes(range(256)) + b":\x00:"  # document updates are binary, colons and all
    await a.broadcast(ch, binary)
    await a.broadcast(other, b"nobody listens")
    got = make_bus.received(b)
    await wait_for(lambda: any(p.channel == ch for p in got))
    [pub] = [p for p in got if p.channel == ch]
    assert pub.data == binary and pub.offset == 0
    assert (await a.history(ch, 0)).pubs == [] and (await a.position(ch)).offset == 0
    await asyncio.sleep(0.1)
    assert not [p for p in got if p.channel == other]


async def test_unsubscribed_node_receives_nothing(make_bus):
    bus = await make_bus("a")
    ch = chan()
    await bus.subscribe(ch)
    await bus.unsubscribe(ch)
    await bus.publish(ch, b"{}")
    await asyncio.sleep(0.1)
    assert not [p for p in make_bus.received(bus) if p.channel == ch]


async def test_history_since_and_coverage(make_bus):
    bus = await make_bus("a", history_size=10)
    ch = chan()
    for i in range(30):
        await bus.publish(ch, b'{"n":%d}' % i)
    recent = await bus.history(ch, since=28)
    assert [p.offset for p in recent.pubs] == [29, 30] and recent.covered
    assert recent.position.offset == 30
    old = await bus.history(ch, since=2)  # 3..19 have been trimmed away
    assert not old.covered
    nothing_new = await bus.history(ch, since=30)
    assert nothing_new.pubs == [] and nothing_new.covered
    assert not (await bus.history(ch, since=31)).covered  # a client ahead of the stream is confused: resync


async def test_new_channel_has_a_stable_epoch_and_offset_zero(make_bus):
    bus = await make_bus("a")
    ch = chan()
    p1 = await bus.position(ch)
    p2 = await bus.position(ch)
    assert p1.offset == 0 and p1 == p2
    pub = await bus.publish(ch, b"{}")
    assert pub.epoch == p1.epoch and pub.offset == 1


async def test_presence_sums_nodes(make_bus):
    a, b = await make_bus("a"), await make_bus("b")
    ch = chan()
    await a.set_presence(ch, 3, 2)
    if make_bus.kind == "redis":
        await b.set_presence(ch, 4, 4)
        assert await a.presence(ch) == PresenceCounts(7, 6)
        await b.set_presence(ch, 0, 0)
    assert await b.presence(ch) == PresenceCounts(3, 2)


async def test_presence_of_a_node_that_stops_refreshing_expires(make_bus, redis_url):
    if make_bus.kind == "memory":
        pytest.skip("one process: a dead node takes its memory bus with it")
    a = await make_bus("a", presence_ttl=0.5)
    b = await make_bus("b", presence_ttl=30)
    ch = chan()
    await a.set_presence(ch, 5, 5)
    await b.set_presence(ch, 1, 1)
    assert (await b.presence(ch)).clients == 6
    await asyncio.sleep(0.7)  # node a "died": it no longer refreshes
    assert await b.presence(ch) == PresenceCounts(1, 1)


async def test_redis_unreachable_is_a_clear_error(redis_url):
    bus = RedisBus("redis://127.0.0.1:1/0", "x")
    with pytest.raises(BusUnavailable):
        await bus.publish("announce:x", b"{}")
    with pytest.raises(BusUnavailable):
        await bus.history("announce:x", 0)
    assert await bus.ping() is False
    await bus.close()


async def test_two_redis_databases_on_one_server_never_hear_each_other(redis_url):
    """Pub/sub ignores Redis database numbers; the bus must not: a test run and a benchmark (or two
    deployments) sharing a Redis server stay apart."""
    other_url = harness.SPARE_REDIS_URL
    here, there = RedisBus(redis_url, "here"), RedisBus(other_url, "there")
    got_here, got_there = [], []
    await here.start(got_here.append, lambda up: None)
    await there.start(got_there.append, lambda up: None)
    try:
        ch = chan()
        await here.subscribe(ch)
        await there.subscribe(ch)
        await asyncio.sleep(0.05)
        await here.publish(ch, b'{"n":1}')
        await here.broadcast(ch, b"binary")
        await wait_for(lambda: len([p for p in got_here if p.channel == ch]) == 2)
        await asyncio.sleep(0.1)
        assert not [p for p in got_there if p.channel == ch]
    finally:
        await here.close()
        await there.close()


async def test_a_key_is_claimed_once_across_nodes_until_it_expires(make_bus):
    """claim_once guards single-use tickets: of many concurrent claims on two nodes exactly one wins,
    and the key can be claimed again only once its time is up."""
    a, b = await make_bus("a"), await make_bus("b")
    key = "test:" + secrets.token_hex(6)
    wins = await asyncio.gather(*(bus.claim_once(key, 0.5) for bus in (a, b) * 10))
    assert wins.count(True) == 1
    assert await a.claim_once("test:" + secrets.token_hex(6), 0.5)  # another key is its own
    await asyncio.sleep(0.7)
    assert await b.claim_once(key, 0.5)


async def test_a_lease_has_one_holder_until_it_lapses_or_is_released(make_bus):
    """hold() gives the program of an activity to one node: of two nodes racing, one holds it and the
    other is told who; the holder renews it; unrenewed it lapses and the other takes it over."""
    a, b = await make_bus("a"), await make_bus("b")  # the same object for the memory bus
    names = ("node-a", "node-b")
    key = "test:" + secrets.token_hex(6)
    got = await asyncio.gather(a.hold(key, names[0], 0.4), b.hold(key, names[1], 0.4))
    winner = got[0]
    assert got == [winner, winner] and winner in names
    loser = names[1] if winner == names[0] else names[0]
    await asyncio.sleep(0.25)
    assert await a.hold(key, winner, 0.4) == winner  # renewed past its first expiry
    await asyncio.sleep(0.25)
    assert await b.hold(key, loser, 0.4) == winner
    await asyncio.sleep(0.5)
    assert await b.hold(key, loser, 0.4) == loser  # lapsed: taken over
    await a.release(key, winner)  # not the holder any more: nothing happens
    assert await a.hold(key, winner, 0.4) == loser
    await b.release(key, loser)
    assert await a.hold(key, winner, 0.4) == winner


async def test_blobs_are_fetched_by_other_nodes_until_they_expire(make_bus):
    a, b = await make_bus("a"), await make_bus("b")
    key = "test:" + secrets.token_hex(6)
    await a.put_blobs({key + ":1": b"\x00part-one", key + ":2": b"two"}, 0.4)
    assert await b.get_blob(key + ":1") == b"\x00part-one"
    assert await b.get_blob(key + ":3") is None
    await asyncio.sleep(0.6)
    assert await b.get_blob(key + ":2") is None


async def test_a_burst_beyond_the_connection_pool_waits_its_turn_instead_of_failing(redis_url):
    """A storm of subscribes to new channels (a national activity's groups forming) reads history for
    each at once: more than the pool's connections wait for one, none is told the bus is away."""
    from collab.realtime.redis_bus import POOL

    bus = RedisBus(redis_url, "burst")
    await bus.start(lambda pub: None, lambda up: None)
    try:
        answers = await asyncio.gather(*(bus.history(chan(), 0) for _ in range(POOL * 4)), return_exceptions=True)
        assert [a for a in answers if isinstance(a, BaseException)] == []
    finally:
        await bus.close()
