"""The stage in the activity room page (/activities/{id}, webclient/static/stage.js) in real chromium
with a fake camera and microphone, against the real server and its aiortc relay:

1. the organizer goes on stage from the room; a teacher (in another browser context, behind a link
   that can be cut) sees a playing tile with the organizer's name; the teacher raises a hand, the
   expert calls it, the teacher accepts in the page and the organizer's page shows the teacher's
   picture; the organizer takes the teacher off stage and the teacher's page says so; the teacher's
   network drops and comes back and the organizer's video plays again on a new view.
2. the organizer uploads a lesson video (its title has markup in it, shown as text), puts it on the
   stage and pauses it; a teacher on a phone-wide screen in Chinese watches it.

The launch flags are those of test_stage_browser.py (fake devices, no permission prompt)."""

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
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
async def browser():
    """Chromium with a synthetic camera and microphone, granted without a prompt."""
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        await b.close()


async def live_activity(server, users, title: str) -> int:
    """An activity run by org1 with expert1 as its expert, started, in a phase that takes hands."""
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": title, "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "experts": [users["expert1"][0]],
            "agenda": [{"kind": "discussion", "title": "研讨", "minutes": 30},
                       {"kind": "lesson_display", "title": "课例", "minutes": 20}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    try:
        await host.ok("activity.start", activity_id=aid)
    finally:
        await host.close()
    return aid


async def room(browser, base_url, users, who, aid, **kw):
    context, page = await signed_in(browser, base_url, users[who][1], f"/activities/{aid}",
                                    wait="#conn.online", **kw)
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    await page.wait_for_selector("#stage .stage-head", timeout=15_000)
    return context, page


def tile(publisher) -> str:
    return f'#stage .tile[data-publisher="{publisher}"]'


async def plays(page, publisher, what: str = "") -> None:
    """The tile's <video> shows a picture and its time moves on (and frames keep coming)."""
    video = tile(publisher) + " video"
    await page.wait_for_function(
        "s => { const v = document.querySelector(s); return v && v.videoWidth > 0 && v.readyState >= 2 && !v.paused; }",
        arg=video, timeout=20_000)
    before = await page.eval_on_selector(
        video, "v => [v.currentTime, v.getVideoPlaybackQuality().totalVideoFrames]")
    await page.wait_for_function(
        """([s, t, n]) => { const v = document.querySelector(s);
                            return v.currentTime > t + 0.5 && v.getVideoPlaybackQuality().totalVideoFrames > n + 5; }""",
        arg=[video, before[0], before[1]], timeout=10_000)


async def test_on_stage_invited_taken_off_and_watching_again_after_a_network_cut(browser, server, users):
    aid = await live_activity(server, users, "舞台 stage")
    org_id, teacher_id = users["org1"][0], users["teacher1"][0]
    link = await harness.CuttableProxy(server.port).start()  # the teacher's network
    org_ctx, org = await room(browser, server.url, users, "org1", aid)
    teacher_ctx, teacher = await room(browser, link.url, users, "teacher1", aid)
    expert = await harness.WsClient(server.ws_url).open(users["expert1"][1])
    try:
        # a teacher may not publish or manage: none of those controls are offered
        assert await teacher.is_hidden("#stage .stage-controls")
        assert await teacher.is_hidden("#stage .stage-library")
        assert "Nobody is on the stage" in await teacher.inner_text("#stage")

        # the organizer goes on stage; the teacher sees the organizer's picture, muted, with an unmute button
        await org.click("#stage .stage-go")
        await org.wait_for_selector(tile(org_id) + ".mine", timeout=10_000)
        await org.wait_for_selector("#stage .stage-leave:visible")
        await teacher.wait_for_selector(tile(org_id), timeout=15_000)
        await plays(teacher, org_id)
        assert await teacher.inner_text(tile(org_id) + " .tile-name") == "Org1"
        assert await teacher.eval_on_selector(tile(org_id) + " video", "v => v.muted")
        assert await teacher.is_hidden(tile(org_id) + " .tile-remove")  # teachers cannot take people off
        await teacher.click(tile(org_id) + " .tile-unmute")
        assert not await teacher.eval_on_selector(tile(org_id) + " video", "v => v.muted")
        assert await teacher.inner_text(tile(org_id) + " .tile-unmute") == "Mute"
        # the organizer's mute toggles are real buttons that say their state
        await org.click("#stage .stage-mic")
        assert await org.get_attribute("#stage .stage-mic", "aria-pressed") == "true"
        assert await org.inner_text("#stage .stage-mic") == "Unmute microphone"
        await org.click("#stage .stage-mic")

        # the teacher raises a hand in the room, the expert calls it, the teacher accepts in the page
        await teacher.click("#hand")
        await teacher.wait_for_function("document.querySelector('#hand').getAttribute('aria-pressed') === 'true'",
                                        timeout=10_000)
        await expert.ok("hand.call", activity_id=aid, user_id=teacher_id)
        await teacher.wait_for_selector("#alerts .stage-invite:visible", timeout=10_000)  # a banner atop the room
        assert "An expert invites you on stage" in await teacher.inner_text("#alerts .stage-invite")
        # with the keyboard: the invitation takes the focus, Enter accepts
        assert await teacher.evaluate("document.activeElement.classList.contains('stage-accept')")
        await teacher.keyboard.press("Enter")
        await teacher.wait_for_selector(tile(teacher_id) + ".mine", timeout=10_000)
        await org.wait_for_selector(tile(teacher_id), timeout=15_000)
        await plays(org, teacher_id)
        assert await org.inner_text(tile(teacher_id) + " .tile-name") == "Teacher1"
        await teacher.wait_for_function(
            f"document.querySelector('{tile(teacher_id)} .tile-state').innerText === 'live'", timeout=10_000)
        await shot(org, "room-stage-organizer")

        # the organizer takes the teacher off the stage: the teacher's page says so, the tile goes
        await org.click(tile(teacher_id) + " .tile-remove")
        await teacher.wait_for_function(
            "document.querySelector('#stage .stage-status').innerText.includes('You were taken off the stage')",
            timeout=10_000)
        await teacher.wait_for_selector(tile(teacher_id), state="detached", timeout=5_000)
        await org.wait_for_selector(tile(teacher_id), state="detached", timeout=15_000)
        assert await teacher.is_hidden("#stage .stage-controls")  # no right to publish any more

        # the teacher's network drops and comes back: the organizer's video plays again, on a new view
        view = await teacher.get_attribute(tile(org_id) + " video", "data-watch-id")
        link.cut()
        await teacher.wait_for_selector("#conn:not(.online)", timeout=10_000)
        link.restore()
        await teacher.wait_for_selector("#conn.online", timeout=30_000)
        await teacher.wait_for_function(
            "([s, old]) => { const v = document.querySelector(s); return v && v.dataset.watchId && v.dataset.watchId !== old; }",
            arg=[tile(org_id) + " video", view], timeout=15_000)
        await plays(teacher, org_id)
        assert await teacher.locator("#stage .tile").count() == 1
        await shot(teacher, "room-stage-teacher")

        # the organizer leaves the stage: the teacher's tile goes
        await org.click("#stage .stage-leave")
        await teacher.wait_for_selector(tile(org_id), state="detached", timeout=15_000)
        assert not org.dialogs and not teacher.dialogs
    finally:
        await expert.close()
        await org_ctx.close()
        await teacher_ctx.close()
        await link.close()


async def test_a_lesson_video_uploaded_played_and_paused_watched_on_a_phone_in_chinese(browser, server, users, tmp_path):
    from media_peers import make_lesson_video

    aid = await live_activity(server, users, "课例视频 lesson video")
    path = tmp_path / "lesson.webm"
    make_lesson_video(path, "webm", seconds=20.0)
    (tmp_path / "notes.txt").write_text("not a video")
    org_ctx, org = await room(browser, server.url, users, "org1", aid)
    # this organizer's browser refuses the camera and microphone (as after "Block" in its prompt)
    await org.evaluate("""() => { navigator.mediaDevices.getUserMedia = () =>
                                    Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); }""")
    phone_ctx, phone = await room(browser, server.url, users, "teacher2", aid, locale="zh-CN",
                                  viewport={"width": 390, "height": 844})
    try:
        await org.click("#stage .stage-go")
        await org.wait_for_function(
            "document.querySelector('#stage .stage-alert').innerText.includes('The browser refused the camera and microphone')",
            timeout=10_000)
        assert await org.locator("#stage .tile.mine").count() == 0 and await org.is_visible("#stage .stage-go")
        await org.wait_for_selector("#stage .stage-library:visible")
        assert "No lesson videos uploaded yet" in await org.inner_text("#stage .stage-videos")
        # a file that is not a video is refused in words
        await org.set_input_files("#stage .stage-upload input[type=file]", str(tmp_path / "notes.txt"))
        await org.click("#stage .stage-upload button[type=submit]")
        await org.wait_for_function("document.querySelector('#stage .stage-alert').innerText.includes('Upload failed')",
                                    timeout=10_000)
        assert await org.get_attribute("#stage .stage-alert", "role") == "alert"

        title = XSS + " 函数的概念"
        await org.set_input_files("#stage .stage-upload input[type=file]", str(path))
        await org.fill("#stage .stage-upload input[name=title]", title)
        await org.click("#stage .stage-upload button[type=submit]")
        await org.wait_for_selector("#stage .stage-videos li[data-video-id]", timeout=15_000)
        assert await org.inner_text("#stage .stage-videos .video-title") == title
        await org.click("#stage .stage-videos .video-start")

        # the teacher's phone shows it, the title as text
        await phone.wait_for_selector(tile("lesson"), timeout=15_000)
        await plays(phone, "lesson")
        assert await phone.inner_text(tile("lesson") + " .tile-name") == "课例视频：" + title
        assert await phone.inner_text("#stage h2") == "舞台"
        assert await phone.inner_text(tile("lesson") + " .tile-unmute") == "打开声音"
        assert await phone.locator("#stage img").count() == 0 and await org.locator("#stage img").count() == 0
        assert await phone.is_hidden("#stage .stage-lesson-controls")  # the teacher does not control it
        width = await phone.eval_on_selector(tile("lesson"), "t => t.getBoundingClientRect().right")
        assert width <= 390  # nothing wider than the phone

        # the organizer pauses it for everyone, and plays it again
        await org.wait_for_selector("#stage .stage-lesson-controls:visible")
        await org.click("#stage .lesson-play")
        await org.wait_for_function("document.querySelector('#stage .lesson-time').innerText.includes('paused')",
                                    timeout=10_000)
        await shot(phone, "room-stage-phone")
        await org.click("#stage .lesson-play")
        await org.wait_for_function("!document.querySelector('#stage .lesson-time').innerText.includes('paused')",
                                    timeout=10_000)
        await plays(phone, "lesson")
        await org.click("#stage .lesson-stop")
        await phone.wait_for_selector(tile("lesson"), state="detached", timeout=15_000)
        assert not org.dialogs and not phone.dialogs
    finally:
        await org_ctx.close()
        await phone_ctx.close()
