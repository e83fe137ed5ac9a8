"""The room's program player in a real browser against a real server (one node on the Redis bus, which
the program's lease and parts need): a presenter publishes with an aiortc peer, the server makes the
program, and a teacher's page in chromium, open since before, switches from the WebRTC stage to the
program over LL-HLS (hls.js): it plays, it says how far behind live it is, its quality choice goes to
360p, its sound comes on with a tap. Called on stage, the teacher is on WebRTC at once, and back on the
program after stepping down. The organizer's page stays on WebRTC. Ending the activity stops the
player, and the replay plays the program's recording."""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

import harness
from browsing import ARGS, CHROMIUM, shot, signed_in
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker

pytest.importorskip("aiortc")
from aiortc import RTCPeerConnection  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from media_peers import MovingPicture, Tone, accept, offer_to_send  # noqa: E402

FAST = {"program_preset": "ultrafast"}  # two encoders on a shared 2-core machine
# a camera and microphone for the teacher called on stage, granted without a prompt
MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
async def browser():
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS + MEDIA)
        yield b
        await b.close()


@pytest.fixture(scope="module")
async def world(redis_url):
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='collab-db-')) / 'program.db'}"
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    users = {}
    async with make_sessionmaker(engine)() as db:
        for name, role, shown in [("org", "organizer", "组织者"), ("presenter", "teacher", "王老师"),
                                  ("t1", "teacher", "李老师")]:
            u = await create_user(db, username="player_" + name, password="password-" + name,
                                  display_name=shown, role=role)
            users[name] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    node = harness.Server(url, redis_url, name="program-player", **FAST).start(wait=False)
    await asyncio.to_thread(node.wait)
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org'][1]}"}, json={
            "title": "直播画面 program", "starts_at": "2027-05-01T14:00:00+08:00",
            "ends_at": "2027-05-01T16:00:00+08:00", "visibility": "public",
            "agenda": [{"kind": "discussion", "title": "研讨交流", "minutes": 30}],  # hands may be raised
            "presenters": [users["presenter"][0]], "front_row": 0})  # every attendee watches the program
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        r = await http.post(f"/api/activities/{aid}/register", headers={"Authorization": f"Bearer {users['t1'][1]}"})
        assert r.status_code in (200, 201), r.text
    host = await harness.WsClient(node.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    yield {"node": node, "users": users, "aid": aid, "host": host}
    await host.close()
    node.cleanup()
    # The program leaves its last parts on the bus for two minutes under this activity's id, which the
    # next module's fresh database gives its own first activity too: leave the suite's Redis empty.
    client = aioredis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()


async def video_state(page, selector: str) -> dict:
    return await page.eval_on_selector(selector, """v => ({t: v.currentTime, w: v.videoWidth, h: v.videoHeight,
        paused: v.paused, muted: v.muted, d: v.duration})""")


async def plays(page, selector: str = ".program video", timeout: float = 20.0) -> None:
    """The video has a picture and is playing (not stalled, not paused)."""
    await page.wait_for_function(f"(v => v && !v.paused && v.readyState >= 3 && v.currentTime > 0)"
                                 f"(document.querySelector({selector!r}))", timeout=timeout * 1000)


async def advances(page, selector: str, seconds: float = 1.5) -> tuple[float, float]:
    """currentTime now and `seconds` later."""
    before = (await video_state(page, selector))["t"]
    await asyncio.sleep(seconds)
    return before, (await video_state(page, selector))["t"]


async def test_a_teacher_watches_the_program_and_the_replay_plays_its_recording(world, browser):
    node, users, aid, host = world["node"], world["users"], world["aid"], world["host"]
    errors: list[str] = []
    room = f"/activities/{aid}"
    t_ctx, teacher = await signed_in(browser, node.url, users["t1"][1], room, locale="zh-CN", wait="#conn.online",
                                     viewport={"width": 1280, "height": 1000})
    teacher.on("pageerror", lambda e: errors.append(str(e)))
    console: list[str] = []  # the teacher's console and the test's steps, kept for reading after a failure
    teacher.on("console", lambda m: console.append(f"{time.monotonic():.2f} {m.type}: {m.text}"))

    def step(what: str) -> None:
        console.append(f"{time.monotonic():.2f} -- {what}")

    o_ctx, organizer = await signed_in(browser, node.url, users["org"][1], room, locale="en-US", wait="#conn.online")
    presenter = await harness.WsClient(node.ws_url).open(users["presenter"][1])
    pc = RTCPeerConnection()
    try:
        # before the program: the program's place says it starts shortly (no WebRTC tiles meanwhile: a
        # national audience does not become peers of the relay while the program starts)
        await teacher.wait_for_function("document.querySelector('.stage-tier')?.textContent === '直播画面（HLS），即将开始'",
                                        timeout=10_000)
        assert await teacher.inner_text(".program-wait") == "直播画面即将开始…"
        assert await teacher.locator(".stage-tiles .tile").count() == 0
        r = await presenter.ok("stage.publish", timeout=20, activity_id=aid,
                               offer=await offer_to_send(pc, [MovingPicture(), Tone()]))
        await accept(pc, r["answer"])
        asked = time.monotonic()

        step("the presenter publishes")
        # the program event turns the teacher's stage into the program: one video, no WebRTC tiles
        await teacher.wait_for_selector(".program:not([hidden]) video", timeout=20_000)
        await plays(teacher)
        first_picture = time.monotonic() - asked
        assert await teacher.locator(".stage-tiles .tile").count() == 0
        before, after = await advances(teacher, ".program video")
        state = await video_state(teacher, ".program video")
        assert after > before + 0.5, (before, after)
        assert state["w"] in (1280, 640) and state["muted"], state
        # how far behind live it is, in seconds
        await teacher.wait_for_function("/延迟约 \\d+(\\.\\d)? 秒/.test(document.querySelector('.stage-tier').textContent)",
                                        timeout=10_000)
        line = await teacher.inner_text(".stage-tier")
        assert re.fullmatch(r"直播画面（HLS），延迟约 \d+\.\d 秒", line), line
        # sound: autoplay started muted, one tap turns it on
        assert await teacher.is_visible(".program-sound-hint")
        assert await teacher.inner_text(".program-sound-hint") == "点击开启声音"
        await teacher.click(".program-sound-hint")
        await teacher.wait_for_function("!document.querySelector('.program video').muted")
        assert await teacher.is_hidden(".program-sound-hint")
        assert await teacher.inner_text(".program-mute") == "静音"
        # the quality choice: 自动, 720p, 360p; 360p gives the small picture from the next segment
        options = await teacher.eval_on_selector_all(".program-quality option", "os => os.map(o => o.textContent)")
        assert options[0].startswith("自动") and options[1:] == ["720p", "360p"], options
        latency = float((await teacher.get_attribute(".stage-tier", "data-latency")) or "nan")
        await shot(teacher, "program-player-zh")
        step("360p")
        await teacher.select_option(".program-quality select", label="360p")
        await teacher.wait_for_function("document.querySelector('.program video').videoWidth === 640", timeout=15_000)
        before, after = await advances(teacher, ".program video")
        assert after > before + 0.5, (before, after)

        step("called on stage")
        # called on stage: real time at once (the presenter's tile over WebRTC), the program again after
        await teacher.click("#hand")
        await teacher.wait_for_function("document.querySelector('#hand-status').textContent !== ''", timeout=10_000)
        await host.ok("hand.call", activity_id=aid, user_id=users["t1"][0])
        await teacher.click(".stage-accept", timeout=10_000)
        await teacher.wait_for_selector(".program", state="hidden", timeout=5_000)
        assert await teacher.inner_text(".stage-tier") == "实时画面（WebRTC）"
        await teacher.wait_for_selector(f".stage-tiles .tile[data-publisher='{users['presenter'][0]}']", timeout=15_000)
        await teacher.wait_for_function("document.querySelector('.stage-status').textContent === '您已在台上。'",
                                        timeout=15_000)
        step("leaves the stage")
        await teacher.click(".stage-leave")
        await teacher.wait_for_selector(".program:not([hidden])", timeout=10_000)
        await plays(teacher)
        before, after = await advances(teacher, ".program video")
        assert after > before + 0.5, (before, after)
        assert await teacher.locator(".stage-tiles .tile").count() == 0

        # the organizer stays on WebRTC: the presenter's tile, no program
        await organizer.wait_for_selector(f".stage-tiles .tile[data-publisher='{users['presenter'][0]}']", timeout=10_000)
        assert await organizer.inner_text(".stage-tier") == "Real-time (WebRTC)"
        assert await organizer.is_hidden(".program")

        step("the end")
        # the end: the player stops, the replay plays the program's recording
        await host.ok("activity.end", activity_id=aid)
        await teacher.wait_for_selector(".program", state="hidden", timeout=10_000)
        stopped = await teacher.eval_on_selector(".program video", "v => [v.paused, v.getAttribute('src'), v.readyState]")
        assert stopped == [True, None, 0], stopped
        replay = f"/activities/{aid}/replay"
        deadline = time.monotonic() + 20
        async with httpx.AsyncClient(base_url=node.url) as http:
            while time.monotonic() < deadline:  # the recording is listed once it is remuxed
                r = await http.get(f"/api/activities/{aid}/replay", headers={"Authorization": f"Bearer {users['t1'][1]}"})
                if any(x["kind"] == "program" for x in r.json().get("recordings", [])):
                    break
                await asyncio.sleep(0.3)
        await teacher.goto(node.url + replay)
        video = "figure.recording.program video"
        await teacher.wait_for_selector(video, timeout=15_000)
        await teacher.wait_for_function(f"document.querySelector('{video}').duration > 0", timeout=10_000)
        assert await teacher.inner_text("figure.recording.program figcaption .who") == "活动全程（舞台合成画面）"
        await teacher.eval_on_selector(video, "v => { v.muted = true; return v.play(); }")
        await teacher.wait_for_function(f"document.querySelector('{video}').currentTime > 0.3", timeout=10_000)
        before, after = await advances(teacher, video, 1.0)
        assert after > before, (before, after)
        await shot(teacher, "program-replay-zh")
        assert not errors, errors
        harness.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with open(harness.ARTIFACTS / "program-player.txt", "a") as f:
            f.write(f"first picture {first_picture:.1f} s after publishing; latency shown {latency:.2f} s\n")
    finally:
        harness.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (harness.ARTIFACTS / "program-player.console.log").write_text("\n".join(console) + "\n")
        await pc.close()
        await presenter.close()
        await t_ctx.close()
        await o_ctx.close()
