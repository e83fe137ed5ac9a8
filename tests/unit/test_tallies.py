"""Totals published at a bounded rate: nothing marked is ever left unpublished."""

from __future__ import annotations

import asyncio

from sessions.tallies import Tally


async def test_marks_made_while_publishing_go_out_a_tick_later():
    published: list[tuple[int, set[int]]] = []
    tally: Tally

    async def load(activity_id, keys):
        return set(keys)

    async def publish(activity_id, keys):
        published.append((activity_id, keys))
        if len(published) == 1:
            tally.mark(1, 99)  # a vote that lands while the first totals are going out
        await asyncio.sleep(0)

    tally = Tally(load, publish, interval=0.02)
    for key in (1, 2, 3):
        tally.mark(1, key)
    await asyncio.sleep(0.1)
    assert published == [(1, {1, 2, 3}), (1, {99})]  # one event for three marks; the late one too


async def test_at_most_one_publication_per_interval():
    published = []

    async def load(activity_id, keys):
        return len(keys)

    async def publish(activity_id, n):
        published.append(n)

    tally = Tally(load, publish, interval=0.05)
    for i in range(200):
        tally.mark(7, i % 10)
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.12)
    assert 3 <= len(published) <= 7 and sum(1 for _ in published) < 20
