"""The activity room in a real browser: the lobby's agenda and countdown, the host starting and moving
through phases, a teacher chatting and asking, the host upvoting, all live on both pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

import harness
from browsing import signed_in


async def room(browser, server, users, who, aid):
    context, page = await signed_in(browser, server.url, users[who][1], f"/activities/{aid}", wait="#conn.online")
    await page.wait_for_function("document.querySelector('#agenda').children.length > 0", timeout=10_000)
    return context, page


async def test_a_teacher_registers_from_the_room_and_enters(browser, server, users):
    start = datetime.now(timezone.utc) + timedelta(days=1)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "报名后进入", "visibility": "registered", "registration": "open", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": [{"kind": "discussion", "minutes": 30}]})
        aid = r.json()["id"]
    context, page = await signed_in(browser, server.url, users["teacher2"][1], f"/activities/{aid}",
                                    wait="#register:not([hidden])")
    # before registering: what the activity is, and nothing of the room itself
    assert await page.inner_text("#title") == "报名后进入" and await page.locator("#agenda li").count() == 1
    assert await page.is_hidden("#chat-box") and await page.is_hidden("#qa-box")
    await page.click("#register-button")
    await page.wait_for_selector("#chat-box:not([hidden])", timeout=10_000)  # in the room
    assert await page.inner_text("#title") == "报名后进入" and await page.is_hidden("#register")
    await context.close()


async def test_lobby_countdown_then_a_live_discussion(browser, server, users):
    start = datetime.now(timezone.utc) + timedelta(minutes=30)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "函数的概念 <课例研讨>", "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 20},
                       {"kind": "discussion", "title": "研讨", "minutes": 20}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host_ctx, host = await room(browser, server, users, "org1", aid)
    teacher_ctx, teacher = await room(browser, server, users, "teacher1", aid)
    assert await teacher.inner_text("#title") == "函数的概念 <课例研讨>"  # text, not markup
    assert await teacher.is_hidden("#host-controls") and await host.is_visible("#host-controls")
    await teacher.wait_for_function("document.querySelector('#countdown').innerText.includes('starts in')")
    assert "29:" in await teacher.inner_text("#countdown")  # about half an hour to go

    await host.click("button[data-cmd='activity.open_lobby']")
    await teacher.wait_for_function("document.querySelector('#state').innerText.includes('lobby')", timeout=10_000)
    await host.click("button[data-cmd='activity.start']")
    await teacher.wait_for_function("document.querySelector('#state').innerText.includes('live')", timeout=10_000)
    assert "课例展示" in await teacher.inner_text("#agenda li.current")
    assert await teacher.is_hidden("#chat-form")  # the lesson display: chat closed for teachers
    await host.click("button[data-cmd='activity.next_phase']")
    await teacher.wait_for_function("document.querySelector('#agenda li.current').innerText.includes('研讨')",
                                    timeout=10_000)
    await teacher.wait_for_selector("#chat-form:not([hidden])")

    await teacher.fill("#chat-form input", "这节课的导入很好 <img src=x onerror=alert(1)>")
    await teacher.click("#chat-form button")
    await host.wait_for_function("document.querySelector('#chat').innerText.includes('这节课的导入很好')", timeout=10_000)
    assert await host.locator("#chat img").count() == 0
    await teacher.fill("#ask-form input", "如何处理函数概念中的对应关系?")
    await teacher.click("#ask-form button")
    await host.wait_for_selector("#questions li", timeout=10_000)
    await host.click("#questions li button.vote")
    await teacher.wait_for_function("document.querySelector('#questions li button.vote').innerText.includes('1')",
                                    timeout=10_000)  # the total reaches the teacher at the tally's pace
    await teacher.screenshot(path=str(harness.ARTIFACTS / "activity-room-teacher.png"), full_page=True)
    for ctx in (host_ctx, teacher_ctx):
        await ctx.close()


async def test_signing_in_from_a_room_link_comes_back_to_the_room(browser, server, users):
    start = datetime.now(timezone.utc) + timedelta(days=2)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "从链接进入", "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": [{"kind": "discussion", "minutes": 30}]})
        aid = r.json()["id"]
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{server.url}/activities/{aid}")  # not signed in: sent to sign in first
    await page.wait_for_selector("#signin-form", timeout=10_000)
    await page.fill("input[name=username]", "teacher1")
    await page.fill("input[name=password]", "password-teacher1")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**/activities/{aid}", timeout=10_000)
    await page.wait_for_function("document.querySelector('#title').innerText === '从链接进入'", timeout=10_000)
    await page.goto(f"{server.url}/")
    await page.wait_for_selector(f"#activities a[href='/activities/{aid}']", timeout=10_000)  # listed at home
    await context.close()


async def test_an_expired_sign_in_sends_the_teacher_to_sign_in_and_back(browser, server, users):
    start = datetime.now(timezone.utc) + timedelta(days=3)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "过期的登录", "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": [{"kind": "discussion", "minutes": 30}]})
        aid = r.json()["id"]
    expired = harness.token_for(users["teacher1"][0], "teacher", "Teacher1", ttl=-10)
    context = await browser.new_context()
    await context.add_init_script(f"if (!sessionStorage.getItem('seeded')) {{ sessionStorage.setItem('seeded', 1); "
                                  f"localStorage.setItem('collab_token', {expired!r}); }}")
    page = await context.new_page()
    await page.goto(f"{server.url}/activities/{aid}")
    await page.wait_for_selector("#signin-form", timeout=10_000)  # not an error page: sign in again
    assert await page.evaluate("localStorage.getItem('collab_token')") is None
    await page.fill("input[name=username]", "teacher1")
    await page.fill("input[name=password]", "password-teacher1")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**/activities/{aid}", timeout=10_000)
    await page.wait_for_function("(document.querySelector('#title') || {}).innerText === '过期的登录'", timeout=10_000)
    await context.close()
