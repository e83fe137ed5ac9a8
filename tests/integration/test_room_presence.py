"""The room's online count on two nodes sharing Redis and PostgreSQL: people may ask for it (the
`presence` command and the API), and the server pushes it to every page in the room when it changes,
so pages on both nodes show the same number, following joins and leaves."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

import harness
from collab.auth.accounts import create_user
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker

pytestmark = pytest.mark.usefixtures("validate_pushes")  # the presence line as docs/pushes.schema.json says

INTERVAL = 0.5  # --presence-interval: how often each node reads the count and pushes a change


@pytest.fixture(scope="module")
async def pg_users():
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    out = {}
    async with make_sessionmaker(engine)() as db:
        for username, role in [("org", "organizer"), ("expert", "expert"), ("tea1", "teacher"), ("tea2", "teacher"),
                               ("tea3", "teacher"), ("outsider", "teacher")]:
            u = await create_user(db, username=username, password="password-" + username,
                                  display_name=username.title(), role=role)
            out[username] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    yield url, out
    await harness.drop_pg_database(url)


@pytest.fixture(scope="module")
async def nodes(pg_users, redis_url):
    url, _ = pg_users
    a = harness.Server(url, redis_url, name="count-a", presence_interval=INTERVAL).start(wait=False)
    b = harness.Server(url, redis_url, name="count-b", presence_interval=INTERVAL).start(wait=False)
    a.wait()
    b.wait()
    yield a, b
    a.cleanup()
    b.cleanup()


async def scheduled(node, users, visibility: str = "registered") -> int:
    body = {"title": "在线人数", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": visibility, "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 45}],
            "hosts": [users["org"][0]], "experts": [users["expert"][0]]}
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/activities", json=body, headers={"Authorization": f"Bearer {users['org'][1]}"})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        for name in ("tea1", "tea2", "tea3"):
            r = await http.post(f"/api/activities/{aid}/register", headers={"Authorization": f"Bearer {users[name][1]}"})
            assert r.json()["status"] == "approved", r.text
    return aid


async def enter(node, token: str, aid: int) -> tuple[harness.WsClient, dict]:
    c = await harness.WsClient(node.ws_url).open(token)
    snap = await c.ok("activity.snapshot", activity_id=aid)
    await c.ok("subscribe", channel=snap["channel"], since=snap["since"])
    return c, snap


def shown(c: harness.WsClient) -> int | None:
    """What the page shows: the last count pushed to it."""
    return c.presence[-1]["presence"]["users"] if c.presence else None


async def all_show(clients: list[harness.WsClient], users: int, within: float = 15.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if all(shown(c) == users for c in clients):
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"wanted {users} on every page, pages show {[shown(c) for c in clients]}")


async def test_every_page_on_both_nodes_shows_the_same_count_and_follows_joins_and_leaves(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users)
    org, _ = await enter(a, users["org"][1], aid)
    t1, _ = await enter(b, users["tea1"][1], aid)
    t2, _ = await enter(a, users["tea2"][1], aid)
    room = [org, t1, t2]
    await all_show(room, 3)

    # The pushed line is a count, not an event of the room: no offset, nothing to recover.
    line = t1.presence[-1]
    assert line["ch"] == f"activity:{aid}" and "o" not in line and "e" not in line
    assert line["presence"]["clients"] >= 3

    await t2.close()  # a teacher leaves; the two who remain, one per node, see it
    await all_show([org, t1], 2)

    t3, snap = await enter(b, users["tea3"][1], aid)  # a late joiner: the snapshot has a count at once
    assert snap["presence"]["users"] >= 2
    await all_show([org, t1, t3], 3)

    # The count only moves when people do: no repeated lines for an unchanged room.
    before = [len(c.presence) for c in (org, t1, t3)]
    await asyncio.sleep(INTERVAL * 4)
    assert [len(c.presence) for c in (org, t1, t3)] == before
    for c in (org, t1, t3):
        await c.close()


async def test_presence_is_answered_to_those_in_the_room_and_refused_to_others(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users)
    teacher, _ = await enter(b, users["tea1"][1], aid)
    org = await harness.WsClient(a.ws_url).open(users["org"][1])
    outsider = await harness.WsClient(b.ws_url).open(users["outsider"][1])
    channel = f"activity:{aid}"

    async def count_from(c: harness.WsClient) -> int:
        return (await c.ok("presence", channel=channel))["users"]

    deadline = time.monotonic() + 10
    while await count_from(org) != 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await count_from(org) == 1  # the organizer asks from the other node: the teacher is counted
    assert await count_from(teacher) >= 1
    refused = await outsider.call("presence", channel=channel)
    assert refused["error"]["code"] == "forbidden"
    missing = await org.call("presence", channel="activity:999999")
    assert missing["error"]["code"] == "forbidden"

    async with httpx.AsyncClient(base_url=a.url) as http:
        r = await http.get(f"/api/channels/{channel}/presence", headers={"Authorization": f"Bearer {users['tea1'][1]}"})
        assert r.status_code == 200 and r.json()["users"] == 1, r.text
        r = await http.get(f"/api/channels/{channel}/presence", headers={"Authorization": f"Bearer {users['outsider'][1]}"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = await http.get(f"/api/channels/{channel}/presence")
        assert r.status_code == 401
    for c in (teacher, org, outsider):
        await c.close()
