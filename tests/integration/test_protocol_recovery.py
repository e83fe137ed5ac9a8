"""A client written from docs/protocol.md alone, moving between two nodes that share Redis and PostgreSQL.

It does what the document says and nothing more: it stands where the subscribe reply says, drops a push
whose offset is at or below where it stands or whose `e.id` it has already seen, and keeps the rest.
Across a reconnect to the other node, while events keep coming, it must miss nothing and keep nothing
twice. (Before the reply of a recovering subscribe said where the client recovers *from*, it said the
newest offset, and such a client dropped every replayed event.)
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

import harness
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from harness import validate_pushes  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("validate_pushes")


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    users = {}
    async with make_sessionmaker(engine)() as db:
        for username, role in [("org", "organizer"), ("teacher1", "teacher"), ("teacher2", "teacher")]:
            u = await create_user(db, username="proto_" + username, password="password-" + username,
                                  display_name=username.title(), role=role)
            users[username] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    a = harness.Server(url, redis_url, name="proto-a").start(wait=False)
    b = harness.Server(url, redis_url, name="proto-b").start(wait=False)
    a.wait()
    b.wait()
    yield a, b, users
    a.cleanup()
    b.cleanup()
    await harness.drop_pg_database(url)


class DocClient:
    """docs/protocol.md, "Channels and subscribing" and "Recovery", taken literally."""

    def __init__(self, token: str, channel: str) -> None:
        self.token = token
        self.channel = channel
        self.ws: harness.WsClient | None = None
        self.position: tuple[str, int] | None = None  # (epoch, offset): where the client stands
        self.kept: list[dict] = []  # pushes kept, in order
        self.seen: set[str] = set()
        self.dropped: list[dict] = []
        self.reloads = 0

    async def join(self, node: harness.Server, since: dict | None = None) -> dict:
        self.ws = await harness.WsClient(node.ws_url).open(self.token)
        args = {"channel": self.channel}
        if since is None and self.position is not None:
            since = {"epoch": self.position[0], "offset": self.position[1]}
        if since is not None:
            args["since"] = since
        r = await self.ws.ok("subscribe", **args)
        if since is not None and not r["recovered"]:
            self.reloads += 1
        self.position = (r["epoch"], r["offset"])  # "epoch and offset are where the client now stands"
        return r

    def take(self, push: dict) -> None:
        if "resync" in push:
            self.reloads += 1
            self.position = (push["resync"]["epoch"], push["resync"]["offset"])
            return
        o, event_id = push["o"], push["e"]["id"]
        if o is not None and o <= self.position[1]:
            self.dropped.append(push)
            return
        if o is not None:
            self.position = (self.position[0], o)
        if event_id in self.seen:
            self.dropped.append(push)
            return
        self.seen.add(event_id)
        self.kept.append(push)

    def absorb(self) -> "DocClient":
        while not self.ws.pushes.empty():
            self.take(self.ws.pushes.get_nowait())
        return self

    def ids(self) -> list[str]:
        return [p["e"]["id"] for p in self.absorb().kept]

    async def leave(self) -> None:
        await self.ws.close()
        self.absorb()


async def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_literal_client_recovers_on_the_other_node_while_announcements_keep_coming(world):
    a, b, users = world
    channel = "announce:proto-recovery"
    org = await harness.WsClient(a.ws_url).open(users["org"][1])
    teacher = DocClient(users["teacher1"][1], channel)
    await teacher.join(a)
    posted: list[tuple[str, int]] = []  # (event id, offset) as the publisher was told

    async def post(n: int) -> None:
        for _ in range(n):
            r = await org.ok("announce.post", channel=channel, body=f"通知 {len(posted)}")
            posted.append((r["id"], r["offset"]))
            await asyncio.sleep(0.005)

    await post(10)
    await until(lambda: len(teacher.ids()) == 10, 10, "the first ten on node A")
    await teacher.leave()
    await post(10)  # missed while away
    posting = asyncio.create_task(post(40))  # and more while the teacher comes back
    try:
        since = {"epoch": teacher.position[0], "offset": teacher.position[1]}
        r = await teacher.join(b)
        assert r["recovered"] is True
        assert r["offset"] == since["offset"]  # the reply names where it recovers from: the replay follows
        await posting
    finally:
        posting.cancel()
    await until(lambda: len(teacher.ids()) >= len(posted), 10, "every announcement on node B")
    assert teacher.ids() == [i for i, _ in posted]  # nothing missed, nothing twice, in order
    assert [p["o"] for p in teacher.kept] == [o for _, o in posted]
    assert teacher.reloads == 0
    assert all(p["e"]["id"] in teacher.seen for p in teacher.dropped)  # only second copies were dropped
    await org.close()
    await teacher.leave()


async def test_a_literal_client_keeps_the_room_whole_across_nodes_from_its_snapshot(world):
    a, b, users = world
    auth = {"Authorization": f"Bearer {users['org'][1]}"}
    async with httpx.AsyncClient(base_url=a.url) as http:
        r = await http.post("/api/activities", headers=auth, json={
            "title": "协议测试", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "agenda": [{"kind": "discussion", "title": "研讨", "minutes": 30}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        for t in ("teacher1", "teacher2"):
            r = await http.post(f"/api/activities/{aid}/register",
                                headers={"Authorization": f"Bearer {users[t][1]}"})
            assert r.json()["status"] == "approved", r.text
    org = await harness.WsClient(b.ws_url).open(users["org"][1])
    other = await harness.WsClient(b.ws_url).open(users["teacher2"][1])
    await org.ok("activity.open_lobby", activity_id=aid)
    published: list[tuple[str, int]] = []  # (event id, offset) from each command's reply

    async def chat(client: harness.WsClient, body: str) -> None:
        r = await client.ok("chat.post", activity_id=aid, body=body)
        published.append((f"chat:{r['message']['id']}", r["offset"]))

    teacher = DocClient(users["teacher1"][1], f"activity:{aid}")
    teacher.ws = await harness.WsClient(a.ws_url).open(users["teacher1"][1])
    snap = await teacher.ws.ok("activity.snapshot", activity_id=aid)
    await teacher.ws.close()
    await teacher.join(a, since=snap["since"])  # the doc's way in: subscribe from the snapshot's position
    for i in range(5):
        await chat(org, f"欢迎 {i}")  # staff are not held to one post a second
    await until(lambda: len(teacher.ids()) == 5, 10, "the first messages on node A")
    await teacher.leave()

    for i in range(5, 12):
        await chat(org, f"欢迎 {i}")
    asked = await other.ok("qa.ask", activity_id=aid, body="小组讨论怎么分组?")
    published.append((f"question:{asked['question']['id']}", asked["offset"]))
    started = await org.ok("activity.start", activity_id=aid)
    published.append((started["event"]["id"], started["offset"]))

    r = await teacher.join(b)
    assert r["recovered"] is True
    await chat(other, "老师好")
    assert (await other.call("chat.post", activity_id=aid, body="再说一句"))["error"]["code"] == "rate_limited"
    for i in range(12, 15):
        await chat(org, f"欢迎 {i}")
    await until(lambda: len(teacher.ids()) >= len(published), 10, "every room event on node B")
    assert teacher.ids() == [i for i, _ in published]
    assert [p["o"] for p in teacher.kept] == [o for _, o in published]  # a reply's offset is its push's
    assert teacher.reloads == 0
    for client in (org, other):
        await client.close()
    await teacher.leave()
