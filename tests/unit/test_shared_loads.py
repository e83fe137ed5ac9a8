"""Concurrent asks for one key share one load, a failure reaches every asker of it, and the next ask
loads again (collab/shared_loads.py)."""

from __future__ import annotations

import asyncio

import pytest

from collab.shared_loads import SharedLoads


async def test_asks_during_a_load_share_it_and_a_failure_is_everyones_then_forgotten():
    loads: SharedLoads[str, int] = SharedLoads()
    calls, gate = [], asyncio.Event()

    async def make(value):
        calls.append(value)
        await gate.wait()
        if value < 0:
            raise RuntimeError("the database went away")
        return value

    asks = [asyncio.create_task(loads.load("room", lambda: make(7))) for _ in range(100)]
    await asyncio.sleep(0)
    assert loads.pending("room") and loads.keys() == ["room"]
    gate.set()
    assert await asyncio.gather(*asks) == [7] * 100 and calls == [7]
    assert not loads.pending("room")

    gate.clear()
    failing = [asyncio.create_task(loads.load("room", lambda: make(-1))) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    for result in await asyncio.gather(*failing, return_exceptions=True):
        assert isinstance(result, RuntimeError)
    assert await loads.load("room", lambda: make(8)) == 8  # the next ask loads again


async def test_a_cancelled_asker_does_not_cancel_the_load_the_others_wait_for():
    loads: SharedLoads[str, int] = SharedLoads()
    gate = asyncio.Event()

    async def make():
        await gate.wait()
        return 1

    first = asyncio.create_task(loads.load("k", make))
    await asyncio.sleep(0)
    second = asyncio.create_task(loads.load("k", make))
    await asyncio.sleep(0)
    second.cancel()
    gate.set()
    assert await first == 1
    with pytest.raises(asyncio.CancelledError):
        await second
