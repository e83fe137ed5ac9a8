"""A whole live activity in real browsers, as the people in it see it: the organizer runs it through
its four phases; an expert moderates from the desk (pins, pre-moderation, answers a question, runs a
poll, invites a raised hand on stage); two teachers chat, ask, upvote, vote and raise a hand; one
teacher's network is cut mid-discussion and comes back with every message exactly once. One teacher
uses the Chinese interface, the others English."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

import harness
from browsing import shot, signed_in

ONLINE = "#conn.online"


def text_has(selector: str, text: str) -> str:
    return f"(document.querySelector({selector!r}) || {{innerText: ''}}).innerText.includes({text!r})"


async def schedule(server, users) -> int:
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "《背影》课例研讨 <b>全国</b>", "visibility": "public", "level": "national",
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
            "experts": [users["expert1"][0]],
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 40},
                       {"kind": "discussion", "title": "互动研讨", "minutes": 30},
                       {"kind": "expert_guidance", "title": "专家点评", "minutes": 20},
                       {"kind": "online_interaction", "title": "在线互动", "minutes": 20}]})
        assert r.status_code == 201, r.text
        return r.json()["id"]


async def test_a_whole_activity_with_an_expert_two_teachers_and_a_network_cut(browser, server, users):
    aid = await schedule(server, users)
    path = f"/activities/{aid}"
    link = await harness.CuttableProxy(server.port).start()  # teacher2's network
    org_ctx, org = await signed_in(browser, server.url, users["org1"][1], path, wait=ONLINE)
    exp_ctx, exp = await signed_in(browser, server.url, users["expert1"][1], path, wait=ONLINE)
    t1_ctx, t1 = await signed_in(browser, server.url, users["teacher1"][1], path, wait=ONLINE, locale="zh-CN")
    t2_ctx, t2 = await signed_in(browser, link.url, users["teacher2"][1], path, wait=ONLINE)
    pages = (org, exp, t1, t2)
    for p in pages:
        await p.wait_for_function("document.querySelector('#agenda').children.length === 4", timeout=10_000)

    # who sees which controls
    assert await org.is_visible("#host-controls") and await exp.is_hidden("#host-controls")
    assert await exp.is_visible("#mod-desk") and await t2.is_hidden("#mod-desk") and await t1.is_hidden("#mod-desk")
    assert await t1.inner_text("#title") == "《背影》课例研讨 <b>全国</b>"  # a title is text, never markup
    assert await t1.inner_text("#state") == "未开始" and await t2.inner_text("#state") == "scheduled"
    assert "距开始" in await t1.inner_text("#countdown") and "starts in" in await t2.inner_text("#countdown")
    assert await t1.inner_text("#lang") == "English"  # the switch offers the other language

    # lobby, then live: the lesson display closes chat for teachers
    await org.click("button[data-cmd='activity.open_lobby']")
    await t2.wait_for_function(text_has("#state", "lobby"), timeout=10_000)
    await org.click("button[data-cmd='activity.start']")
    for p in (t1, t2, exp):
        await p.wait_for_function("document.querySelector('#agenda li.current') !== null", timeout=10_000)
    assert await t1.inner_text("#state") == "进行中"
    assert await t2.is_hidden("#chat-form") and await t2.is_visible("#chat-closed")
    await org.click("button[data-cmd='activity.extend_phase']")  # the lesson runs long
    await t2.wait_for_function(text_has("#agenda li.current", "45 min"), timeout=10_000)

    # discussion: chat for everyone, a pin, a reply
    await org.click("button[data-cmd='activity.next_phase']")
    await t2.wait_for_function(text_has("#agenda li.current", "互动研讨"), timeout=10_000)
    await t2.wait_for_selector("#chat-form:not([hidden])")
    await t1.fill("#chat-input", "父亲的背影写得真好 <img src=x onerror=alert(1)>")
    await t1.press("#chat-input", "Enter")
    await exp.wait_for_function(text_has("#chat", "父亲的背影写得真好"), timeout=10_000)
    assert await exp.locator("#chat img").count() == 0  # user text stays text
    await exp.locator("#chat li .msg-more").first.click()  # a message's tools are behind its ⋯ button
    await exp.locator("#chat li").first.get_by_role("button", name="Pin").click()
    await t2.wait_for_function(text_has("#pinned", "父亲的背影写得真好"), timeout=10_000)

    # teacher2's network drops; the discussion goes on; it comes back with everything once
    link.cut()
    await t2.wait_for_selector("#conn:not(.online)", timeout=10_000)
    for i in range(3):
        await t1.wait_for_timeout(1_100)  # the room allows one post a second per teacher
        await t1.fill("#chat-input", f"断线期间的发言 {i}")
        await t1.press("#chat-input", "Enter")
        await t1.wait_for_function(text_has("#chat", f"断线期间的发言 {i}"), timeout=10_000)
    link.restore()
    await t2.wait_for_selector(ONLINE, timeout=30_000)
    await t2.wait_for_function(text_has("#chat", "断线期间的发言 2"), timeout=15_000)
    lines = await t2.locator("#chat li").all_inner_texts()
    for i in range(3):
        assert sum(f"断线期间的发言 {i}" in line for line in lines) == 1, lines  # none lost, none doubled

    # pre-moderation: a teacher's message waits at the desk until the expert approves it
    await exp.check("#premod")
    await t2.wait_for_function(text_has("#chat-mode", "pre-moderated"), timeout=10_000)
    await t2.fill("#chat-input", "想请教专家一个问题")
    await t2.press("#chat-input", "Enter")
    await t2.wait_for_function(text_has("#chat-status", "approves"), timeout=10_000)  # said by the chat box
    await exp.wait_for_function(text_has("#held", "想请教专家一个问题"), timeout=10_000)
    assert "想请教专家一个问题" not in await t1.inner_text("#chat")
    await exp.locator("#held li").first.get_by_role("button", name="Approve").click()
    await t1.wait_for_function(text_has("#chat", "想请教专家一个问题"), timeout=10_000)
    await exp.uncheck("#premod")

    # a question, upvoted by the other teacher, answered by the expert
    await t1.fill("#ask-input", "如何引导学生体会朴实语言中的深情?")
    await t1.press("#ask-input", "Enter")
    await t2.wait_for_selector("#questions li", timeout=10_000)
    await t2.click("#questions li button.vote")
    await t2.wait_for_function("document.querySelector('#questions li button.vote').getAttribute('aria-pressed') === 'true'")
    await t1.wait_for_function(text_has("#questions li button.vote", "1"), timeout=10_000)
    await exp.click("#questions li button.q-answer")
    await exp.fill("#questions li form input", "抓住细节描写, 让学生朗读体会")
    await exp.press("#questions li form input", "Enter")
    await t2.wait_for_function(text_has("#questions .answer", "抓住细节描写"), timeout=10_000)

    # a raised hand reaches the expert's queue; the expert invites the teacher on stage
    await t2.click("#hand")
    await t2.wait_for_function(text_has("#hand-status", "Hand raised"), timeout=10_000)
    await exp.wait_for_function(text_has("#hand-queue", "Teacher2"), timeout=10_000)
    await shot(exp, "activity-room-expert")
    await exp.locator("#hand-queue li").first.get_by_role("button", name="Invite on stage").click()
    await exp.wait_for_function("document.querySelectorAll('#hand-queue li').length === 0", timeout=10_000)
    await t2.wait_for_function("document.querySelector('#hand').getAttribute('aria-pressed') === 'false'", timeout=10_000)
    await t2.wait_for_selector(".stage-invite:not([hidden])", timeout=10_000)  # asked on stage; says no
    await t2.click(".stage-decline")
    await exp.wait_for_function(text_has("#desk-note", "Teacher2 declined the invitation"), timeout=10_000)

    # expert guidance, then online interaction: a poll everyone answers, results shown
    await org.click("button[data-cmd='activity.next_phase']")
    await t1.wait_for_function(text_has("#agenda li.current", "专家点评"), timeout=10_000)
    await org.click("button[data-cmd='activity.next_phase']")
    await exp.wait_for_selector("#poll-form:not([hidden])", timeout=10_000)
    await exp.fill("#poll-form input[name=question]", "本课最值得借鉴的是?")
    await exp.fill("#poll-form textarea[name=options]", "细节描写\n情感朗读\n板书设计")
    await exp.click("#poll-form button[type=submit]")
    for p in (t1, t2):
        await p.wait_for_selector("#poll:not([hidden]) #poll-options button", timeout=10_000)
    await t1.locator("#poll-options button").nth(0).click()
    await t2.locator("#poll-options button").nth(0).click()
    await t1.wait_for_function("document.querySelector('#poll-options button').getAttribute('aria-pressed') === 'true'")
    await exp.wait_for_function(text_has("#poll-live", "2 / 0 / 0"), timeout=10_000)  # live counts at the desk
    assert await t2.inner_text("#poll-options") == "细节描写\n情感朗读\n板书设计"  # no counts before they are shown
    await exp.click("#poll-show")
    await t2.wait_for_function(text_has("#poll-options", "细节描写 · 2"), timeout=10_000)
    await exp.click("#poll-close")
    await t1.wait_for_function("document.querySelector('#poll-options button').disabled", timeout=10_000)
    await shot(t1, "activity-room-teacher-zh")
    await shot(t2, "activity-room-teacher")

    # reactions travel as per-second totals
    await t1.click("#reactions button[data-kind=clap]")
    await t2.wait_for_function("Number(document.querySelector(\"#reactions button[data-kind=clap] .n\").textContent) >= 1",
                               timeout=10_000)

    # the end: everyone is offered the replay
    org.once("dialog", lambda d: d.accept())
    await org.click("button[data-cmd='activity.end']")
    for p in (t1, t2):
        await p.wait_for_selector("#ended-links:not([hidden])", timeout=10_000)
    assert await t2.get_attribute("#replay-link", "href") == f"/activities/{aid}/replay"
    for ctx in (org_ctx, exp_ctx, t1_ctx, t2_ctx):
        await ctx.close()
    await link.close()


async def test_the_room_at_a_phones_width_and_by_keyboard(browser, server, users):
    aid = await schedule(server, users)
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await host.ok("activity.open_lobby", activity_id=aid)  # questions open with the lobby
    await host.close()
    ctx, page = await signed_in(browser, server.url, users["teacher1"][1], f"/activities/{aid}", wait=ONLINE,
                                viewport={"width": 390, "height": 844}, is_mobile=True)
    await page.wait_for_function("document.querySelector('#agenda').children.length === 4", timeout=10_000)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at a phone's width ({width}px)"
    # the ask box is reachable with the keyboard and a question goes in with Enter
    await page.focus("#ask-input")
    await page.keyboard.type("手机上也能提问吗?")
    await page.keyboard.press("Enter")
    await page.wait_for_function(text_has("#questions", "手机上也能提问吗?"), timeout=10_000)
    await shot(page, "activity-room-phone")
    # the header's switch changes the interface language, and it stays chosen
    assert await page.inner_text("#state") == "lobby" and await page.inner_text("#lang") == "中文"
    await page.click("#lang")
    await page.wait_for_function("document.querySelector('#state').innerText === '候场中'", timeout=10_000)
    assert await page.get_attribute("html", "lang") == "zh-CN" and await page.inner_text("#lang") == "English"
    await page.reload()
    await page.wait_for_function("document.querySelector('#state').innerText === '候场中'", timeout=10_000)
    await ctx.close()
