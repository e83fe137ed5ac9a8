"""The stage across two server processes over real Redis and PostgreSQL: the presenter publishes to
node A; teachers on node B watch through node B, which links to node A once for all of them."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiortc import RTCPeerConnection

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from media_peers import MovingPicture, Tone
from test_stage import accept, offer_to_send, stage_event, until, video, watch

pytestmark = pytest.mark.usefixtures("validate_pushes")  # every push as docs/pushes.schema.json says


async def gauge(node, name: str) -> float:
    async with httpx.AsyncClient(base_url=node.ops_url) as http:  # the node's internal port
        text = (await http.get("/metrics")).text
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    users = {}
    async with make_sessionmaker(engine)() as db:
        for name, role in [("org", "organizer"), ("presenter", "teacher"), ("t1", "teacher"), ("t2", "teacher")]:
            u = await create_user(db, username="nodes_" + name, password="password-" + name,
                                  display_name=name.title(), role=role)
            users[name] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    a = harness.Server(url, redis_url, name="stage-na").start(wait=False)
    b = harness.Server(url, redis_url, name="stage-nb").start(wait=False)
    a.wait()
    b.wait()
    async with httpx.AsyncClient(base_url=a.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org'][1]}"}, json={
            "title": "two nodes", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": "public", "agenda": [{"kind": "lesson_display", "minutes": 30}],
            "presenters": [users["presenter"][0]]})
        aid = r.json()["id"]
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    yield {"a": a, "b": b, "users": users, "aid": aid, "node": a}
    await host.close()
    a.cleanup()
    b.cleanup()
    await harness.drop_pg_database(url)


async def test_viewers_on_another_node_watch_through_one_link(world):
    users, aid = world["users"], world["aid"]
    pws = await harness.WsClient(world["a"].ws_url).open(users["presenter"][1])
    ppc = RTCPeerConnection()
    r = await pws.ok("stage.publish", timeout=20, activity_id=aid, offer=await offer_to_send(ppc, [MovingPicture(), Tone()]))
    await accept(ppc, r["answer"])
    t1 = await harness.WsClient(world["b"].ws_url).open(users["t1"][1])
    await t1.ok("subscribe", channel=f"activity:{aid}")
    await stage_event(t1, lambda e: any(p["user_id"] == users["presenter"][0] for p in e["on_stage"]))
    t2 = await harness.WsClient(world["b"].ws_url).open(users["t2"][1])
    world_b = {**world, "node": world["b"]}
    state = await t1.ok("stage.state", activity_id=aid)  # asked on node B, the publisher is on node A
    assert state["on_stage"] == [] and state["roster"] == [{"user_id": users["presenter"][0], "name": "Presenter"}]
    v1, c1, s1 = await watch(t1, world_b, users["presenter"][0])
    v2, c2, s2 = await watch(t2, world_b, users["presenter"][0])
    await until(lambda: all(video(c) is not None and video(c).frames > 20 for c in (c1, c2)), timeout=10)
    assert video(c1).size == (640, 480)
    assert await gauge(world["a"], "collab_stage_views") == 1  # node A sends once, to node B
    assert await gauge(world["b"], "collab_stage_links") == 1
    assert await gauge(world["b"], "collab_stage_views") == 2  # node B serves its two teachers
    # the presenter leaves: the link ends, B's viewers see the stage empty; a new publication is watched again
    await pws.close()
    await ppc.close()
    await stage_event(t1, lambda e: e["on_stage"] == [])
    frames = video(c1).frames
    await asyncio.sleep(1.0)
    assert video(c1).frames <= frames + 3
    pws2 = await harness.WsClient(world["a"].ws_url).open(users["presenter"][1])
    ppc2 = RTCPeerConnection()
    r = await pws2.ok("stage.publish", timeout=20, activity_id=aid, offer=await offer_to_send(ppc2, [MovingPicture(), Tone()]))
    await accept(ppc2, r["answer"])
    await stage_event(t1, lambda e: any(p["user_id"] == users["presenter"][0] for p in e["on_stage"]))
    v3, c3, _ = await watch(t1, world_b, users["presenter"][0])
    await until(lambda: video(c3) is not None and video(c3).frames > 10, timeout=10)
    for pc in (v1, v2, v3, ppc2):
        await pc.close()
    for c in (t1, t2, pws2):
        await c.close()


async def test_when_the_publishers_node_dies_the_stage_comes_back_on_another(world, redis_url):
    """The presenter's node is killed mid-lesson. Their client reconnects to another node and publishes
    again; a teacher's client, told by the next `stage` event, watches again: no page reload, and the
    rest of the activity (questions) carries on meanwhile."""
    users, aid = world["users"], world["aid"]
    doomed = harness.Server(world["a"].database_url, redis_url, name="stage-doomed").start()
    try:
        pws = await harness.WsClient(doomed.ws_url).open(users["presenter"][1])
        ppc = RTCPeerConnection()
        r = await pws.ok("stage.publish", timeout=20, activity_id=aid,
                         offer=await offer_to_send(ppc, [MovingPicture(320, 240), Tone()]))
        await accept(ppc, r["answer"])
        t1 = await harness.WsClient(world["b"].ws_url).open(users["t1"][1])
        await t1.ok("subscribe", channel=f"activity:{aid}")
        await stage_event(t1, lambda e: e["node"] == "stage-doomed" and e["on_stage"])
        world_b = {**world, "node": world["b"]}
        v1, c1, _ = await watch(t1, world_b, users["presenter"][0])
        await until(lambda: video(c1) is not None and video(c1).frames > 10, timeout=10)
        doomed.kill()
        await ppc.close()
        asked = await t1.ok("qa.ask", activity_id=aid, body="画面停了, 是网络问题吗?")  # the room goes on
        assert asked["question"]["status"] == "open"
        # the presenter's client reconnects to node B and publishes again
        pws2 = await harness.WsClient(world["b"].ws_url).open(users["presenter"][1])
        ppc2 = RTCPeerConnection()
        r = await pws2.ok("stage.publish", timeout=20, activity_id=aid,
                          offer=await offer_to_send(ppc2, [MovingPicture(320, 240), Tone()]))
        await accept(ppc2, r["answer"])
        event = await stage_event(t1, lambda e: e["node"] == "stage-nb" and e["on_stage"])
        assert [p["user_id"] for p in event["on_stage"]] == [users["presenter"][0]]
        v2, c2, _ = await watch(t1, world_b, users["presenter"][0])
        await until(lambda: video(c2) is not None and video(c2).frames > 10, timeout=10)
        for pc in (v1, v2, ppc2):
            await pc.close()
        for c in (t1, pws2):
            await c.close()
    finally:
        doomed.cleanup()
