"""A studio's activity admits the studio's members; removing one from the studio shuts them out of
its activity at once, on every node, though each node keeps a warm copy of who stands where in the
room (sessions' room cache). Studios do not know activities: they tell whoever admits by membership
(the hook live activities install), and the activities forget that member's standing on every node.

Two nodes on PostgreSQL and Redis: the lead removes the member through one, the member is refused on
the other."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import harness
from collab.store import schema
from studio_seed import seed_studio


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    seed = await seed_studio(url)
    nodes = [harness.Server(url, redis_url, name=f"studio-room-{i}").start(wait=False) for i in (1, 2)]
    for node in nodes:
        node.wait()
    yield {"nodes": nodes, **seed}
    for node in nodes:
        node.cleanup()
    await harness.drop_pg_database(url)


def bearer(world, who):
    return {"Authorization": f"Bearer {world['users'][who][1]}"}


async def test_a_member_removed_from_the_studio_is_refused_in_its_activity_on_every_node(world):
    first, second = world["nodes"]
    sid = world["studio"]
    async with httpx.AsyncClient(base_url=first.url) as http:
        body = {"title": "工作室集体备课", "starts_at": "2027-04-01T14:00:00+08:00",
                "ends_at": "2027-04-01T15:00:00+08:00", "visibility": "invited", "studio_id": sid,
                "agenda": [{"kind": "discussion", "minutes": 30}]}
        r = await http.post("/api/activities", json=body, headers=bearer(world, "leader"))
        assert r.status_code == 201, r.text
        aid = r.json()["id"]

    member = await harness.WsClient(second.ws_url).open(world["users"]["member"][1])
    outsider = await harness.WsClient(second.ws_url).open(world["users"]["outsider"][1])
    try:
        # the second node now holds the member's standing (admitted as a studio member) in its cache
        for _ in range(2):
            assert "ok" in await member.call("activity.snapshot", activity_id=aid)
        refused = await outsider.call("activity.snapshot", activity_id=aid)
        assert refused["error"]["code"] == "forbidden"

        async with httpx.AsyncClient(base_url=first.url) as http:
            r = await http.delete(f"/api/studios/{sid}/members/{world['users']['member'][0]}",
                                  headers=bearer(world, "leader"))
            assert r.status_code in (200, 204), r.text

        # the removal answered only after every node was told: the very next command is refused
        after = await member.call("activity.snapshot", activity_id=aid)
        assert after.get("error", {}).get("code") == "forbidden", after
        # and the others' standing is untouched
        observer = await harness.WsClient(second.ws_url).open(world["users"]["observer"][1])
        assert "ok" in await observer.call("activity.snapshot", activity_id=aid)
        await observer.close()
    finally:
        await member.close()
        await outsider.close()
