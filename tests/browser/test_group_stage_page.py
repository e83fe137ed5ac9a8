"""A group's small stage in real chromium, against the real server and its aiortc relay: two teachers
of one group are in the room page, whose group view opens the group's stage (groups.js through
stage.js's `joinGroupStage`); one turns the camera on, the other sees the picture play with the name;
the host ends the group phase and the group view closes with its camera and pictures.

The launch flags are those of test_room_stage.py (fake devices, no permission prompt)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import harness
import test_room_stage
from test_room_stage import room

pytest.importorskip("playwright")

browser = test_room_stage.browser  # chromium with a fake camera and microphone (a module's fixture)

async def group_phase(server, users) -> tuple[int, harness.WsClient]:
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "小组视频", "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": [{"kind": "lesson_display", "minutes": 20},
                       {"kind": "group_discussion", "minutes": 20, "groups": {"size": 2}},
                       {"kind": "discussion", "minutes": 20}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await host.ok("activity.start", activity_id=aid)
    return aid, host


async def test_two_teachers_of_a_group_see_each_other_until_the_phase_ends(browser, server, users):
    aid, host = await group_phase(server, users)
    ctx1, page1 = await room(browser, server.url, users, "teacher1", aid)
    ctx2, page2 = await room(browser, server.url, users, "teacher2", aid, locale="zh-CN")
    errors: list[str] = []
    for page in (page1, page2):
        page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        await asyncio.sleep(2.0)  # attendance has both
        await host.ok("activity.next_phase", activity_id=aid)
        # each room page's group view opens its group's small stage by itself
        await page2.wait_for_selector("#group-stage .group-stage-go", timeout=15_000)
        await page1.wait_for_selector("#group-stage .group-stage-go", timeout=15_000)
        assert await page2.inner_text("#group-stage .group-stage-go") == "开启摄像头"
        # teacher1 turns the camera on: their own preview, then teacher2 sees them play
        await page1.click("#group-stage .group-stage-go")
        await page1.wait_for_selector(f'#group-stage .tile.mine[data-publisher="{users["teacher1"][0]}"]')
        video = f'#group-stage .tile[data-publisher="{users["teacher1"][0]}"] video'
        await page2.wait_for_function(
            "s => { const v = document.querySelector(s); return v && v.videoWidth > 0 && v.readyState >= 2; }",
            arg=video, timeout=20_000)
        assert await page2.inner_text(
            f'#group-stage .tile[data-publisher="{users["teacher1"][0]}"] .tile-name') == "Teacher1"
        assert await page1.locator(f'#group-stage .tile[data-publisher="{users["teacher2"][0]}"]').count() == 0
        # the host ends the group phase: the group view closes, the camera goes off, the picture goes
        await host.ok("activity.next_phase", activity_id=aid)
        await page1.wait_for_selector("#group-stage .tile.mine", state="detached", timeout=10_000)
        await page2.wait_for_selector(video, state="detached", timeout=10_000)
        await page1.wait_for_selector("#groups", state="hidden", timeout=10_000)
        assert await page1.evaluate("() => !document.querySelector('#group-stage').children.length")
        assert not errors, errors
    finally:
        await host.close()
        await ctx1.close()
        await ctx2.close()
