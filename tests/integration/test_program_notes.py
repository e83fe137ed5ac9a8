"""The report-back on the program, read from the program's own pixels: when the host has a group report
(`group.report`), the program shows the group's notes as a card beside the rapporteur's camera; what
the group types meanwhile appears on the card; the next phase takes the card away."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection

import harness
from collab.media import cards, captions
from media_peers import Tone
from test_program import FAST
from test_program_shows import GREEN, Solid, newest_picture, share
from test_stage import accept, offer_to_send
from yclient import YClient

pytestmark = pytest.mark.skipif(captions.find_cjk_font() is None, reason="needs a CJK font (fonts-wqy-zenhei)")


@pytest.fixture(scope="module")
async def world(redis_url):
    url, users = await harness.pg_database_with([("org", "organizer"), ("t0", "teacher"), ("t1", "teacher")],
                                                "notes_card_")
    node = harness.Server(url, redis_url, name="notes-a", **FAST).start()
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org'][1]}"}, json={
            "title": "汇报", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": "public", "agenda": [
                {"kind": "lesson_display", "minutes": 30},
                {"kind": "group_discussion", "minutes": 20, "groups": {"size": 2, "questions": ["目标达成了吗？"]}},
                {"kind": "discussion", "title": "小组汇报", "minutes": 20},
                {"kind": "expert_guidance", "minutes": 20}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    yield {"node": node, "users": users, "aid": aid}
    node.cleanup()
    await harness.drop_pg_database(url)


def paper(region: np.ndarray) -> float:
    """The share of a region that is the card's paper."""
    return float((np.abs(region.astype(int) - cards.PAPER).max(axis=2) < 20).mean())


def ink(region: np.ndarray) -> int:
    """Dark pixels on the paper: the card's writing."""
    return int(np.count_nonzero(region.max(axis=2) < 110))


async def test_the_reporting_groups_notes_are_beside_the_rapporteur_on_the_program(world):
    node, users, aid = world["node"], world["users"], world["aid"]
    teachers = {}
    for name in ("t0", "t1"):
        c = await harness.WsClient(node.ws_url).open(users[name][1])
        snap = await c.ok("activity.snapshot", activity_id=aid)
        await c.ok("subscribe", channel=snap["channel"], since=snap["since"])
        teachers[name] = c
    host = await harness.WsClient(node.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    await asyncio.sleep(2.0)  # attendance has both
    await host.ok("activity.next_phase", activity_id=aid)
    deadline = time.monotonic() + 10
    while (g := (await teachers["t0"].ok("group.mine", activity_id=aid))["group"]) is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    await teachers["t1"].ok("group.rapporteur", activity_id=aid, group_id=g["id"], user_id=users["t0"][0])
    doc_id = (await teachers["t0"].ok("group.notes", activity_id=aid, group_id=g["id"]))["doc_id"]
    writer = await YClient(f"ws://127.0.0.1:{node.port}/ws/docs/{doc_id}", users["t1"][1]).open()
    await writer.append("学生能说出分数的意义")
    # the report-back: the host calls the group, its rapporteur goes on stage
    await host.ok("activity.next_phase", activity_id=aid)
    await host.ok("group.report", activity_id=aid, group_id=g["id"])
    pc = RTCPeerConnection()
    r = await teachers["t0"].ok("stage.publish", timeout=20, activity_id=aid,
                                offer=await offer_to_send(pc, [Solid(GREEN), Tone()]))
    await accept(pc, r["answer"])
    deadline = time.monotonic() + 25
    while not (got := await teachers["t1"].ok("program.watch", activity_id=aid))["live"]:
        assert time.monotonic() < deadline, "no program"
        await asyncio.sleep(0.3)
    rung = got["url"].replace("index.m3u8", "720p/index.m3u8")
    async with httpx.AsyncClient(base_url=node.url, timeout=10) as http:
        msn = -1
        for _ in range(20):
            picture, msn = await newest_picture(http, rung, msn)
            right, left = picture[:, picture.shape[1] // 2:], picture[:, : picture.shape[1] // 2]
            if paper(right) > 0.4:
                break
        # side by side: the rapporteur's camera on the left, the notes card on the right
        assert paper(right) > 0.4 and share(left, "green") > 0.3, (paper(right), share(left, "green"))
        assert paper(left) < 0.01 and share(right, "green") < 0.01
        written = ink(right)
        assert written > 1000  # the bar's title, the question, the answer
        # the group adds to its notes: within a few seconds the card says more
        await writer.append("补充：板书清晰，小组合作充分，学生表达完整，教师追问到位。" * 3)
        for _ in range(20):
            picture, msn = await newest_picture(http, rung, msn + 1)
            if ink(picture[:, picture.shape[1] // 2:]) > written * 1.3:
                break
        assert ink(picture[:, picture.shape[1] // 2:]) > written * 1.3
        # the next phase: the card leaves the picture, the rapporteur stays
        await host.ok("activity.next_phase", activity_id=aid)
        for _ in range(20):
            picture, msn = await newest_picture(http, rung, msn + 1)
            if paper(picture) < 0.01:
                break
        assert paper(picture) < 0.01 and share(picture, "green") > 0.3
    await pc.close()
    for c in (writer, host, *teachers.values()):
        await c.close()
