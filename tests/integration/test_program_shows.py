"""What the program shows follows the stage and the agenda, read back from the program's own pixels:
a shared screen is the large picture during the lesson display, with the cameras beside it; in the
discussion everyone is alike in a grid; a publisher who leaves leaves the picture."""

from __future__ import annotations

import asyncio
import io
import re
import time

import av
import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection, VideoStreamTrack

import harness
from media_peers import Tone
from test_program import FAST
from test_stage import accept, offer_to_send

# BT.601 limited-range YUV of three colours the test tells apart in the decoded program
RED, GREEN, BLUE = (81, 90, 240), (145, 54, 34), (41, 240, 110)


class Solid(VideoStreamTrack):
    """A picture of one colour (with a little moving noise, so the encoder keeps sending)."""

    def __init__(self, yuv: tuple[int, int, int], width: int = 640, height: int = 480) -> None:
        super().__init__()
        self.yuv, self.width, self.height, self.n = yuv, width, height, 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.n += 1
        y, u, v = self.yuv
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        luma = np.full((self.height, self.width), y, np.uint8)
        luma[self.n % self.height, :] = y + 8
        frame.planes[0].update(luma.tobytes())
        frame.planes[1].update(bytes([u]) * (self.width * self.height // 4))
        frame.planes[2].update(bytes([v]) * (self.width * self.height // 4))
        frame.pts, frame.time_base = pts, time_base
        return frame


@pytest.fixture(scope="module")
async def world(redis_url):
    url, users = await harness.pg_database_with(
        [("org", "organizer"), ("presenter", "teacher"), ("expert", "expert"), ("t1", "teacher")], "picture_")
    node = harness.Server(url, redis_url, name="picture-a", **FAST).start()
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org'][1]}"}, json={
            "title": "picture", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": "public", "agenda": [{"kind": "lesson_display", "minutes": 30},
                                               {"kind": "discussion", "minutes": 30}],
            "experts": [users["expert"][0]], "presenters": [users["presenter"][0]]})
        aid = r.json()["id"]
    host = await harness.WsClient(node.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    yield {"node": node, "users": users, "aid": aid, "host": host}
    await host.close()
    node.cleanup()
    await harness.drop_pg_database(url)


async def go_on(world, who: str, tracks, source: str = "camera"):
    ws = await harness.WsClient(world["node"].ws_url).open(world["users"][who][1])
    pc = RTCPeerConnection()
    r = await ws.ok("stage.publish", timeout=20, activity_id=world["aid"], source=source,
                    offer=await offer_to_send(pc, tracks))
    await accept(pc, r["answer"])
    return ws, pc


async def newest_picture(http, rung_url: str, after_msn: int = -1) -> tuple[np.ndarray, int]:
    """The last frame of the newest whole segment past `after_msn`, as RGB."""
    base = rung_url.rsplit("/", 1)[0] + "/"
    deadline = time.monotonic() + 20
    while True:
        text = (await http.get(rung_url)).text
        segments = re.findall(r"#EXTINF:[^\n]*\n([^\n]+)", text)
        if segments and int(segments[-1].rsplit("/", 1)[-1].split(".")[0]) > after_msn:
            break
        assert time.monotonic() < deadline, text
        await asyncio.sleep(0.3)
    uri = segments[-1]
    init = (await http.get(base + re.search(r'#EXT-X-MAP:URI="([^"]+)"', text)[1])).content
    data = (await http.get(base + uri)).content
    with av.open(io.BytesIO(init + data)) as c:
        frames = [f for f in c.decode(video=0)]
    return frames[-1].to_ndarray(format="rgb24"), int(uri.rsplit("/", 1)[-1].split(".")[0])


def share(picture: np.ndarray, colour: str) -> float:
    """The share of the picture's pixels that are clearly `colour`."""
    r, g, b = (picture[..., i].astype(int) for i in range(3))
    mask = {"red": (r > 150) & (g < 80) & (b < 80), "green": (g > 150) & (r < 80) & (b < 80),
            "blue": (b > 150) & (r < 80) & (g < 80)}[colour]
    return float(mask.mean())


async def test_the_picture_follows_the_stage_and_the_phase(world):
    users, aid = world["users"], world["aid"]
    expert_ws, expert_pc = await go_on(world, "expert", [Solid(BLUE), Tone()])
    screen_ws, screen_pc = await go_on(world, "expert", [Solid(RED, 1280, 720)], source="screen")
    presenter_ws, presenter_pc = await go_on(world, "presenter", [Solid(GREEN), Tone(660)])
    teacher = await harness.WsClient(world["node"].ws_url).open(users["t1"][1])
    deadline = time.monotonic() + 25
    while not (got := await teacher.ok("program.watch", activity_id=aid))["live"]:
        assert time.monotonic() < deadline, "no program"
        await asyncio.sleep(0.3)
    rung = got["url"].replace("index.m3u8", "720p/index.m3u8")
    async with httpx.AsyncClient(base_url=world["node"].url, timeout=10) as http:
        # lesson display, no lesson video: the shared screen is large, the two cameras beside it
        for _ in range(20):
            picture, msn = await newest_picture(http, rung)
            if share(picture, "red") > 0.4 and share(picture, "green") > 0.01 and share(picture, "blue") > 0.01:
                break
            await asyncio.sleep(0.5)
        assert share(picture, "red") > 0.4, [share(picture, c) for c in ("red", "green", "blue")]
        left = picture[:, : picture.shape[1] * 2 // 3]
        assert share(left, "red") > 0.6 and share(left, "green") < 0.01  # the cameras are not in the large area
        assert share(picture, "green") > 0.01 and share(picture, "blue") > 0.01
        # the discussion: a grid, everyone alike
        await world["host"].ok("activity.next_phase", activity_id=aid)
        picture, _ = await newest_picture(http, rung, msn + 1)
        shares = {c: share(picture, c) for c in ("red", "green", "blue")}
        assert all(0.08 < s < 0.4 for s in shares.values()), shares
        # the expert stops sharing: the screen leaves the picture
        await screen_ws.ok("stage.leave", activity_id=aid, source="screen")
        for _ in range(20):
            picture, msn = await newest_picture(http, rung, msn + 1)
            if share(picture, "red") < 0.001:
                break
        assert share(picture, "red") < 0.001 and share(picture, "green") > 0.1 and share(picture, "blue") > 0.1
    for ws in (teacher, expert_ws, screen_ws, presenter_ws):
        await ws.close()
    for pc in (expert_pc, screen_pc, presenter_pc):
        await pc.close()
