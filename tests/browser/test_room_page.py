"""The activity room as teachers, experts and organizers meet it (issue 11, the room's points), in real
chromium against the real server, at a desktop's width (1280×850) and a phone's (390×844), in Chinese
and English:

- the room says what the activity is before and during it (description, time in the activity's zone
  to the second, subject and grade, level, experts; the phase's time elapsed and remaining), and
  registering from the room says it worked;
- the organizer goes from the room to editing the activity and its registrations;
- people in the activity carry their part as a badge (专家 / Expert), never inside their name, and the
  page shows no internal node id;
- a refusal is shown in words by what caused it (the chat box, the question box) and clears when its
  cause ends (slow mode switched off, the connection back), with what was typed kept;
- an answered question offers no upvote;
- a poll opening and a question in focus are banners at the top of the room, in sight wherever the
  teacher has scrolled, that take them to it by keyboard;
- moderating a message works by touch and keyboard (one "⋯" button per message), a question keeps its
  text wide beside the moderators' tools, and staff are not offered a hand to raise.

Screenshots land in test-artifacts/room-*.png."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx

import harness
from browsing import shot, signed_in

DESKTOP = {"viewport": {"width": 1280, "height": 850}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
ONLINE = "#conn.online"


def text_has(selector: str, text: str) -> str:
    return f"(document.querySelector({selector!r}) || {{innerText: ''}}).innerText.includes({text!r})"


def in_view(selector: str) -> str:
    """A predicate: the element is shown and wholly inside the window, as the page is scrolled now."""
    return (f"(() => {{ const e = document.querySelector({selector!r}); if (!e || !e.offsetParent && "
            f"getComputedStyle(e).position !== 'fixed') return false; const r = e.getBoundingClientRect(); "
            f"return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; }})()")


async def schedule(server, users, title: str, minutes_ahead: float = 10, **extra) -> int:
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=minutes_ahead)
    body = {"title": title, "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(), "experts": [users["expert1"][0]],
            "agenda": [{"kind": "discussion", "title": "互动研讨", "minutes": 30},
                       {"kind": "online_interaction", "title": "在线互动", "minutes": 20}], **extra}
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json=body)
        assert r.status_code == 201, r.text
        return r.json()["id"]


async def host(server, users, who: str = "org1") -> harness.WsClient:
    return await harness.WsClient(server.ws_url).open(users[who][1])


async def room(browser, server, users, who, aid, locale="en-US", base_url=None, **kw):
    context, page = await signed_in(browser, base_url or server.url, users[who][1], f"/activities/{aid}",
                                    locale=locale, wait=ONLINE, **kw)
    await page.wait_for_function("document.querySelector('#agenda').children.length > 0", timeout=10_000)
    page.on("dialog", lambda d: d.dismiss())
    return context, page


async def test_the_room_says_what_the_activity_is_and_registering_confirms_itself(browser, server, users):
    description = "八年级《一次函数》课例研讨：观课、议课与专家点评。\n请提前阅读教学设计。"
    aid = await schedule(server, users, "《一次函数》课例研讨", visibility="registered", registration="open",
                         description=description, subject="math", grade="8", level="province")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get(f"/api/activities/{aid}", headers={"Authorization": f"Bearer {users['org1'][1]}"})
        start = datetime.fromisoformat(r.json()["starts_at"])
    shanghai = start.astimezone(ZoneInfo("Asia/Shanghai"))
    # a teacher not yet registered, in Chinese: what the activity is, then registration
    ctx, page = await signed_in(browser, server.url, users["teacher2"][1], f"/activities/{aid}", locale="zh-CN",
                                wait="#register:not([hidden])", **DESKTOP)
    assert await page.inner_text("#title") == "《一次函数》课例研讨"
    assert await page.inner_text("#level") == "省级"
    assert "数学" in await page.inner_text("#subject-grade")
    when = await page.inner_text("#fact-time")
    assert shanghai.strftime("%H:%M:%S") in when and "北京时间" in when, when  # the activity's zone, to the second
    assert await page.inner_text("#description") == description
    assert await page.inner_text("#fact-organizer") == "Org1"  # who runs it and who guides, by name
    assert await page.inner_text("#fact-experts") == "Expert1"
    assert "距开始" in await page.inner_text("#countdown")
    await shot(page, "room-about-before-registering-zh")
    await page.click("#register-button")
    await page.wait_for_selector("#chat-box:not([hidden])", timeout=10_000)
    assert "报名成功" in await page.inner_text("#status")  # registering confirms itself
    assert await page.is_hidden("#register") and await page.is_hidden("#notice")
    await ctx.close()

    # live: the phase, its time elapsed and remaining, for a teacher in English on a phone
    h = await host(server, users)
    await h.ok("activity.start", activity_id=aid)
    await h.close()
    ctx, page = await room(browser, server, users, "teacher2", aid, **PHONE)
    await page.wait_for_function(text_has("#phase-clock", "left"), timeout=10_000)
    assert "Now: 互动研讨 (phase 1 of 2)" in await page.inner_text("#phase-now")
    clock = await page.inner_text("#phase-clock")
    assert re.search(r"0:\d\d elapsed, 29:\d\d left|1:\d\d elapsed, 2\d:\d\d left", clock), clock
    assert await page.inner_text("#level") == "Province" and "Maths" in await page.inner_text("#subject-grade")
    assert await page.inner_text("#fact-experts") == "Expert1"  # from the snapshot, inside the room
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the room scrolls sideways at a phone's width ({width}px)"
    await shot(page, "room-about-live-en-phone")
    assert server.name not in await page.inner_text("body")  # no internal node id on the room page
    await ctx.close()


async def test_the_organizer_goes_from_the_room_to_editing_it(browser, server, users):
    aid = await schedule(server, users, "编辑入口")
    ctx, page = await room(browser, server, users, "org1", aid, locale="zh-CN", **DESKTOP)
    link = page.locator("#edit-link")
    assert await link.is_visible() and await link.inner_text() == "编辑活动与报名"
    await shot(page, "room-organizer-zh")
    await link.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/activities/{aid}/edit", timeout=10_000)
    await page.wait_for_selector("#schedule-form:not([hidden])", timeout=10_000)
    await ctx.close()
    # a teacher and the expert are not offered it
    for who in ("teacher1", "expert1"):
        ctx, page = await room(browser, server, users, who, aid, **DESKTOP)
        assert await page.is_hidden("#edit-link")
        await ctx.close()


async def test_people_carry_their_part_as_a_badge_and_staff_raise_no_hand(browser, server, users):
    aid = await schedule(server, users, "角色标记", minutes_ahead=1)
    h = await host(server, users)
    await h.ok("activity.start", activity_id=aid)
    expert = await host(server, users, "expert1")
    await expert.ok("chat.post", activity_id=aid, body="大家好，我是本次活动的点评专家。")
    zh_ctx, zh = await room(browser, server, users, "teacher1", aid, locale="zh-CN", **DESKTOP)
    en_ctx, en = await room(browser, server, users, "teacher2", aid, **DESKTOP)
    exp_ctx, exp = await room(browser, server, users, "expert1", aid, **DESKTOP)
    try:
        for page, badge in ((zh, "专家"), (en, "Expert")):
            await page.wait_for_selector("#chat li.msg", timeout=10_000)
            msg = page.locator("#chat li.msg").first
            assert await msg.locator(".who-name").inner_text() == "Expert1"  # the name alone
            assert await msg.locator(".badge.part").inner_text() == badge
        # a teacher is offered a hand in a phase that takes hands; the expert and the organizer are not
        await h.ok("activity.next_phase", activity_id=aid)
        await zh.wait_for_function(text_has("#phase-now", "在线互动"), timeout=10_000)
        assert await zh.is_visible("#hand") and await zh.inner_text("#hand") == "✋ 举手"
        await exp.wait_for_function(text_has("#phase-now", "在线互动"), timeout=10_000)
        assert await exp.is_hidden("#hand") and await exp.is_visible("#reactions")
        await zh.click("#hand")
        await zh.wait_for_function(text_has("#hand-status", "已举手，排第 1 位"), timeout=10_000)  # full-width comma
        await shot(zh, "room-badges-zh")
    finally:
        await h.close()
        await expert.close()
        for ctx in (zh_ctx, en_ctx, exp_ctx):
            await ctx.close()


async def test_refusals_show_by_their_cause_and_clear_when_it_ends(browser, server, users):
    aid = await schedule(server, users, "错误就近显示", minutes_ahead=1)
    h = await host(server, users)
    await h.ok("activity.start", activity_id=aid)
    expert = await host(server, users, "expert1")
    await expert.ok("chat.slow_mode", activity_id=aid, seconds=120)
    link = await harness.CuttableProxy(server.port).start()  # the Chinese teacher's network
    zh_ctx, zh = await room(browser, server, users, "teacher1", aid, locale="zh-CN", base_url=link.url, **DESKTOP)
    en_ctx, en = await room(browser, server, users, "teacher2", aid, **PHONE)
    try:
        await zh.wait_for_function(text_has("#chat-mode", "慢速模式 120 秒"), timeout=10_000)
        for page in (zh, en):
            await page.fill("#chat-input", "第一条发言")
            await page.press("#chat-input", "Enter")
            await page.wait_for_function(text_has("#chat", "第一条发言"), timeout=10_000)
            await page.fill("#chat-input", "第二条，太快了")
            await page.press("#chat-input", "Enter")
            await page.wait_for_selector("#chat-error:not([hidden])", timeout=10_000)
        # in words, in the page's language, by the chat box; not in the room's line under the title
        zh_error = await zh.inner_text("#chat-error")
        assert "慢速模式" in zh_error and not re.search(r"[A-Za-z]", zh_error), zh_error
        assert "Slow mode" in await en.inner_text("#chat-error")
        assert await zh.is_hidden("#notice") and await zh.input_value("#chat-input") == "第二条，太快了"
        await shot(zh, "room-error-by-the-chat-box-zh")
        await shot(en, "room-error-by-the-chat-box-en-phone")
        # slow mode switched off: the refusal goes, and the notice of slow mode with it
        await expert.ok("chat.slow_mode", activity_id=aid, seconds=0)
        for page in (zh, en):
            await page.wait_for_selector("#chat-error", state="hidden", timeout=10_000)
            assert await page.inner_text("#chat-mode") == ""

        # the network drops: a question refused by the question box, a message by the chat box, what was
        # typed kept; the connection back clears both and they go in
        link.cut()
        await zh.wait_for_selector("#conn:not(.online)", timeout=10_000)
        await zh.fill("#ask-input", "断网时提的问题？")
        await zh.press("#ask-input", "Enter")
        await zh.wait_for_selector("#ask-error:not([hidden])", timeout=5_000)
        assert "连接断开" in await zh.inner_text("#ask-error")
        await zh.fill("#chat-input", "断网时写的话")
        await zh.press("#chat-input", "Enter")
        await zh.wait_for_selector("#chat-error:not([hidden])", timeout=5_000)
        await shot(zh, "room-offline-errors-zh")
        link.restore()
        await zh.wait_for_selector(ONLINE, timeout=30_000)
        await zh.wait_for_selector("#ask-error", state="hidden", timeout=10_000)
        await zh.wait_for_selector("#chat-error", state="hidden", timeout=10_000)
        assert await zh.input_value("#ask-input") == "断网时提的问题？"
        assert await zh.input_value("#chat-input") == "断网时写的话"
        await zh.press("#ask-input", "Enter")
        await en.wait_for_function(text_has("#questions", "断网时提的问题？"), timeout=10_000)

        # a mute shows by the chat box and goes when the moderator lifts it
        await expert.ok("chat.mute", activity_id=aid, user_id=users["teacher1"][0], minutes=10)
        await zh.wait_for_function(text_has("#chat-error", "禁言"), timeout=10_000)
        await expert.ok("chat.unmute", activity_id=aid, user_id=users["teacher1"][0])
        await zh.wait_for_selector("#chat-error", state="hidden", timeout=10_000)
    finally:
        await h.close()
        await expert.close()
        for ctx in (zh_ctx, en_ctx):
            await ctx.close()
        await link.close()


async def test_an_answered_question_offers_no_upvote(browser, server, users):
    aid = await schedule(server, users, "已回答的问题", minutes_ahead=1)
    h = await host(server, users)
    await h.ok("activity.start", activity_id=aid)
    t1 = await host(server, users, "teacher1")
    open_q = (await t1.ok("qa.ask", activity_id=aid, body="还没回答的问题"))["question"]["id"]
    done_q = (await t1.ok("qa.ask", activity_id=aid, body="已经回答的问题"))["question"]["id"]
    expert = await host(server, users, "expert1")
    await expert.ok("qa.answer", activity_id=aid, question_id=done_q, text="答案在课标里。")
    ctx, page = await room(browser, server, users, "teacher2", aid, locale="zh-CN", **DESKTOP)
    try:
        await page.wait_for_selector(f"#q-{done_q} .answer", timeout=10_000)
        assert await page.locator(f"#q-{open_q} button.vote").count() == 1
        assert await page.locator(f"#q-{done_q} button").count() == 0  # nothing to press on an answered question
        assert await page.inner_text(f"#q-{done_q} .votes") == "▲ 0"
        assert "已回答" in await page.inner_text(f"#q-{done_q}")
        # answered while the teacher looks at it: the ▲ goes
        await expert.ok("qa.answer", activity_id=aid, question_id=open_q, live=True)
        await page.wait_for_selector(f"#q-{open_q} button.vote", state="detached", timeout=10_000)
        await shot(page, "room-answered-questions-zh")
    finally:
        for c in (h, t1, expert):
            await c.close()
        await ctx.close()


async def test_a_poll_and_a_question_in_focus_are_banners_in_sight(browser, server, users):
    aid = await schedule(server, users, "投票与聚焦提醒", minutes_ahead=1,
                         agenda=[{"kind": "online_interaction", "title": "在线互动", "minutes": 30}])
    h = await host(server, users)
    await h.ok("activity.start", activity_id=aid)
    t1 = await host(server, users, "teacher1")
    for i in range(12):  # a discussion long enough that the page scrolls
        await t1.ok("chat.post", activity_id=aid, body=f"讨论发言 {i}：" + "导入环节设计得很自然。" * 3)
        await t1.ok("qa.ask", activity_id=aid, body=f"问题 {i}：如何把握一次函数的概念？")
        await asyncio.sleep(1.05)  # the room allows one post a second per teacher
    expert = await host(server, users, "expert1")
    desk_ctx, desk = await room(browser, server, users, "expert1", aid, **DESKTOP)
    zh_ctx, zh = await room(browser, server, users, "teacher2", aid, locale="zh-CN", **DESKTOP)
    en_ctx, en = await room(browser, server, users, "teacher1", aid, **PHONE)
    try:
        for page in (zh, en):
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # reading the bottom of the room
        # the expert opens a poll from the desk: every teacher sees it where they are looking
        await desk.fill("#poll-form input[name=question]", "本课最值得借鉴的是？")
        await desk.fill("#poll-form textarea[name=options]", "情境导入\n变式练习\n板书设计")
        await desk.click("#poll-form button[type=submit]")
        for page in (zh, en):
            await page.wait_for_selector("#alerts .banner.poll", timeout=10_000)
            assert await page.evaluate(in_view("#alerts .banner.poll")), "the poll's banner is out of sight"
        assert "本课最值得借鉴的是？" in await zh.inner_text("#alerts .banner.poll")
        assert await desk.locator("#alerts .banner.poll").count() == 0  # who opened it needs no banner
        await shot(zh, "room-poll-banner-zh")
        await en.screenshot(path=str(harness.ARTIFACTS / "room-poll-banner-en-phone.png"))  # the screen as seen
        # by keyboard: from the top of the page the banner is a few Tabs away (right after the header),
        # it takes the teacher to the poll, Enter votes, and the banner goes
        await zh.evaluate("document.activeElement && document.activeElement.blur()")
        for presses in range(1, 13):
            await zh.keyboard.press("Tab")
            if await zh.evaluate("document.activeElement.classList.contains('banner-go')"):
                break
        else:
            raise AssertionError("the poll's banner is not reached with Tab from the top of the page")
        await zh.keyboard.press("Enter")
        await zh.wait_for_function("document.activeElement && document.activeElement.closest('#poll-options') !== null")
        assert await zh.evaluate(in_view("#poll-options"))
        await zh.keyboard.press("Enter")
        await zh.wait_for_selector("#alerts .banner.poll", state="detached", timeout=10_000)
        assert await zh.get_attribute("#poll-options button >> nth=0", "aria-pressed") == "true"
        # on the phone, closing it with × keeps it closed
        await en.click("#alerts .banner.poll .banner-close")
        assert await en.locator("#alerts .banner.poll").count() == 0

        # the expert puts a question in focus: a banner that leads to it
        listed = await expert.ok("qa.list", activity_id=aid)
        target = listed["questions"][-1]
        await expert.ok("qa.spotlight", activity_id=aid, question_id=target["id"])
        for page in (zh, en):
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            await page.wait_for_selector("#alerts .banner.spotlight", timeout=10_000)
            assert await page.evaluate(in_view("#alerts .banner.spotlight"))
            assert target["body"] in await page.inner_text("#alerts .banner.spotlight")
        await en.screenshot(path=str(harness.ARTIFACTS / "room-spotlight-banner-en-phone.png"))
        await en.locator("#alerts .banner.spotlight .banner-go").focus()
        await en.keyboard.press("Enter")
        await en.wait_for_function(f"document.activeElement && document.activeElement.id === 'q-{target['id']}'")
        assert await en.evaluate(in_view(f"#q-{target['id']} .q-body"))
        await expert.ok("qa.spotlight_off", activity_id=aid)
        await zh.wait_for_selector("#alerts .banner.spotlight", state="detached", timeout=10_000)
    finally:
        for c in (h, t1, expert):
            await c.close()
        for ctx in (desk_ctx, zh_ctx, en_ctx):
            await ctx.close()


async def test_moderating_by_touch_and_keyboard(browser, server, users):
    aid = await schedule(server, users, "触屏与键盘主持", minutes_ahead=1)
    h = await host(server, users)
    await h.ok("activity.start", activity_id=aid)
    t1 = await host(server, users, "teacher1")
    await t1.ok("chat.post", activity_id=aid, body="请专家看看这个问题")
    long_q = "在“一次函数”概念教学中，怎样让学生从具体情境中抽象出变量之间的对应关系，而不是记住 y=kx+b 的形式？"
    qid = (await t1.ok("qa.ask", activity_id=aid, body=long_q))["question"]["id"]
    phone_ctx, phone = await room(browser, server, users, "expert1", aid, locale="zh-CN", **PHONE)
    desk_ctx, desk = await room(browser, server, users, "expert1", aid, **DESKTOP)
    try:
        # touch: each message has one real button for its tools; tapping it shows pin, hide and mute
        await phone.wait_for_selector("#chat li.msg .msg-more", timeout=10_000)
        more = phone.locator("#chat li.msg").first.locator(".msg-more")
        assert await more.is_visible() and await more.get_attribute("aria-expanded") == "false"
        await more.tap()
        tools = phone.locator("#chat li.msg").first.locator(".msg-tools")
        assert [await b.inner_text() for b in await tools.locator("button").all()] == ["回复", "置顶", "隐藏", "禁言 10 分钟"]
        await shot(phone, "room-moderation-phone-zh")
        await tools.get_by_role("button", name="置顶").tap()
        await phone.wait_for_function(text_has("#pinned", "请专家看看这个问题"), timeout=10_000)

        # keyboard: Tab reaches "⋯", Enter opens it with the focus on the first tool, Escape closes it
        await desk.wait_for_selector("#chat li.msg .msg-more", timeout=10_000)
        await desk.focus("#chat-input")
        await desk.keyboard.press("Shift+Tab")  # from the chat box back to the last message's "⋯"
        assert await desk.evaluate("document.activeElement.classList.contains('msg-more')")
        await desk.keyboard.press("Enter")
        assert await desk.evaluate("document.activeElement.closest('.msg-tools') !== null")
        await desk.keyboard.press("Escape")
        assert await desk.evaluate("document.activeElement.classList.contains('msg-more')")
        assert await desk.locator("#chat li.msg .msg-tools").first.is_hidden()

        # a question keeps its text wide beside the moderators' tools
        for page in (phone, desk):
            await page.wait_for_selector(f"#q-{qid} .q-tools button", timeout=10_000)
            text_w = await page.eval_on_selector(f"#q-{qid} .q-body", "e => e.getBoundingClientRect().width")
            item_w = await page.eval_on_selector(f"#q-{qid}", "e => e.getBoundingClientRect().width")
            assert text_w >= 0.7 * item_w, (text_w, item_w)
            tools_visible = await page.locator(f"#q-{qid} .q-tools button").count()
            assert tools_visible == 4
        await shot(desk, "room-moderation-desktop-en")
        # and the tools work by keyboard too: answered live from the keyboard
        await desk.focus(f"#q-{qid} .q-live")
        await desk.keyboard.press("Enter")
        await desk.wait_for_selector(f"#q-{qid} .answer", timeout=10_000)
    finally:
        await h.close()
        await t1.close()
        for ctx in (phone_ctx, desk_ctx):
            await ctx.close()
