"""Screen sharing on the stage against two real server processes sharing Redis and PostgreSQL: aiortc
peers stand in for browsers. A presenter publishes a camera (640×480) and, beside it, a shared screen
(1920×1080 at 10 fps) as its own publication `screen:<user id>`; teachers watch both and decode the
frames of each; an expert stops the share without taking the presenter off the stage; a viewer on the
other node watches the screen through that node's link, and a moderator there stops it; closing the
socket ends both; the shares are recorded for the replay."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiortc import RTCPeerConnection

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from media_peers import MovingPicture, Tone, accept, offer_to_send
from test_stage import until, video, watch

pytestmark = pytest.mark.usefixtures("validate_pushes")  # every push as docs/pushes.schema.json says

SCREEN_SIZE = (1920, 1080)


@pytest.fixture(scope="module")
async def world(redis_url):
    url, users = await harness.pg_database_with([("org", "organizer"), ("presenter", "teacher"), ("expert", "expert"),
                                                 ("t1", "teacher"), ("t2", "teacher")], prefix="screen_")
    a = harness.Server(url, redis_url, name="screen-a").start(wait=False)
    b = harness.Server(url, redis_url, name="screen-b").start(wait=False)
    await asyncio.to_thread(a.wait)
    await asyncio.to_thread(b.wait)
    async with httpx.AsyncClient(base_url=a.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org'][1]}"}, json={
            "title": "屏幕共享", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": "public", "agenda": [{"kind": "lesson_display", "minutes": 30}],
            "experts": [users["expert"][0]], "presenters": [users["presenter"][0]]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    yield {"a": a, "b": b, "node": a, "users": users, "aid": aid, "host": host}
    await host.close()
    a.cleanup()
    b.cleanup()
    await harness.drop_pg_database(url)


async def client(world, who, node="a", channels=("",)) -> harness.WsClient:
    """`who` connected to `node`, following the room ("") and/or the moderators' desk (":mod")."""
    ws = await harness.WsClient(world[node].ws_url).open(world["users"][who][1])
    for suffix in channels:
        await ws.ok("subscribe", channel=f"activity:{world['aid']}{suffix}")
    return ws


async def publish(ws, world, tracks, **args) -> RTCPeerConnection | dict:
    """Publish `tracks` (`source="screen"` to share a screen); the refusal's error if refused."""
    pc = RTCPeerConnection()
    r = await ws.call("stage.publish", timeout=20, activity_id=world["aid"], offer=await offer_to_send(pc, tracks),
                      **args)
    if "error" in r:
        await pc.close()
        return r["error"]
    await accept(pc, r["ok"]["answer"])
    return pc


def screen_picture() -> MovingPicture:
    return MovingPicture(*SCREEN_SIZE, fps=10)


async def event(ws, kind: str, pred=lambda e: True, timeout: float = 10.0) -> dict:
    """The next pushed event of type `kind` that satisfies `pred` (others are passed over)."""
    async with asyncio.timeout(timeout):
        while True:
            push = await ws.push(timeout=timeout)
            if "e" in push and push["e"]["type"] == kind and pred(push["e"]):
                return push["e"]


def on_stage(*ids):
    """A predicate for a `stage` event listing exactly these publisher ids."""
    return lambda e: sorted(map(str, (p["user_id"] for p in e["on_stage"]))) == sorted(map(str, ids))


async def frames_keep_coming(counter, seconds: float = 1.0) -> int:
    before = counter.frames
    await asyncio.sleep(seconds)
    return counter.frames - before


