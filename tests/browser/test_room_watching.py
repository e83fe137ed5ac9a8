"""Watching the lesson in the room (issue 11, point 8, and the stage's share of 5 and 6), in real chromium
with a fake camera and microphone against the real server and its aiortc relay:

- one picture takes the stage's width (not a 270 px tile); a tile can be enlarged and shown fullscreen;
- on a phone the picture stays in sight while the teacher scrolls the discussion, and raising a hand and
  the reactions are on screen without scrolling;
- the invitation to the stage is a banner at the top of the room, accepted by keyboard; the expert desk's
  "invited … on stage" and the teacher's "you left the stage" go once they are no longer true.

Screenshots land in test-artifacts/room-watching-*.png."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

import harness
from browsing import CHROMIUM, shot, signed_in

pytest.importorskip("playwright")
pytest.importorskip("aiortc")
from playwright.async_api import async_playwright  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
DESKTOP = {"viewport": {"width": 1280, "height": 850}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
async def browser():
    """Chromium with a synthetic camera and microphone, granted without a prompt."""
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        await b.close()


def tile(publisher) -> str:
    return f'#stage .tile[data-publisher="{publisher}"]'


def on_screen(selector: str) -> str:
    return (f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return false; "
            f"const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; }})()")


async def live_activity(server, users, title: str) -> int:
    start = datetime.now(timezone.utc) + timedelta(minutes=1)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": title, "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "experts": [users["expert1"][0]],
            "agenda": [{"kind": "online_interaction", "title": "在线互动", "minutes": 30}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    try:
        await host.ok("activity.start", activity_id=aid)
        for i in range(15):  # a discussion long enough to scroll
            await host.ok("chat.post", activity_id=aid, body=f"第 {i + 1} 条发言：请大家关注学生的课堂反应。")
    finally:
        await host.close()
    return aid


async def room(browser, server, users, who, aid, locale="en-US", **kw):
    context, page = await signed_in(browser, server.url, users[who][1], f"/activities/{aid}", locale=locale,
                                    wait="#conn.online", **kw)
    await page.wait_for_selector("#stage .stage-head", timeout=15_000)
    return context, page


async def playing(page, publisher) -> None:
    await page.wait_for_function(
        "s => { const v = document.querySelector(s); return v && v.videoWidth > 0 && v.readyState >= 2 && !v.paused; }",
        arg=tile(publisher) + " video", timeout=20_000)


async def test_the_lesson_fills_the_stage_enlarges_goes_fullscreen_and_stays_in_sight_on_a_phone(browser, server, users):
    aid = await live_activity(server, users, "观看课例 watching")
    org_id = users["org1"][0]
    org_ctx, org = await room(browser, server, users, "org1", aid, **DESKTOP)
    desk_ctx, desk = await room(browser, server, users, "teacher1", aid, **DESKTOP)
    phone_ctx, phone = await room(browser, server, users, "teacher2", aid, locale="zh-CN", **PHONE)
    try:
        await org.click("#stage .stage-go")
        for page in (desk, phone):
            await page.wait_for_selector(tile(org_id), timeout=15_000)
            await playing(page, org_id)

        # one picture takes the stage's width
        width = await desk.eval_on_selector(tile(org_id), "t => t.getBoundingClientRect().width")
        stage = await desk.eval_on_selector("#stage .stage-tiles", "t => t.getBoundingClientRect().width")
        assert width >= 0.95 * stage and width > 600, (width, stage)
        await shot(desk, "room-watching-desktop-en")
        # enlarge: the tile says so and keeps the whole width; fullscreen: the tile is the screen
        await desk.click(tile(org_id) + " .tile-big")
        assert await desk.get_attribute(tile(org_id) + " .tile-big", "aria-pressed") == "true"
        assert await desk.inner_text(tile(org_id) + " .tile-big") == "Restore"
        await desk.click(tile(org_id) + " .tile-full")
        await desk.wait_for_function(f"document.fullscreenElement === document.querySelector({tile(org_id)!r})",
                                     timeout=10_000)
        await desk.wait_for_function(f"document.querySelector({tile(org_id) + ' .tile-full'!r}).innerText === 'Exit fullscreen'")
        height = await desk.eval_on_selector(tile(org_id) + " video", "v => v.getBoundingClientRect().height")
        assert height > 0.8 * 850, height  # the picture fills the screen, not the tile's old height
        await desk.screenshot(path=str(harness.ARTIFACTS / "room-watching-fullscreen.png"))
        await desk.click(tile(org_id) + " .tile-full")  # the same button leaves fullscreen
        await desk.wait_for_function("document.fullscreenElement === null", timeout=10_000)

        # the phone: hand and reactions on screen without scrolling; the picture stays in sight while the
        # teacher reads the discussion further down
        assert await phone.evaluate(on_screen("#hand")) and await phone.evaluate(on_screen("#reactions"))
        assert await phone.inner_text(tile(org_id) + " .tile-big") == "放大"
        await phone.locator("#chat-input").scroll_into_view_if_needed()
        await phone.evaluate("window.scrollBy(0, 400)")
        assert await phone.evaluate("window.scrollY") > 300
        assert await phone.evaluate(on_screen(tile(org_id) + " video")), "the video scrolled away"
        assert await phone.evaluate(on_screen("#hand")) and await phone.evaluate(on_screen("#chat-input"))
        await phone.screenshot(path=str(harness.ARTIFACTS / "room-watching-phone-zh.png"))  # the screen as seen
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
    finally:
        for ctx in (org_ctx, desk_ctx, phone_ctx):
            await ctx.close()


async def test_an_invitation_is_a_banner_and_stale_stage_notices_go(browser, server, users):
    aid = await live_activity(server, users, "上台邀请 invitation")
    teacher_id = users["teacher1"][0]
    exp_ctx, exp = await room(browser, server, users, "expert1", aid, locale="zh-CN", **DESKTOP)
    t_ctx, teacher = await room(browser, server, users, "teacher1", aid, **PHONE)  # the desktop's: test_room_stage.py
    try:
        await teacher.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # reading further down
        await teacher.click("#hand")
        await exp.wait_for_selector(f"#hq-{teacher_id}", timeout=10_000)
        await exp.click(f"#hq-{teacher_id} .call")
        await exp.wait_for_function("document.querySelector('#desk-note').innerText === '已邀请 Teacher1 上台'",
                                    timeout=10_000)
        # the invitation: a banner in sight at the top of the room, its Accept button focused
        await teacher.wait_for_selector("#alerts .stage-invite:not([hidden])", timeout=10_000)
        assert await teacher.evaluate(on_screen("#alerts .stage-invite"))
        assert await teacher.evaluate("document.activeElement.classList.contains('stage-accept')")
        await teacher.screenshot(path=str(harness.ARTIFACTS / "room-watching-invitation-en-phone.png"))
        await teacher.keyboard.press("Enter")
        await teacher.wait_for_selector(tile(teacher_id) + ".mine", timeout=10_000)
        await teacher.wait_for_selector("#alerts .stage-invite", state="hidden")
        # the teacher is up: the desk's "invited" is no longer true and goes
        await exp.wait_for_selector(tile(teacher_id), timeout=15_000)
        await exp.wait_for_function("document.querySelector('#desk-note').innerText === ''", timeout=15_000)
        await shot(exp, "room-watching-desk-zh")

        # the teacher leaves: "you left the stage"; invited again, that notice is stale and goes
        await teacher.click("#stage .stage-leave")
        await teacher.wait_for_function(
            "document.querySelector('#stage .stage-status').innerText === 'You left the stage.'", timeout=10_000)
        await teacher.click("#hand")
        await exp.wait_for_selector(f"#hq-{teacher_id}", timeout=10_000)
        await exp.click(f"#hq-{teacher_id} .call")
        await teacher.wait_for_selector("#alerts .stage-invite:not([hidden])", timeout=10_000)
        assert await teacher.is_hidden("#stage .stage-status")
        await teacher.click("#alerts .stage-decline")
        await exp.wait_for_function("document.querySelector('#desk-note').innerText === 'Teacher1 谢绝了上台邀请'",
                                    timeout=10_000)
    finally:
        for ctx in (exp_ctx, t_ctx):
            await ctx.close()
