"""The live stage over WebRTC against a real server: aiortc peers publish generated video and audio
through `/ws` signaling; teachers watch and count decoded frames; a teacher called on from the hand
queue goes on stage and is taken off; a publisher who drops leaves the stage."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiortc import RTCPeerConnection

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from media_peers import Counter, MovingPicture, Tone, accept, offer_to_receive, offer_to_send

pytestmark = pytest.mark.usefixtures("validate_pushes")  # every push as docs/pushes.schema.json says


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    users = {}
    async with make_sessionmaker(engine)() as db:
        for name, role in [("org", "organizer"), ("presenter", "teacher"), ("expert", "expert"),
                           ("t1", "teacher"), ("t2", "teacher"), ("t3", "teacher")]:
            u = await create_user(db, username="stage_" + name, password="password-" + name,
                                  display_name=name.title(), role=role)
            users[name] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    node = harness.Server(url, redis_url, name="stage-a").start()
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org'][1]}"}, json={
            "title": "stage", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": "public", "agenda": [{"kind": "lesson_display", "minutes": 30},
                                               {"kind": "discussion", "minutes": 30}],
            "experts": [users["expert"][0]], "presenters": [users["presenter"][0]]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host = await harness.WsClient(node.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    yield {"node": node, "users": users, "aid": aid, "host": host}
    await host.close()
    node.cleanup()
    await harness.drop_pg_database(url)


async def publish(world, who, tracks) -> tuple[harness.WsClient, RTCPeerConnection]:
    ws = await harness.WsClient(world["node"].ws_url).open(world["users"][who][1])
    pc = RTCPeerConnection()
    offer = await offer_to_send(pc, tracks)
    r = await ws.call("stage.publish", timeout=20, activity_id=world["aid"], offer=offer)
    if "error" in r:
        await pc.close()
        return ws, r
    await accept(pc, r["ok"]["answer"])
    return ws, pc


async def watch(ws, world, publisher_id) -> tuple[RTCPeerConnection, list[Counter], float]:
    pc = RTCPeerConnection()
    counters: list[Counter] = []
    pc.on("track", lambda track: counters.append(Counter(track)))
    started = time.monotonic()
    r = await ws.ok("stage.watch", activity_id=world["aid"], publisher_id=publisher_id,
                    offer=await offer_to_receive(pc))
    await accept(pc, r["answer"])
    return pc, counters, started


async def until(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def video(counters):
    return next((c for c in counters if c.track.kind == "video"), None)


def audio(counters):
    return next((c for c in counters if c.track.kind == "audio"), None)


async def stage_event(ws, pred) -> dict:
    while True:
        push = await ws.push(timeout=10)
        if "e" in push and push["e"]["type"] == "stage" and pred(push["e"]):
            return push["e"]


async def test_the_presenter_publishes_and_teachers_watch_decoded_frames(world):
    users, aid = world["users"], world["aid"]
    room = await harness.WsClient(world["node"].ws_url).open(users["t1"][1])
    await room.ok("subscribe", channel=f"activity:{aid}")
    pws, ppc = await publish(world, "presenter", [MovingPicture(), Tone()])
    announced = await stage_event(room, lambda e: e["on_stage"])
    assert announced["on_stage"] == [{"user_id": users["presenter"][0], "name": "Presenter", "source": "camera",
                                      "tracks": ["audio", "video"]}]
    await asyncio.sleep(1.1)  # past the snapshot's shared cache
    late = await harness.WsClient(world["node"].ws_url).open(users["t3"][1])
    assert (await late.ok("activity.snapshot", activity_id=aid))["stage"] == [
        {"user_id": users["presenter"][0], "name": "Presenter"}]  # a late joiner knows whom to watch
    viewers = []
    for who in ("t1", "t2", "t3"):
        ws = room if who == "t1" else await harness.WsClient(world["node"].ws_url).open(users[who][1])
        viewers.append((ws, *await watch(ws, world, users["presenter"][0])))
    await asyncio.sleep(3)
    for ws, pc, counters, started in viewers:
        v, a = video(counters), audio(counters)
        assert v is not None and v.size == (640, 480), counters
        assert v.frames >= 45, v.frames  # about 30 fps over the window, allowing for start-up
        assert a is not None and a.frames >= 50, a.frames
        assert v.first_at - started < 1.5  # a new viewer gets a picture within about a second
    # a late viewer too
    late_ws = await harness.WsClient(world["node"].ws_url).open(users["expert"][1])
    lpc, lcounters, lstarted = await watch(late_ws, world, users["presenter"][0])
    await until(lambda: video(lcounters) is not None and video(lcounters).frames > 0, timeout=5)
    assert video(lcounters).first_at - lstarted < 1.5
    # the publisher drops: the stage empties for everyone, and for the next late joiner
    await pws.close()
    await stage_event(room, lambda e: e["on_stage"] == [])
    await asyncio.sleep(1.1)
    assert (await late.ok("activity.snapshot", activity_id=aid))["stage"] == []
    await late.close()
    for ws, pc, counters, _ in viewers:
        await pc.close()
    await lpc.close()
    await ppc.close()
    for ws in {v[0] for v in viewers} | {late_ws}:
        await ws.close()


async def test_a_teacher_called_on_goes_on_stage_and_is_taken_off(world):
    users, aid = world["users"], world["aid"]
    host = world["host"]
    await host.ok("activity.goto_phase", activity_id=aid, phase=1)  # discussion: hands allowed
    t2 = await harness.WsClient(world["node"].ws_url).open(users["t2"][1])
    _, refused = await publish(world, "t2", [MovingPicture(320, 240)])
    assert refused["error"]["code"] == "forbidden"  # nobody invited them
    await t2.ok("hand.raise", activity_id=aid)
    expert = await harness.WsClient(world["node"].ws_url).open(users["expert"][1])
    await expert.ok("subscribe", channel=f"activity:{aid}")
    assert (await t2.call("stage.remove", activity_id=aid, user_id=users["t3"][0]))["error"]["code"] == "forbidden"
    snap = await t2.ok("activity.snapshot", activity_id=aid)
    assert snap["me"]["may_publish"] is False and snap["me"]["invited_on_stage"] is False
    await expert.ok("hand.call", activity_id=aid, user_id=users["t2"][0])
    snap = await t2.ok("activity.snapshot", activity_id=aid)  # a reload still shows the invitation
    assert snap["me"]["may_publish"] is True and snap["me"]["invited_on_stage"] is True
    await t2.ok("stage.accept", activity_id=aid)
    tws, tpc = await publish(world, "t2", [MovingPicture(320, 240), Tone()])
    assert isinstance(tpc, RTCPeerConnection)
    on = await stage_event(expert, lambda e: any(p["user_id"] == users["t2"][0] for p in e["on_stage"]))
    assert {"user_id": users["t2"][0], "name": "T2", "source": "camera", "tracks": ["audio", "video"]} in on["on_stage"]
    vpc, counters, _ = await watch(expert, world, users["t2"][0])
    await until(lambda: video(counters) is not None and video(counters).frames > 10)
    assert video(counters).size == (320, 240)
    await expert.ok("stage.remove", activity_id=aid, user_id=users["t2"][0])
    await stage_event(expert, lambda e: all(p["user_id"] != users["t2"][0] for p in e["on_stage"]))
    _, again = await publish(world, "t2", [MovingPicture(320, 240)])
    assert again["error"]["code"] == "forbidden"  # taken off means no longer invited
    for pc in (tpc, vpc):
        await pc.close()
    for ws in (t2, expert, tws):
        await ws.close()


async def test_bad_signaling_is_refused_and_the_stage_keeps_serving(world):
    users, aid = world["users"], world["aid"]
    ws = await harness.WsClient(world["node"].ws_url).open(users["presenter"][1])
    for offer in (None, "sdp", {"type": "answer", "sdp": "v=0"}, {"type": "offer", "sdp": "garbage"},
                  {"type": "offer", "sdp": "x" * 40_000}):
        r = await ws.call("stage.publish", activity_id=aid, offer=offer)
        assert r.get("error", {}).get("code") == "invalid", (str(offer)[:40], r)
    t1 = await harness.WsClient(world["node"].ws_url).open(users["t1"][1])
    r = await t1.call("stage.watch", activity_id=aid, publisher_id=users["presenter"][0], offer={"type": "offer", "sdp": ""})
    assert r["error"]["code"] == "not_on_stage", r
    assert (await t1.call("stage.leave", activity_id=aid))["error"]["code"] == "not_on_stage"
    # and the node still serves a real publication
    await t1.ok("subscribe", channel=f"activity:{aid}")
    pws, ppc = await publish(world, "presenter", [MovingPicture(), Tone()])
    await stage_event(t1, lambda e: any(p["user_id"] == users["presenter"][0] for p in e["on_stage"]))
    vpc, counters, _ = await watch(t1, world, users["presenter"][0])
    await until(lambda: video(counters) is not None and video(counters).frames > 5)
    for pc in (ppc, vpc):
        await pc.close()
    for c in (ws, t1, pws):
        await c.close()


@pytest.mark.parametrize("kind", ["webm", "mp4"])
async def test_a_lesson_video_plays_to_everyone_with_pause_and_seek(world, kind, tmp_path):
    from media_peers import make_lesson_video

    users, aid = world["users"], world["aid"]
    path = tmp_path / f"lesson.{kind}"
    make_lesson_video(path, kind, seconds=6.0)
    auth = lambda who: {"Authorization": f"Bearer {users[who][1]}"}  # noqa: E731
    async with httpx.AsyncClient(base_url=world["node"].url, timeout=20) as http:
        files = {"file": (path.name, path.read_bytes())}
        assert (await http.post(f"/api/activities/{aid}/lesson-videos", headers=auth("t1"), files=files)).status_code == 403
        r = await http.post(f"/api/activities/{aid}/lesson-videos", headers=auth("presenter"), files=files,
                            data={"title": "课例视频"})
        assert r.status_code == 201, r.text
        video_id = r.json()["id"]
        fake = {"file": ("fake.mp4", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 2000)}
        bad = await http.post(f"/api/activities/{aid}/lesson-videos", headers=auth("presenter"), files=fake)
        assert bad.status_code == 415  # an MP4 box with nothing playable in it
    presenter = await harness.WsClient(world["node"].ws_url).open(users["presenter"][1])
    assert (await presenter.call("stage.video", activity_id=aid, action="pause"))["error"]["code"] == "not_on_stage"
    started = await presenter.ok("stage.video", activity_id=aid, action="start", video_id=video_id)
    assert started["video"]["state"] == "playing" and started["video"]["duration"] > 5
    t3 = await harness.WsClient(world["node"].ws_url).open(users["t3"][1])
    assert (await t3.call("stage.video", activity_id=aid, action="pause"))["error"]["code"] == "forbidden"
    pc, counters, t0 = await watch(t3, world, "lesson")
    await until(lambda: video(counters) is not None and video(counters).frames > 10, timeout=5)
    assert video(counters).first_at - t0 < 1.5 and video(counters).size == (320, 240)
    # pause: the picture stops for everyone; play: it moves on
    await presenter.ok("stage.video", activity_id=aid, action="pause")
    await asyncio.sleep(0.3)
    frozen = video(counters).frames
    await asyncio.sleep(1.0)
    assert video(counters).frames <= frozen + 2
    await presenter.ok("stage.video", activity_id=aid, action="play")
    await until(lambda: video(counters).frames > frozen + 10, timeout=5)
    sought = await presenter.ok("stage.video", activity_id=aid, action="seek", position=1.0)
    assert 0.9 <= sought["video"]["position"] <= 1.5
    state = await t3.ok("stage.state", activity_id=aid)
    assert [p["user_id"] for p in state["on_stage"] if "video" in p] == ["lesson"]
    await presenter.ok("stage.video", activity_id=aid, action="stop")
    await pc.close()
    for c in (presenter, t3):
        await c.close()


async def test_the_stage_is_recorded_for_the_replay(world):
    """Run last: it ends the activity. Every publication above was recorded while the activity was live."""
    import av

    users, aid = world["users"], world["aid"]
    # someone is still on stage when the host ends the activity: the stage closes with it
    room = await harness.WsClient(world["node"].ws_url).open(users["t1"][1])
    await room.ok("subscribe", channel=f"activity:{aid}")
    pws, ppc = await publish(world, "presenter", [MovingPicture(), Tone()])
    await stage_event(room, lambda e: e["on_stage"])
    await asyncio.sleep(1.5)  # a recording of some length
    await world["host"].ok("activity.end", activity_id=aid)
    await stage_event(room, lambda e: e["on_stage"] == [])
    assert (await room.ok("stage.state", activity_id=aid))["on_stage"] == []
    _, refused = await publish(world, "presenter", [MovingPicture()])
    assert refused["error"]["code"] == "forbidden"  # the stage of an ended activity stays closed
    await ppc.close()
    for c in (room, pws):
        await c.close()
    auth = {"Authorization": f"Bearer {users['t1'][1]}"}
    async with httpx.AsyncClient(base_url=world["node"].url) as http:
        replay = (await http.get(f"/api/activities/{aid}/replay", headers=auth)).json()
        recs = replay["recordings"]
        assert {r["user"]["id"] for r in recs} >= {users["presenter"][0], users["t2"][0]}
        first = next(r for r in recs if r["user"]["id"] == users["presenter"][0])
        got = await http.get(first["url"], headers=auth)
        assert got.status_code == 200 and got.headers["content-type"] == "video/webm"
        assert (await http.get(first["url"])).status_code == 200  # a public activity: its replay is public
    path = world["node"].datadir / "recording.webm"
    path.write_bytes(got.content)
    with av.open(str(path)) as container:
        kinds = {s.type for s in container.streams}
        frames = sum(1 for _ in container.decode(video=0))
    assert kinds == {"video", "audio"}
    assert frames >= 30, frames  # seconds of the presenter's 30 fps picture, decodable as viewers saw it
