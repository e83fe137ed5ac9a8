"""The live program end to end, on two server processes over real Redis and PostgreSQL: the presenter
publishes to node A, node A makes the program (composed, encoded, cut into LL-HLS parts) and node B
serves it from its copy; a teacher asks `program.watch` for the address and plays it as an HLS client
would. Bad requests get the statuses the LL-HLS spec prescribes; the recording is the program."""

from __future__ import annotations

import asyncio
import io
import re
import time

import av
import httpx
import pytest
from aiortc import RTCPeerConnection

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.auth import signed
from media_peers import MovingPicture, Tone
from test_stage import accept, offer_to_send

pytestmark = pytest.mark.usefixtures("validate_pushes")

FAST = {"program_preset": "ultrafast"}  # two encoders per program on a shared 2-core machine


@pytest.fixture(scope="module")
async def world(redis_url):
    url, users = await harness.pg_database_with(
        [("org", "organizer"), ("presenter", "teacher"), ("expert", "expert"), ("front", "teacher"),
         ("t1", "teacher"), ("outsider", "teacher")], "program_", names={"presenter": "王老师"})
    a = harness.Server(url, redis_url, name="program-a", **FAST).start(wait=False)
    b = harness.Server(url, redis_url, name="program-b", **FAST).start(wait=False)
    a.wait()
    b.wait()
    async with httpx.AsyncClient(base_url=a.url) as http:
        made = {}
        for title, visibility in [("program", "public"), ("invited only", "invited")]:
            # front_row 1: the first attendee to ask watches in real time, later ones the program
            r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org'][1]}"}, json={
                "title": title, "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
                "visibility": visibility, "agenda": [{"kind": "lesson_display", "minutes": 30},
                                                     {"kind": "expert_guidance", "minutes": 30}],
                "experts": [users["expert"][0]], "presenters": [users["presenter"][0]], "front_row": 1})
            assert r.status_code == 201, r.text
            made[title] = r.json()["id"]
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=made["program"])
    yield {"a": a, "b": b, "users": users, "aid": made["program"], "other": made["invited only"], "host": host}
    await host.close()
    a.cleanup()
    b.cleanup()
    await harness.drop_pg_database(url)


