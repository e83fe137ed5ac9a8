"""Screen sharing in the activity room page (webclient/static/stage.js) in real chromium, against the
real server and its aiortc relay. The organizer shares a screen before going on stage; a teacher sees
it as the main picture, moving, labelled with the organizer's name, and the organizer's camera beside
it; an expert (in Chinese) stops the share from its tile and the organizer's page says who did; the
organizer's own "stop sharing" button and the browser's own end of the capture end it for the teacher;
a refused screen picker is said in words.

Chromium shares a screen without a picker with the flags the stage tests already use: with
`--use-fake-ui-for-media-stream` and `--use-fake-device-for-media-stream`, getDisplayMedia is granted
at once and gives a synthetic 1280×720 moving "screen" (label `screen:-3:0`), also headless (measured
with chromium 156). Without the fake UI, headless chromium waits for a picker nobody can answer."""

from __future__ import annotations

import pytest

from browsing import shot
from test_room_stage import browser, live_activity, plays, room, tile  # noqa: F401  (browser: a fixture)

pytest.importorskip("playwright")


async def says(page, selector: str, text: str) -> None:
    await page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); return e && e.innerText.includes(t); }",
        arg=[selector, text], timeout=10_000)


async def test_a_shared_screen_is_the_main_picture_until_a_moderator_the_sharer_or_the_browser_stops_it(
        browser, server, users):
    aid = await live_activity(server, users, "屏幕共享 screen sharing")
    org_id = users["org1"][0]
    screen = f"screen:{org_id}"
    org_ctx, org = await room(browser, server.url, users, "org1", aid)
    teacher_ctx, teacher = await room(browser, server.url, users, "teacher1", aid)
    expert_ctx, expert = await room(browser, server.url, users, "expert1", aid, locale="zh-CN")
    errors: list[str] = []
    for page in (org, teacher, expert):
        page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        assert await teacher.is_hidden("#stage .stage-share")  # a teacher may not share
        await expert.wait_for_selector("#stage .stage-share:visible")
        assert await expert.inner_text("#stage .stage-share") == "共享屏幕"

        # the organizer shares a screen before going on stage: its own preview, and "stop sharing"
        await org.click("#stage .stage-share")
        await org.wait_for_selector(tile(screen) + ".mine", timeout=10_000)
        await org.wait_for_selector("#stage .stage-unshare:visible")
        assert await org.is_hidden("#stage .stage-share") and await org.is_visible("#stage .stage-go")
        assert await org.inner_text(tile(screen) + " .tile-name") == "My shared screen"

        # the teacher sees it moving, at the screen's size, named after the organizer
        await teacher.wait_for_selector(tile(screen), timeout=15_000)
        await plays(teacher, screen)
        assert await teacher.inner_text(tile(screen) + " .tile-name") == "Org1's screen"
        size = await teacher.eval_on_selector(tile(screen) + " video", "v => [v.videoWidth, v.videoHeight]")
        assert size == [1280, 720]
        assert await teacher.locator(tile(screen) + " .tile-remove").count() == 0  # not a moderator
        assert "1 on stage" not in await teacher.inner_text("#stage .stage-count")  # a screen is not a person

        # the organizer goes on stage too: the camera is beside the screen, which stays the main picture
        await org.click("#stage .stage-go")
        await teacher.wait_for_selector(tile(org_id), timeout=15_000)
        await plays(teacher, org_id)
        main = await teacher.eval_on_selector(
            tile(screen), "t => [t.classList.contains('main'), t.getBoundingClientRect().toJSON()]")
        camera = await teacher.eval_on_selector(tile(org_id), "t => t.getBoundingClientRect().toJSON()")
        assert main[0] and main[1]["width"] > 2 * camera["width"]
        assert camera["left"] >= main[1]["right"]  # beside it, not below
        assert await teacher.inner_text("#stage .stage-count") == "1 on stage"
        await shot(teacher, "room-screen-teacher")

        # the expert, in Chinese, stops the share from its tile; the organizer's camera stays
        await expert.wait_for_selector(tile(screen), timeout=15_000)
        assert await expert.inner_text(tile(screen) + " .tile-name") == "Org1 的屏幕"
        assert await expert.inner_text(tile(screen) + " .tile-stop-share") == "停止其共享"
        await expert.click(tile(screen) + " .tile-stop-share")
        await teacher.wait_for_selector(tile(screen), state="detached", timeout=15_000)
        await says(org, "#stage .stage-status", "Expert1 stopped your screen sharing.")
        await org.wait_for_selector(tile(screen), state="detached")
        await org.wait_for_selector("#stage .stage-share:visible")
        await plays(teacher, org_id)
        assert await teacher.locator("#stage .tile.main").count() == 0

        # the organizer shares again and stops with the button
        await org.click("#stage .stage-share")
        await plays(teacher, screen)
        await org.click("#stage .stage-unshare")
        await teacher.wait_for_selector(tile(screen), state="detached", timeout=15_000)
        await says(org, "#stage .stage-status", "You stopped sharing your screen.")

        # ... and again, and the browser ends the capture (its own "stop sharing" bar): the share ends
        await org.click("#stage .stage-share")
        await plays(teacher, screen)
        await org.eval_on_selector(tile(screen) + ".mine video",
                                   "v => v.srcObject.getVideoTracks()[0].dispatchEvent(new Event('ended'))")
        await teacher.wait_for_selector(tile(screen), state="detached", timeout=15_000)
        await org.wait_for_selector("#stage .stage-share:visible")

        # a picker the person cancelled (or a browser that refuses) is said in words
        await org.evaluate("""() => { navigator.mediaDevices.getDisplayMedia = () =>
                                        Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); }""")
        await org.click("#stage .stage-share")
        await says(org, "#stage .stage-alert", "Screen sharing was cancelled, or the browser does not allow it.")
        assert await org.is_visible("#stage .stage-share") and await org.is_enabled("#stage .stage-share")
        assert await org.locator(tile(screen)).count() == 0
        assert not errors and not org.dialogs and not teacher.dialogs and not expert.dialogs
    finally:
        for context in (org_ctx, teacher_ctx, expert_ctx):
            await context.close()

