"""Media nodes: a deployment keeps the program's encoding off the nodes that carry the audience's
sockets (`makes_programs` no on those). The presenter publishes through such an edge node; a media
node makes the program from the edge's publication, the audience plays it through the edge, and the
edge never makes one itself. When the media node dies, the program is off (the audience waits for it,
still on the program's tier: it does not turn into thousands of WebRTC peers of the relay) until
another media node takes it over, numbering on."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from test_program import FAST, decode, last_part
from test_program_takeover import epoch, publish

pytestmark = pytest.mark.usefixtures("validate_pushes")


@pytest.fixture(scope="module")
async def world(redis_url):
    url, users = await harness.pg_database_with(
        [("org", "organizer"), ("presenter", "teacher"), ("t1", "teacher")], "media_node_", names={"presenter": "王老师"})
    edge = harness.Server(url, redis_url, name="edge", makes_programs="no", **FAST).start(wait=False)
    media = harness.Server(url, redis_url, name="media-1", **FAST).start(wait=False)
    edge.wait()
    media.wait()
    async with httpx.AsyncClient(base_url=edge.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org'][1]}"}, json={
            "title": "media node", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": "public", "agenda": [{"kind": "lesson_display", "minutes": 30}],
            "presenters": [users["presenter"][0]], "front_row": 0})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host = await harness.WsClient(edge.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    yield {"edge": edge, "media": media, "users": users, "aid": aid, "db": url}
    await host.close()
    edge.cleanup()
    media.cleanup()
    await harness.drop_pg_database(url)


async def watch_until(ws, aid: int, live: bool, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while (got := await ws.ok("program.watch", activity_id=aid))["live"] != live:
        assert time.monotonic() < deadline, f"program.watch still says {got} after {timeout:g} s"
        await asyncio.sleep(0.3)
    return got


async def plays(http: httpx.AsyncClient, url: str) -> tuple[str, int]:
    """The 720p rung through this node: its run (epoch) and how many frames its parts decode to."""
    rung = url.replace("index.m3u8", "720p/index.m3u8")
    r = await http.get(rung)
    assert r.status_code == 200, r.text
    base = rung.rsplit("/", 1)[0] + "/"
    init = (await http.get(base + re.search(r'#EXT-X-MAP:URI="([^"]+)"', r.text)[1])).content
    lines = re.findall(r"#EXT-X-PART:[^\n]*", r.text)
    first = next(i for i, line in enumerate(lines) if "INDEPENDENT=YES" in line)
    uris = [re.search(r'URI="([^"]+)"', line)[1] for line in lines[first:]]
    parts = b"".join([(await http.get(base + u)).content for u in uris])
    return epoch(r.text), decode(init + parts)["video"]


def made_by(server: harness.Server) -> int:
    return server.log().count('"making the program"')


async def test_a_media_node_makes_the_program_of_a_stage_on_an_edge_node(world, redis_url):
    users, aid, edge, media = world["users"], world["aid"], world["edge"], world["media"]
    pws, ppc = await publish(edge, users["presenter"][1], aid)  # the presenter publishes through the edge
    teacher = await harness.WsClient(edge.ws_url).open(users["t1"][1])
    await teacher.ok("subscribe", channel=f"activity:{aid}")
    got = await watch_until(teacher, aid, True, 30)
    assert got["tier"] == "program" and got["url"]
    async with httpx.AsyncClient(base_url=edge.url, timeout=10) as http:
        run, frames = await plays(http, got["url"])
        assert frames >= 10  # the presenter's picture, made on the media node, played through the edge
        text = (await http.get(got["url"].replace("index.m3u8", "720p/index.m3u8"))).text
        before = last_part(text)
        assert made_by(media) == 1 and made_by(edge) == 0

        media.kill()  # the only media node dies: the edge does not take the program over
        died = time.monotonic()
        off = await watch_until(teacher, aid, False, 30)
        assert off["tier"] == "program" and off["url"]  # waiting for the program
        presenter = users["presenter"][0]
        r = await teacher.call("stage.watch", activity_id=aid, publisher_id=presenter, offer={"type": "offer", "sdp": "v=0"})
        assert r["error"]["code"] == "front_row_full"  # not a WebRTC peer instead
        print(f"the program was off {time.monotonic() - died:.1f} s after its media node died")
        assert made_by(edge) == 0

        spare = harness.Server(world["db"], redis_url, name="media-2", **FAST).start()
        try:
            back = await watch_until(teacher, aid, True, 40)
            again, frames = await plays(http, back["url"])
            assert again != run and frames >= 10
            after = last_part((await http.get(back["url"].replace("index.m3u8", "720p/index.m3u8"))).text)
            assert after[0] > before[0]  # the new run numbers on past the dead one's segments
            assert made_by(spare) == 1 and made_by(edge) == 0
        finally:
            await pws.close()
            await ppc.close()
            await teacher.close()
            spare.cleanup()
