"""Every page of the web client under the node's Content-Security-Policy (no inline script, no inline
style, nothing from elsewhere), in real chromium: each page is opened as the person who uses it, does
its main thing, and the browser reports no violation of the policy (a `securitypolicyviolation` event
or a console line about it). The room is used live by a teacher and its host (chat over /ws both
ways), the lesson editor by two members (typing over /ws/docs, cursors, a comment's highlight).
Another site cannot frame a page: `frame-ancestors 'none'` is checked by framing the room."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import harness
from browsing import signed_in
from studio_seed import new_doc, seed_studio

# Installed before any page script: every violation the browser reports, kept for the test to read.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(
  e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));
"""


class Watched:
    """A signed-in page whose policy violations (events and console lines) are collected."""

    def __init__(self, context, page) -> None:
        self.context, self.page, self.console = context, page, []
        page.on("console", lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None)

    async def violations(self) -> list[str]:
        return await self.page.evaluate("window.__violations") + self.console

    async def close(self) -> None:
        await self.context.close()


async def open_page(browser, server, token, path, wait) -> Watched:
    context = await browser.new_context(locale="zh-CN")
    await context.add_init_script(WATCH)
    if token:
        await context.add_init_script(f"localStorage.setItem('collab_token', {token!r})")
    page = await context.new_page()
    watched = Watched(context, page)
    await page.goto(server.url + path)
    await page.wait_for_selector(wait, timeout=15_000)
    return watched


async def clean(watched: Watched, what: str) -> None:
    await watched.page.wait_for_timeout(300)  # a late script (a module, a worker) reports too
    assert await watched.violations() == [], what


@pytest.fixture(scope="module")
async def world(server, users, database_url):
    studio = await seed_studio(database_url)
    doc = await new_doc(database_url, studio["studio"], studio["users"]["leader"][0], title="一次函数 教案")
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=10)
    agenda = [{"kind": "discussion", "title": "互动研讨", "minutes": 30}]
    ids = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        for title in ("《一次函数》课例研讨", "已结束的研讨"):
            r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
                "title": title, "visibility": "public", "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(), "experts": [users["expert1"][0]],
                "agenda": agenda})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    live, ended = ids
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    for aid in ids:
        await org.ok("activity.open_lobby", activity_id=aid)
        await org.ok("activity.start", activity_id=aid)
    await org.ok("chat.post", activity_id=ended, body="这节课的情境导入很好")
    await asyncio.sleep(1.1)  # a phase long enough to show on the replay's bar
    await org.ok("activity.end", activity_id=ended)
    await org.close()
    return {"live": live, "ended": ended, "doc": doc, "studio": studio}


async def test_pages_people_read_run_under_the_policy(browser, server, users, world):
    live, ended, sid = world["live"], world["ended"], world["studio"]["studio"]
    org, teacher = users["org1"][1], users["teacher1"][1]
    pages = [  # (who, path, what shows that the page did its work)
        (None, "/", "#signin-form"),
        (teacher, "/", "#places:not([hidden]) #activities li"),
        (teacher, "/activities?status=live", "#list li"),
        (org, "/activities/new", "#schedule-form:not([hidden])"),
        (org, f"/activities/{live}/edit", "#schedule-form:not([hidden])"),
        (teacher, f"/activities/{ended}/replay", "#replay:not([hidden]) #chat li"),
        (org, f"/activities/{ended}/attendance", "#report:not([hidden])"),
        (teacher, "/me/learning", "#record:not([hidden]), #empty:not([hidden])"),
        (teacher, "/studios", "#directory li"),
        (world["studio"]["users"]["member"][1], f"/studios/{sid}", "#name:not(:empty)"),
    ]
    for token, path, shows in pages:
        watched = await open_page(browser, server, token, path, shows)
        if path == "/activities/new":  # the agenda builder draws a phase
            await watched.page.click("#add-phase")
            await watched.page.wait_for_selector("#phases li", timeout=5_000)
        await clean(watched, path)
        await watched.close()


async def test_the_signin_form_signs_in_under_the_policy(browser, server, users):
    watched = await open_page(browser, server, None, "/", "#signin-form")
    await watched.page.fill("#signin-form [name=username]", "teacher1")
    await watched.page.fill("#signin-form [name=password]", "password-teacher1")
    await watched.page.click("#signin-form button[type=submit]")
    await watched.page.wait_for_selector("#places:not([hidden])", timeout=15_000)
    await clean(watched, "signing in")
    await watched.close()


async def test_the_room_works_for_a_teacher_and_its_host(browser, server, users, world):
    path = f"/activities/{world['live']}"
    host = await open_page(browser, server, users["org1"][1], path, "#conn.online")
    teacher = await open_page(browser, server, users["teacher1"][1], path, "#conn.online")
    await host.page.wait_for_selector("#host-controls:not([hidden])", timeout=10_000)
    await teacher.page.wait_for_selector("#chat-box:not([hidden])", timeout=10_000)
    await teacher.page.fill("#chat-input", "情境导入贴近学生生活")
    await teacher.page.press("#chat-input", "Enter")
    await host.page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('情境导入贴近学生生活')", timeout=10_000)
    for watched, who in ((host, "the host's room"), (teacher, "the teacher's room")):
        await clean(watched, who)
        await watched.close()


async def test_the_lesson_editor_works_for_two_members(browser, server, world):
    members = world["studio"]["users"]
    path = f"/docs/{world['doc']}"
    lead = await open_page(browser, server, members["leader"][1], path, "#conn.synced")
    member = await open_page(browser, server, members["member"][1], path, "#conn.synced")
    await lead.page.click(".ql-editor h1")
    await lead.page.keyboard.press("End")
    await lead.page.keyboard.type("（第一课时）")
    await member.page.wait_for_function(
        "document.querySelector('.ql-editor h1').innerText.includes('（第一课时）')", timeout=10_000)
    await member.page.click(".ql-editor p")
    await lead.page.wait_for_function(  # the other's cursor and name, styled by quill-cursors' own sheet
        "[...document.querySelectorAll('.ql-cursor-name')].some(e => e.textContent.includes('Member'))",
        timeout=10_000)
    flag = await lead.page.eval_on_selector(".ql-cursor .ql-cursor-flag", "e => getComputedStyle(e).position")
    assert flag == "absolute"  # quill-cursors' stylesheet applied: admitted by its hash
    for watched, who in ((lead, "the leader's editor"), (member, "the member's editor")):
        await clean(watched, who)
        await watched.close()


@pytest.fixture
def other_site(tmp_path):
    """Another origin on this machine (another port): a plain HTTP server of the files in a folder."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_another_site_cannot_frame_a_page(browser, server, world, other_site):
    """A page on another origin frames the room and, for contrast, an HLS answer (which players on
    other sites may load): the browser shows the HLS answer and refuses the room."""
    folder, origin = other_site
    room, hls = f"{server.url}/activities/{world['live']}", f"{server.url}/live/1/k/forged/index.m3u8"
    (folder / "evil.html").write_text(f'<iframe id="room" src="{room}"></iframe><iframe id="hls" src="{hls}"></iframe>')
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(origin + "/evil.html")
    await page.wait_for_timeout(1500)
    urls = [(await (await page.query_selector(f"#{i}")).content_frame()).url for i in ("room", "hls")]
    assert urls[1] == hls, urls  # the contrast: a frame that may be framed is shown
    assert urls[0] != room and urls[0].startswith("chrome-error:"), urls  # the room is refused
    await context.close()
