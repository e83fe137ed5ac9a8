"""The node making the program dies mid-lesson (SIGKILL). The presenter's client publishes again
through another node, which takes the program over within seconds: the room hears `program` `on`,
players load it again, and its numbering runs on past the dead run's, so no URL a CDN still holds
names another part."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest
from aiortc import RTCPeerConnection

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from media_peers import MovingPicture, Tone
from test_program import FAST, decode, last_part, program_event
from test_program import world  # noqa: F401  (fixture: nodes a and b, a live activity)
from test_stage import accept, offer_to_send

pytestmark = pytest.mark.usefixtures("validate_pushes")


def epoch(playlist: str) -> str:
    return re.search(r'#EXT-X-MAP:URI="([^/"]+)/', playlist)[1]


async def publish(node, token, aid):
    ws = await harness.WsClient(node.ws_url).open(token)
    pc = RTCPeerConnection()
    r = await ws.ok("stage.publish", timeout=20, activity_id=aid, offer=await offer_to_send(pc, [MovingPicture(), Tone()]))
    await accept(pc, r["answer"])
    return ws, pc


async def test_another_node_takes_the_program_over_when_its_node_dies(world, redis_url):  # noqa: F811
    users, aid = world["users"], world["aid"]
    doomed = harness.Server(world["a"].database_url, redis_url, name="program-doomed", **FAST).start()
    try:
        ws, pc = await publish(doomed, users["presenter"][1], aid)
        teacher = await harness.WsClient(world["b"].ws_url).open(users["t1"][1])
        await teacher.ok("subscribe", channel=f"activity:{aid}")
        deadline = time.monotonic() + 25
        while not (got := await teacher.ok("program.watch", activity_id=aid))["live"]:
            assert time.monotonic() < deadline, "no program"
            await asyncio.sleep(0.3)
        rung = got["url"].replace("index.m3u8", "720p/index.m3u8")
        async with httpx.AsyncClient(base_url=world["b"].url, timeout=10) as http:
            text = (await http.get(rung)).text
            before, old_epoch = last_part(text), epoch(text)
            doomed.kill()
            await pc.close()
            killed = time.monotonic()
            ws2, pc2 = await publish(world["b"], users["presenter"][1], aid)  # the client comes back elsewhere
            while True:  # the room says `on` again; a player asks for the program and gets the new run
                assert time.monotonic() - killed < 30, "the program did not come back"
                again = await teacher.ok("program.watch", activity_id=aid)
                if again["live"]:
                    r = await http.get(again["url"].replace("index.m3u8", "720p/index.m3u8"))
                    if r.status_code == 200 and epoch(r.text) != old_epoch:
                        break
                await asyncio.sleep(0.2)
            took = time.monotonic() - killed
            assert again["live"] is True  # (t1 holds this module's one front-row seat: its tier is webrtc)
            await program_event(teacher, "on")
            rung = again["url"].replace("index.m3u8", "720p/index.m3u8")
            text = (await http.get(rung)).text
            after = last_part(text)
            assert after[0] > before[0], (before, after)  # numbering runs on
            base = rung.rsplit("/", 1)[0] + "/"
            init = (await http.get(base + re.search(r'#EXT-X-MAP:URI="([^"]+)"', text)[1])).content
            uris = re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', text)
            first = next(i for i, line in enumerate(re.findall(r"#EXT-X-PART:[^\n]*", text)) if "INDEPENDENT=YES" in line)
            parts = b"".join([(await http.get(base + u)).content for u in uris[first:]])
            assert decode(init + parts)["video"] >= 10
        print(f"the program came back {took:.1f} s after its node died")
        assert took < 15, f"the program came back {took:.1f} s after its node died"
        await ws2.close()
        await pc2.close()
        await teacher.close()
    finally:
        doomed.cleanup()