async def test_a_presenter_shares_a_screen_beside_the_camera_and_an_expert_stops_only_the_share(world):
    users, aid = world["users"], world["aid"]
    pid = users["presenter"][0]
    screen = f"screen:{pid}"
    room = await client(world, "t1")
    expert = await client(world, "expert", channels=(":mod",))
    presenter = await client(world, "presenter")
    camera_pc = await publish(presenter, world, [MovingPicture(), Tone()])
    await event(room, "stage", on_stage(pid))

    # what is refused: a teacher without a seat, a source that is no source, a "screen" without video
    t2 = await client(world, "t2", channels=())
    assert (await publish(t2, world, [screen_picture()], source="screen"))["code"] == "forbidden"
    assert (await publish(presenter, world, [screen_picture()], source="window"))["code"] == "invalid"
    assert (await publish(presenter, world, [Tone()], source="screen"))["code"] == "invalid"
    assert (await presenter.call("stage.leave", activity_id=aid, source="screen"))["error"]["code"] == "not_on_stage"

    # the share: its own publication beside the camera, on the moderators' desk and in the room
    screen_pc = await publish(presenter, world, [screen_picture(), Tone(220)], source="screen")
    started = await event(expert, "screen_started")
    assert (started["user_id"], started["name"], started["by"]["id"]) == (pid, "Presenter", pid)
    shown = await event(room, "stage", on_stage(pid, screen))
    assert {"user_id": screen, "owner_id": pid, "name": "Presenter", "source": "screen",
            "tracks": ["audio", "video"]} in shown["on_stage"]
    assert {"user_id": pid, "name": "Presenter", "source": "camera", "tracks": ["audio", "video"]} in shown["on_stage"]
    await asyncio.sleep(1.1)  # past the snapshot's shared cache: a late joiner is told of the screen too
    snap = await t2.ok("activity.snapshot", activity_id=aid)
    assert {"user_id": screen, "name": "Presenter", "owner_id": pid, "source": "screen"} in snap["stage"]

    # a teacher watches both and decodes each at its own size
    cam_view, cam, _ = await watch(room, world, pid)
    scr_view, scr, _ = await watch(room, world, screen)
    await until(lambda: video(cam) is not None and video(cam).frames > 20 and video(scr) is not None
                and video(scr).frames > 5, timeout=15)
    assert video(cam).size == (640, 480) and video(scr).size == SCREEN_SIZE

    # the expert stops the share: the camera stays on stage and keeps flowing
    refused = await t2.call("stage.remove", activity_id=aid, user_id=pid, source="screen")
    assert refused["error"]["code"] == "forbidden"
    stopped = await expert.ok("stage.remove", activity_id=aid, user_id=pid, source="screen")
    assert (stopped["type"], stopped["user_id"], stopped["by"]["id"]) == ("screen_stopped", pid, users["expert"][0])
    heard = await event(room, "screen_stopped")
    assert heard["by"]["name"] == "Expert"  # the sharer's page learns who stopped it
    await event(room, "stage", on_stage(pid))
    await asyncio.sleep(0.5)
    assert await frames_keep_coming(video(scr)) <= 1
    assert await frames_keep_coming(video(cam)) >= 15
    again = await expert.call("stage.remove", activity_id=aid, user_id=pid, source="screen")
    assert again["error"]["code"] == "not_on_stage"  # nobody shares under that id now
    assert (await room.call("stage.watch", activity_id=aid, publisher_id=screen,
                            offer={"type": "offer", "sdp": ""}))["error"]["code"] == "not_on_stage"

    # sharing again is allowed (an expert stops a share, not the right to share); stopping it oneself
    # leaves the camera on stage too
    screen_pc2 = await publish(presenter, world, [screen_picture()], source="screen")
    again = await event(room, "stage", on_stage(pid, screen))
    assert next(p for p in again["on_stage"] if p["user_id"] == screen)["tracks"] == ["video"]  # no sound shared
    await asyncio.sleep(1)  # (a recording of some length)
    assert await presenter.ok("stage.leave", activity_id=aid, source="screen") == {}
    assert (await event(room, "screen_stopped"))["by"]["id"] == pid
    await event(room, "stage", on_stage(pid))
    assert [p["user_id"] for p in (await presenter.ok("stage.state", activity_id=aid))["on_stage"]] == [pid]
    for pc in (camera_pc, screen_pc, screen_pc2, cam_view, scr_view):
        await pc.close()
    for ws in (room, expert, presenter, t2):
        await ws.close()


