"""The node's room cache under a storm: concurrent asks for a room share one load, a room change keeps
every teacher's standing, and a load overtaken by a change is not kept (sessions/room_cache.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sessions import room_cache
from sessions.room_cache import RoomCache


class Bus:
    healthy = True


class Hub:
    bus = Bus()

    async def watch(self, channel, watcher):
        pass

    async def broadcast(self, channel, data):
        return True


async def test_a_storm_of_asks_shares_one_load_and_a_room_change_keeps_standings(monkeypatch):
    loads = []
    gate = asyncio.Event()

    async def read(db, activity_id):
        loads.append(activity_id)
        await gate.wait()
        return SimpleNamespace(id=activity_id)

    monkeypatch.setattr(RoomCache, "_read", staticmethod(read))
    cache = RoomCache(Hub())
    await cache.start()
    asks = [asyncio.create_task(cache.view(None, 7)) for _ in range(500)]
    await asyncio.sleep(0)
    gate.set()
    views = await asyncio.gather(*asks)
    assert loads == [7] and len({id(v) for v in views}) == 1

    cache._standing[(7, 42)] = (room_cache.time.monotonic(), ("approved", False))
    await cache.changed(7)  # a phase change: the room is reloaded, the teacher's standing is kept
    assert 7 not in cache._views and (7, 42) in cache._standing
    await cache.changed(7, 42)  # a change that names the teacher: their standing goes
    assert (7, 42) not in cache._standing


async def test_a_load_overtaken_by_a_change_is_not_kept(monkeypatch):
    gate = asyncio.Event()

    async def read(db, activity_id):
        await gate.wait()
        return SimpleNamespace(id=activity_id)

    monkeypatch.setattr(RoomCache, "_read", staticmethod(read))
    cache = RoomCache(Hub())
    await cache.start()
    ask = asyncio.create_task(cache.view(None, 8))
    await asyncio.sleep(0)
    await cache.changed(8)  # the phase moved on while the row was being read
    gate.set()
    await ask
    assert 8 not in cache._views  # the next ask reads the room again
    await cache.view(None, 8)
    assert 8 in cache._views
