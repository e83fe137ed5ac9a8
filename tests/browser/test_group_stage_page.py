"""A group's small stage in real chromium (webclient/static/stage/group.js, through stage.js's
`joinGroupStage`), against the real server and its aiortc relay. Two teachers of one group are in the
room page; each page joins its group's stage as the room page's group view will (a Realtime of its own
here, following the group's channel); one turns the camera on, the other sees the picture play with
the name; the host ends the group phase and both pages say the group video is closed.

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

JOIN = """async ([aid]) => {
  const rt = window.Collab.connect(() => {});
  for (let i = 0; i < 100 && !(rt.ws && rt.ws.signedIn); i++) await new Promise((r) => setTimeout(r, 100));
  const mine = await rt.command("group.mine", { activity_id: aid });
  const mount = document.body.appendChild(document.createElement("div"));
  mount.id = "group-stage";
  const gs = window.CollabStage.joinGroupStage({ rt, aid, gid: mine.group.id, mount,
                                                 me: window.__me });
  rt.subscribe(mine.group.channel, (e) => gs.onEvent(e));
  return mine.group.id;
}"""


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
        await asyncio.sleep(1.0)
        for page, who in ((page1, "teacher1"), (page2, "teacher2")):
            await page.evaluate("([id, name]) => { window.__me = { id: id, display_name: name }; }",
                                [users[who][0], who.title()])
        gid1 = await page1.evaluate(JOIN, [aid])
        gid2 = await page2.evaluate(JOIN, [aid])
        assert gid1 == gid2
        await page2.wait_for_selector("#group-stage .group-stage-go")
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
        # the host ends the group phase: the camera goes off, both pages say the group video is closed
        await host.ok("activity.next_phase", activity_id=aid)
        await page1.wait_for_function(
            "() => document.querySelector('#group-stage .group-stage-notice').textContent.includes('group video is closed')",
            timeout=10_000)
        await page1.wait_for_selector("#group-stage .tile.mine", state="detached")
        await page2.wait_for_selector(video, state="detached", timeout=10_000)
        assert await page1.is_disabled("#group-stage .group-stage-go")
        assert not errors, errors
    finally:
        await host.close()
        await ctx1.close()
        await ctx2.close()