async def test_closing_the_socket_ends_the_camera_and_the_screen(world):
    users = world["users"]
    pid = users["presenter"][0]
    room = await client(world, "t1")
    presenter = await client(world, "presenter")
    camera_pc = await publish(presenter, world, [MovingPicture(320, 240)])
    screen_pc = await publish(presenter, world, [screen_picture()], source="screen")
    await event(room, "stage", on_stage(pid, f"screen:{pid}"))
    await asyncio.sleep(1)  # (a recording of some length)
    await presenter.close()
    stopped = await event(room, "screen_stopped")
    assert (stopped["user_id"], stopped["by"]["id"]) == (pid, pid)  # in the sharer's own name
    await event(room, "stage", on_stage())
    assert (await room.ok("stage.state", activity_id=world["aid"]))["roster"] == []
    for pc in (camera_pc, screen_pc):
        await pc.close()
    await room.close()


async def test_a_viewer_on_another_node_watches_the_screen_and_a_moderator_there_stops_it(world):
    users, aid = world["users"], world["aid"]
    pid = users["presenter"][0]
    screen = f"screen:{pid}"
    presenter = await client(world, "presenter", node="a", channels=())
    camera_pc = await publish(presenter, world, [MovingPicture(320, 240)])
    screen_pc = await publish(presenter, world, [screen_picture()], source="screen")
    far = await client(world, "t1", node="b")
    await event(far, "stage", lambda e: e["node"] == "screen-a" and on_stage(pid, screen)(e))
    world_b = {**world, "node": world["b"]}
    view, counters, _ = await watch(far, world_b, screen)
    await until(lambda: video(counters) is not None and video(counters).frames > 5, timeout=15)
    assert video(counters).size == SCREEN_SIZE  # through node B's link, at the screen's own size
    cam_view, cam, _ = await watch(far, world_b, pid)
    await until(lambda: video(cam) is not None and video(cam).frames > 5, timeout=15)

    # an expert connected to node B stops the share held by node A; the camera stays
    expert = await client(world, "expert", node="b", channels=())
    await expert.ok("stage.remove", activity_id=aid, user_id=pid, source="screen")
    await event(far, "stage", lambda e: e["node"] == "screen-a" and on_stage(pid)(e))
    await asyncio.sleep(0.5)
    assert await frames_keep_coming(video(counters)) <= 1
    assert await frames_keep_coming(video(cam)) >= 10
    for pc in (camera_pc, screen_pc, view, cam_view):
        await pc.close()
    for ws in (presenter, far, expert):
        await ws.close()


async def test_shares_are_recorded_while_live_and_in_the_activitys_record(world):
    """Run last: it ends the activity."""
    import av

    users, aid = world["users"], world["aid"]
    pid = users["presenter"][0]
    room = await client(world, "t1")
    presenter = await client(world, "presenter")
    screen_pc = await publish(presenter, world, [screen_picture()], source="screen")
    await event(room, "stage", on_stage(f"screen:{pid}"))  # a share without a camera
    await asyncio.sleep(1.5)
    await world["host"].ok("activity.end", activity_id=aid)  # the stage closes: the share ends with it
    await event(room, "screen_stopped")
    await screen_pc.close()
    for ws in (room, presenter):
        await ws.close()
    auth = {"Authorization": f"Bearer {users['t1'][1]}"}
    async with httpx.AsyncClient(base_url=world["a"].url) as http:
        events = (await http.get(f"/api/activities/{aid}/timeline", headers=auth)).json()["events"]
        shares = [(e["type"], e["user_id"], e["by"]["id"]) for e in events if e["type"].startswith("screen_")]
        starts = [s for s in shares if s[0] == "screen_started"]
        assert len(starts) == 5 and all(s[1:] == (pid, pid) for s in starts)  # one per share above
        assert shares.count(("screen_stopped", pid, users["expert"][0])) == 2  # on node A, and from node B
        assert len(shares) == 10  # each share's start has its stop
        replay = (await http.get(f"/api/activities/{aid}/replay", headers=auth)).json()
        sizes = []
        for rec in (r for r in replay["recordings"] if r["user"]["id"] == pid):
            path = world["a"].datadir / f"recording-{rec['id']}.webm"
            path.write_bytes((await http.get(rec["url"])).content)
            with av.open(str(path)) as container:
                sizes.append((container.streams.video[0].width, container.streams.video[0].height))
    assert sizes.count(SCREEN_SIZE) == 5  # each share recorded at the screen's size, beside the cameras