async def program_event(ws, state: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        push = await ws.push(timeout=max(0.1, deadline - time.monotonic()))
        if "e" in push and push["e"]["type"] == "program" and push["e"]["state"] == state:
            return push["e"]


@pytest.fixture(scope="module")
async def on_air(world):
    """The presenter on stage through node A, the program made; a teacher on node B told of it."""
    users, aid = world["users"], world["aid"]
    front = await harness.WsClient(world["a"].ws_url).open(users["front"][1])
    seated = await front.ok("program.watch", activity_id=aid)  # the first to ask takes the one front-row seat
    teacher = await harness.WsClient(world["b"].ws_url).open(users["t1"][1])
    await teacher.ok("subscribe", channel=f"activity:{aid}")
    before = await teacher.ok("program.watch", activity_id=aid)
    pws = await harness.WsClient(world["a"].ws_url).open(users["presenter"][1])
    ppc = RTCPeerConnection()
    r = await pws.ok("stage.publish", timeout=20, activity_id=aid,
                     offer=await offer_to_send(ppc, [MovingPicture(), Tone()]))
    await accept(ppc, r["answer"])
    await program_event(teacher, "on")
    yield {**world, "teacher": teacher, "before": before, "presenter": (pws, ppc), "front": (front, seated)}
    await teacher.close()
    await front.close()


async def playlist(http, url, **params) -> tuple[int, str, httpx.Headers]:
    r = await http.get(url, params=params or None)
    return r.status_code, r.text, r.headers


def last_part(text: str) -> tuple[int, int]:
    """(msn, index) of the playlist's last EXT-X-PART."""
    parts = re.findall(r'#EXT-X-PART:[^\n]*URI="[^"]*?(\d+)\.(\d+)\.m4s"', text)
    return int(parts[-1][0]), int(parts[-1][1])


async def test_a_teacher_gets_the_program_and_plays_it_from_either_node(on_air):
    aid, teacher = on_air["aid"], on_air["teacher"]
    _, seated = on_air["front"]
    assert seated["tier"] == "webrtc" and seated["front_row"] == {"limit": 1, "taken": 1}  # the first to ask
    # the row is full: the program, though nothing is made yet, and its address already (the push that
    # says it came on then needs no new ask)
    before = on_air["before"]
    assert before["tier"] == "program" and before["live"] is False and before["url"]
    got = await teacher.ok("program.watch", activity_id=aid)
    assert got["tier"] == "program" and got["live"] is True
    assert got["url"].startswith(f"/live/{aid}/k/") and got["url"].endswith("/index.m3u8")
    # whoever may go on stage stays on WebRTC
    presenter_ws, _ = on_air["presenter"]
    assert (await presenter_ws.ok("program.watch", activity_id=aid))["tier"] == "webrtc"

    for node in (on_air["a"], on_air["b"]):
        async with httpx.AsyncClient(base_url=node.url, timeout=10) as http:
            code, master, headers = await playlist(http, got["url"])
            assert code == 200 and headers["content-type"].startswith("application/vnd.apple.mpegurl")
            assert master.count("#EXT-X-STREAM-INF") == 2 and "RESOLUTION=1280x720" in master
            assert re.search(r'CODECS="avc1\.[0-9a-fA-F]{6},mp4a\.40\.2"', master)
            rung = got["url"].replace("index.m3u8", "720p/index.m3u8")
            code, text, headers = await playlist(http, rung)
            assert code == 200, text
            for tag in ("#EXT-X-PART-INF:PART-TARGET=", "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES",
                        "PART-HOLD-BACK=", "#EXT-X-PROGRAM-DATE-TIME:", "#EXT-X-PRELOAD-HINT:TYPE=PART",
                        "#EXT-X-MAP:URI=", "#EXT-X-RENDITION-REPORT:"):
                assert tag in text, tag
            assert headers["cache-control"] == "public, max-age=1"
            # blocking reload: ask for the part after the last one; it comes within about a part's time
            msn, index = last_part(text)
            asked = time.monotonic()
            code, newer, headers = await playlist(http, rung, _HLS_msn=msn, _HLS_part=index + 1)
            waited = time.monotonic() - asked
            assert code == 200 and last_part(newer) > (msn, index) and waited < 2.0
            assert "max-age=" in headers["cache-control"]
            # the init section and the parts decode into the program's picture, 1280x720
            base = rung.rsplit("/", 1)[0] + "/"
            init_uri = re.search(r'#EXT-X-MAP:URI="([^"]+)"', newer)[1]
            init = (await http.get(base + init_uri)).content
            lines = re.findall(r"#EXT-X-PART:[^\n]*", newer)
            first = [i for i, line in enumerate(lines) if "INDEPENDENT=YES" in line][-2:][0]  # from a keyframe
            uris = [re.search(r'URI="([^"]+)"', line)[1] for line in lines[first:]]
            parts = [await http.get(base + u) for u in uris]
            assert all(p.status_code == 200 for p in parts)
            assert parts[-1].headers["cache-control"].endswith("immutable")
            frames = decode(init + b"".join(p.content for p in parts))
            assert frames["video"] >= 15 * len(uris) - 1 and frames["size"] == (1280, 720) and frames["audio"] > 0
            # the preload hint names the part being made: asked for now, it is answered once it exists
            hint = re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"', newer)[1]
            asked = time.monotonic()
            hinted = await http.get(base + hint)
            assert hinted.status_code == 200 and hinted.content[4:8] == b"moof"
            assert time.monotonic() - asked < 1.5  # at most about one part's time (0.5 s), and a loaded machine


def decode(data: bytes) -> dict:
    out = {"video": 0, "audio": 0, "size": None}
    with av.open(io.BytesIO(data)) as c:
        for frame in c.decode(*c.streams.video, *c.streams.audio):
            if isinstance(frame, av.VideoFrame):
                out["video"] += 1
                out["size"] = (frame.width, frame.height)
            else:
                out["audio"] += 1
    return out


async def test_the_other_node_fetches_each_part_once_for_all_its_viewers(on_air):
    aid, teacher = on_air["aid"], on_air["teacher"]
    got = await teacher.ok("program.watch", activity_id=aid)
    rung = got["url"].replace("index.m3u8", "360p/index.m3u8")
    async with httpx.AsyncClient(base_url=on_air["b"].url, timeout=10) as http:
        _, text, _ = await playlist(http, rung)
        msn, index = last_part(text)
        before = await counter(on_air["b"], "collab_program_fetches_total")
        # 30 players waiting for the same next part at once: node B fetches it from the bus once
        answers = await asyncio.gather(*(playlist(http, rung, _HLS_msn=msn, _HLS_part=index + 1) for _ in range(30)))
        assert all(code == 200 for code, _, _ in answers)
        base = rung.rsplit("/", 1)[0] + "/"
        nxt = re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', answers[0][1])[-1]
        bodies = await asyncio.gather(*(http.get(base + nxt) for _ in range(30)))
        assert len({b.content for b in bodies}) == 1 and bodies[0].status_code == 200
        fetched = await counter(on_air["b"], "collab_program_fetches_total") - before
        assert 1 <= fetched <= 3  # this part (and maybe the init or a neighbour), never once per viewer


async def counter(node, name: str) -> float:
    async with httpx.AsyncClient(base_url=node.ops_url) as ops:  # the node's internal port
        text = (await ops.get("/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def test_bad_requests_get_the_statuses_the_spec_prescribes(on_air):
    aid, users, teacher = on_air["aid"], on_air["users"], on_air["teacher"]
    got = await teacher.ok("program.watch", activity_id=aid)
    key = got["url"].split("/k/")[1].split("/")[0]
    rung = got["url"].replace("index.m3u8", "720p/index.m3u8")
    async with httpx.AsyncClient(base_url=on_air["b"].url, timeout=10) as http:
        _, text, _ = await playlist(http, rung)
        msn, _ = last_part(text)
        code, body, _ = await playlist(http, rung, _HLS_part=1)  # a part without its segment
        assert code == 400 and '"hls_bad_request"' in body
        code, body, _ = await playlist(http, rung, _HLS_msn=msn + 50)  # far ahead
        assert code == 400
        code, _, _ = await playlist(http, rung, _HLS_msn="x1")
        assert code == 400
        forged = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
        r = await http.get(got["url"].replace(key, forged))
        assert r.status_code == 403 and r.json()["error"]["code"] == "link_invalid"
        expired = signed.program_key(harness.SECRET, aid, users["t1"][0], int(time.time()) - 1)
        r = await http.get(got["url"].replace(key, expired))
        assert r.status_code == 403 and r.json()["error"]["code"] == "link_expired"
        # a key for one activity opens no other; an activity nobody makes a program for is 404
        other = on_air["other"]
        r = await http.get(f"/live/{other}/k/{key}/index.m3u8")
        assert r.status_code == 403
        r = await http.get(f"/live/{other}/k/{signed.program_key(harness.SECRET, other, users['t1'][0])}/index.m3u8")
        assert r.status_code == 404 and r.json()["error"]["code"] == "program_off"
        assert "no-store" in r.headers.get("cache-control", "") or r.status_code == 404
        r = await http.get(rung.replace("720p", "4k"))
        assert r.status_code == 404
        base = rung.rsplit("/", 1)[0]
        r = await http.get(base + "/deadbeef/0.0.m4s")
        assert r.status_code == 404
    # a teacher the policy keeps out of the activity gets no address
    outsider = await harness.WsClient(on_air["a"].ws_url).open(users["outsider"][1])
    r = await outsider.call("program.watch", activity_id=on_air["other"])
    assert r["error"]["code"] == "forbidden"
    await outsider.close()


async def test_the_front_row_watches_in_real_time_and_a_seat_frees_when_its_holder_leaves(on_air):
    """With the program on, WebRTC is for the stage's side and the front row (here one seat): the
    others are refused `front_row_full` by stage.watch and watch the program, until a seat frees."""
    aid, users, teacher = on_air["aid"], on_air["users"], on_air["teacher"]
    front, _ = on_air["front"]
    presenter = users["presenter"][0]
    offer = {"type": "offer", "sdp": "v=0"}  # refused before the offer is looked at
    r = await teacher.call("stage.watch", activity_id=aid, publisher_id=presenter, offer=offer)
    assert r["error"]["code"] == "front_row_full"
    r = await front.call("stage.watch", activity_id=aid, publisher_id=presenter, offer=offer)
    assert r["error"]["code"] == "invalid"  # seated: past the gate, to the offer
    expert = await harness.WsClient(on_air["b"].ws_url).open(users["expert"][1])
    assert (await expert.ok("program.watch", activity_id=aid))["tier"] == "webrtc"  # the stage's side
    await expert.close()
    await front.close()  # the seat frees: the next to ask takes it
    deadline = time.monotonic() + 10
    while (got := await teacher.ok("program.watch", activity_id=aid))["tier"] != "webrtc":
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.3)
    assert got["front_row"] == {"limit": 1, "taken": 1}

async def test_ending_the_activity_ends_the_playlist_and_keeps_the_program_as_its_recording(on_air):
    aid, teacher, users = on_air["aid"], on_air["teacher"], on_air["users"]
    got = await teacher.ok("program.watch", activity_id=aid)
    rung = got["url"].replace("index.m3u8", "720p/index.m3u8")
    await asyncio.sleep(2.5)  # a few more seconds of program
    await on_air["host"].ok("activity.end", activity_id=aid)
    await program_event(teacher, "off")
    async with httpx.AsyncClient(base_url=on_air["a"].url, timeout=20) as http:
        async def replay():
            r = await http.get(f"/api/activities/{aid}/replay", headers={"Authorization": f"Bearer {users['t1'][1]}"})
            return [x for x in r.json().get("recordings", []) if x.get("kind") == "program"]
        deadline = time.monotonic() + 20
        while not (found := await replay()) and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
        assert found, "the program was not listed in the replay"
        rec = found[0]
        assert rec["media_type"] == "video/mp4"
        r = await http.get(rec["url"], headers={"Range": "bytes=0-"})
        assert r.status_code in (200, 206)
        frames = decode(r.content)
        assert frames["size"] == (1280, 720) and frames["video"] >= 60 and frames["audio"] > 0
    # rung playlists that are still asked for say the stream ended (or the program is off)
    async with httpx.AsyncClient(base_url=on_air["b"].url, timeout=10) as http:
        code, text, _ = await playlist(http, rung)
        assert code == 404 or "#EXT-X-ENDLIST" in text

