"""The organizer's and the teacher's pages in a real browser: an activity scheduled through the form's
agenda builder and stored as built; a teacher finding it by a filter that lives in the URL, registering,
downloading it for their calendar; the registration queue and invitation link on the edit page; then the
activity run from Python, its attendance report (rows, the curve, CSV) and the teacher's learning record.

The credit rule is shrunk (a share of the scheduled hour a test can reach) so that one teacher earns
credit and one who left early does not."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

import harness
from browsing import shot, signed_in

CREDIT_RATIO = 0.002  # of a one-hour schedule: 7.2 s present earns credit
ZONE = "Asia/Shanghai"
XSS = "<img src=x onerror=alert(1)>"
TITLE = "函数的概念 " + XSS + " 课例研讨"
state: dict = {}


@pytest.fixture(scope="module")
async def server(database_url, users):
    if database_url.startswith("postgresql"):
        pytest.skip("the browser tests need one database kind; storage is covered on both elsewhere")
    s = harness.Server(database_url, credit_ratio=CREDIT_RATIO).start()
    yield s
    s.cleanup()


def as_(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def people(server, users):
    """The suite's accounts, and a teacher whose name and school are markup-looking text."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/users", headers=as_(users["admin1"][1]), json={
            "username": "wang", "password": "password-wang-123", "display_name": "王老师 " + XSS,
            "school": "杭州第一中学 " + XSS, "region": "浙江", "role": "teacher"})
        assert r.status_code == 201, r.text
        wang = r.json()["id"]
    return {**users, "wang": (wang, harness.token_for(wang, "teacher", "王老师"))}


async def no_img(page):
    assert await page.locator("main img").count() == 0


async def test_the_organizer_builds_an_agenda_and_it_is_stored_as_built(browser, server, people):
    tomorrow = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).date()
    day = tomorrow.isoformat()
    ctx, page = await signed_in(browser, server.url, people["org1"][1], "/activities/new",
                                wait="#schedule-form:not([hidden])", timezone_id=ZONE)
    await page.wait_for_selector("#pick-experts select option:nth-child(2)", state="attached", timeout=10_000)
    await page.fill("#s-title", TITLE)
    await page.fill("#s-description", "两位老师同课异构, 专家点评")
    await page.fill("#s-subject", "数学")
    await page.fill("#s-grade", "八年级")
    await page.select_option("#s-level", "province")
    await page.fill("#s-region", "浙江")
    await page.fill("#s-starts_at", f"{day}T14:00")
    await page.fill("#s-ends_at", f"{day}T13:00")  # before the start: the API will say so
    await page.fill("#s-capacity", "200")
    await page.select_option("#s-visibility", "registered")
    await page.select_option("#s-registration", "open")
    await page.select_option("#pick-experts select", str(people["expert1"][0]))
    await page.click("#pick-experts button.pick")
    await page.wait_for_selector(f"#pick-experts li.chip[data-user-id='{people['expert1'][0]}']")

    for kind, title, minutes in [("lesson_display", "课例展示", 20), ("discussion", "分组研讨", 15),
                                 ("expert_guidance", "专家点评", 15), ("online_interaction", "互动答疑", 10)]:
        await page.select_option("#new-kind", kind)
        await page.click("#add-phase")
        last = page.locator("#phases li.phase").last
        assert await last.get_attribute("data-kind") == kind
        await last.locator(".ph-title").fill(title)
        await last.locator(".ph-minutes").fill(str(minutes))
    phases = page.locator("#phases li.phase")
    assert await phases.count() == 4
    # the kinds' defaults are prefilled: a lesson display closes the chat, a discussion opens hands
    assert not await phases.nth(0).locator("[data-perm=chat]").is_checked()
    assert await phases.nth(1).locator("[data-perm=hands]").is_checked()
    assert await phases.nth(3).locator("[data-perm=polls]").is_checked()
    await phases.nth(3).locator("button.up").click()  # the interaction before the expert's guidance
    assert await page.evaluate("document.activeElement.getAttribute('aria-label')") == "Move phase 3 up"
    await phases.nth(1).locator("[data-perm=hands]").uncheck()
    assert [await phases.nth(i).locator(".ph-title").input_value() for i in range(4)] == \
        ["课例展示", "分组研讨", "互动答疑", "专家点评"]

    await page.click("#save")
    await page.wait_for_selector("#form-error:not([hidden])", timeout=10_000)
    assert await page.inner_text("#form-error") == "Ends: the activity must end after it starts"
    assert await page.get_attribute("#s-ends_at", "aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.id") == "s-ends_at"
    await page.fill("#s-ends_at", f"{day}T15:00")
    await page.wait_for_function("document.querySelector('#total').innerText.includes('60 min of 60 min scheduled')")
    await shot(page, "schedule-form")
    await page.click("#save")
    await page.wait_for_url(re.compile(r"/activities/\d+$"), timeout=10_000)
    aid = int(page.url.rstrip("/").rsplit("/", 1)[1])
    state["aid"] = aid
    await page.wait_for_selector("#conn.online", timeout=15_000)  # the organizer looks into the room early
    await page.wait_for_function("document.querySelector('#agenda').children.length === 4", timeout=10_000)
    await ctx.close()

    # in Chinese: a new phase is named in Chinese, and the form's complaint is in Chinese too
    ctx, page = await signed_in(browser, server.url, people["org1"][1], "/activities/new", locale="zh-CN",
                                wait="#schedule-form:not([hidden])")
    await page.select_option("#new-kind", "expert_guidance")
    await page.click("#add-phase")
    assert await page.input_value("#phases li.phase .ph-title") == "专家引领"
    await page.fill("#phases li.phase .ph-minutes", "0")
    await page.fill("#s-title", "零分钟的环节")
    await page.click("#save")
    await page.wait_for_selector("#form-error:not([hidden])", timeout=10_000)
    assert await page.inner_text("#form-error") == "第 1 个环节：分钟数须为 1 到 600 的整数"
    assert await page.get_attribute("#phases li.phase .ph-minutes", "aria-invalid") == "true"
    await shot(page, "schedule-form-zh")
    await ctx.close()

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        a = (await http.get(f"/api/activities/{aid}", headers=as_(people["org1"][1]))).json()
    assert a["title"] == TITLE and a["subject"] == "数学" and a["grade"] == "八年级" and a["level"] == "province"
    assert a["region"] == "浙江" and a["capacity"] == 200 and a["visibility"] == "registered"
    assert a["experts"] == [people["expert1"][0]] and a["hosts"] == [] and a["presenters"] == []
    starts = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 14, tzinfo=ZoneInfo(ZONE))
    assert datetime.fromisoformat(a["starts_at"]) == starts  # sent with the browser's offset (+08:00)
    assert datetime.fromisoformat(a["ends_at"]) == starts + timedelta(hours=1)
    assert [(p["kind"], p["title"], p["minutes"]) for p in a["agenda"]] == [
        ("lesson_display", "课例展示", 20), ("discussion", "分组研讨", 15),
        ("online_interaction", "互动答疑", 10), ("expert_guidance", "专家点评", 15)]
    perms = [{k: p[k] for k in ("chat", "questions", "hands", "polls")} for p in a["agenda"]]
    assert perms == [{"chat": False, "questions": True, "hands": False, "polls": False},
                     {"chat": True, "questions": True, "hands": False, "polls": False},  # hands switched off
                     {"chat": True, "questions": True, "hands": True, "polls": True},
                     {"chat": False, "questions": True, "hands": False, "polls": False}]


async def test_a_teacher_filters_registers_and_takes_it_to_their_calendar(browser, server, people):
    aid = state["aid"]
    start = datetime.now(timezone.utc) + timedelta(days=2)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/activities", headers=as_(people["org1"][1]), json={
            "title": "高中物理 牛顿定律", "subject": "物理", "level": "city", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": [{"kind": "discussion", "minutes": 30}]})
        other = r.json()["id"]

    ctx, page = await signed_in(browser, server.url, people["wang"][1], "/activities",
                                wait=f"#activity-{other}", accept_downloads=True)
    assert await page.locator(f"#activity-{aid}").count() == 1
    await page.fill("#f-subject", "数学")
    await page.click("#filters button[type=submit]")
    await page.wait_for_function(f"!document.querySelector('#activity-{other}')", timeout=10_000)
    assert "subject=%E6%95%B0%E5%AD%A6" in page.url
    await page.reload()  # the filter lives in the URL
    await page.wait_for_selector(f"#activity-{aid}[data-ready]", timeout=15_000)
    assert await page.input_value("#f-subject") == "数学" and await page.locator("#list > li").count() == 1
    item = page.locator(f"#activity-{aid}")
    assert await item.locator("h2 a").inner_text() == TITLE  # text, not markup
    await no_img(page)
    assert await item.locator(".badge.level").inner_text() == "Province"
    assert "数学 · 八年级 · 浙江" in await item.inner_text()
    assert await item.locator(".edit-link").count() == 0  # a teacher does not run it
    await item.locator("button.register").click()
    await page.wait_for_function(
        f"document.querySelector('#activity-{aid} .reg-status').innerText === 'registered'", timeout=10_000)
    assert await item.locator("button.register").count() == 0
    async with page.expect_download(timeout=10_000) as dl:
        await item.locator("button.calendar").click()
    download = await dl.value
    assert download.suggested_filename == f"activity-{aid}.ics"
    ics = open(await download.path(), encoding="utf-8").read()
    assert ics.startswith("BEGIN:VCALENDAR") and "SUMMARY:函数的概念" in ics and "互动答疑" in ics.replace("\r\n ", "")
    await page.wait_for_selector("#calendar-feed:not([hidden])")
    feed = await page.get_attribute("#calendar-feed", "href")
    assert f"/api/users/{people['wang'][0]}/calendar.ics?key=" in feed
    async with httpx.AsyncClient(timeout=10) as http:
        assert f"UID:activity-{aid}@collab" in (await http.get(feed)).text  # registered: in the feed
    await shot(page, "activities-list")
    await ctx.close()

    # at a phone's width, in Chinese: nothing wider than the screen, the controls still there
    ctx, page = await signed_in(browser, server.url, people["teacher2"][1], "/activities?subject=数学",
                                locale="zh-CN", wait=f"#activity-{aid}[data-ready]", viewport={"width": 390, "height": 844})
    assert await page.inner_text("#tab-upcoming") == "即将开始"
    assert await page.locator(f"#activity-{aid} button.register").inner_text() == "报名"
    assert await page.locator(f"#activity-{aid} .badge.level").inner_text() == "省级"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await shot(page, "activities-phone")
    await ctx.close()

    ctx, page = await signed_in(browser, server.url, people["org1"][1], "/activities",
                                wait=f"#activity-{aid}[data-ready]")
    item = page.locator(f"#activity-{aid}")
    assert await item.locator(".edit-link").get_attribute("href") == f"/activities/{aid}/edit"
    assert await item.locator("button.register").count() == 0
    assert await page.is_visible("#schedule-link")
    await ctx.close()


async def test_the_edit_page_decides_registrations_and_makes_invitation_links(browser, server, people):
    start = datetime.now(timezone.utc) + timedelta(days=3)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/activities", headers=as_(people["org1"][1]), json={
            "title": "需审核的活动", "registration": "approval", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "agenda": [{"kind": "lesson_display", "minutes": 45}, {"kind": "discussion", "minutes": 45}]})
        aid = r.json()["id"]
        r = await http.post(f"/api/activities/{aid}/register", headers=as_(people["wang"][1]))
        assert r.json()["status"] == "pending"
    ctx, page = await signed_in(browser, server.url, people["org1"][1], f"/activities/{aid}/edit",
                                wait="#reg-rows tr")
    row = page.locator(f"#reg-rows tr[data-user-id='{people['wang'][0]}']")
    assert await row.locator(".reg-name").inner_text() == "王老师 " + XSS
    await no_img(page)
    assert await page.locator("#phases li.phase").count() == 2 and await page.is_hidden("#invite")
    await row.locator("button.approve").click()
    await page.wait_for_function(
        f"document.querySelector(\"#reg-rows tr[data-user-id='{people['wang'][0]}'] .badge\").innerText === 'approved'")
    await shot(page, "schedule-edit")
    await page.select_option("#s-visibility", "invited")
    await page.click("#save")
    await page.wait_for_url(f"**/activities/{aid}", timeout=10_000)
    await page.goto(f"{server.url}/activities/{aid}/edit")
    await page.wait_for_selector("#invite:not([hidden])", timeout=10_000)
    await page.click("#make-invite")
    await page.wait_for_selector("#invite-out:not([hidden])", timeout=10_000)
    assert f"/activities/{aid}?invite=" in await page.input_value("#invite-url")
    page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await page.click("#cancel-activity")
    await page.wait_for_selector("#cancelled:not([hidden])", timeout=10_000)
    await ctx.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        a = (await http.get(f"/api/activities/{aid}", headers=as_(people["org1"][1]))).json()
        regs = (await http.get(f"/api/activities/{aid}/registrations", headers=as_(people["org1"][1]))).json()
    assert a["visibility"] == "invited" and a["state"] == "cancelled"
    assert [(r["user_id"], r["status"]) for r in regs["registrations"]] == [(people["wang"][0], "approved")]


async def join(server, token, aid):
    ws = await harness.WsClient(server.ws_url).open(token)
    snap = await ws.ok("activity.snapshot", activity_id=aid)
    await ws.ok("subscribe", channel=snap["channel"], since=snap["since"])
    return ws


async def test_after_the_activity_the_attendance_report_and_the_learning_record(browser, server, people):
    aid = state["aid"]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.post(f"/api/activities/{aid}/register", headers=as_(people["teacher1"][1]))).json()["status"] == "approved"
    host = await harness.WsClient(server.ws_url).open(people["org1"][1])
    await host.ok("activity.open_lobby", activity_id=aid)
    await host.ok("activity.start", activity_id=aid)
    t1 = await join(server, people["teacher1"][1], aid)
    await asyncio.sleep(1.5)
    wang = await join(server, people["wang"][1], aid)
    await asyncio.sleep(2.5)
    await wang.close()  # leaves early: no credit
    await host.ok("activity.next_phase", activity_id=aid)
    await asyncio.sleep(7)
    await t1.close()
    await host.ok("activity.end", activity_id=aid)
    await host.close()

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        deadline = time.monotonic() + 10
        while True:  # the node writes its intervals within a second
            report = (await http.get(f"/api/activities/{aid}/attendance", headers=as_(people["org1"][1]))).json()
            seen = {r["user_id"] for r in report["attendees"]}
            if ({people["teacher1"][0], people["wang"][0]} <= seen and all(r["last_leave"] for r in report["attendees"])) \
                    or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        learning = (await http.get("/api/me/learning", headers=as_(people["teacher1"][1]))).json()
    rows = {r["user_id"]: r for r in report["attendees"]}
    assert rows[people["teacher1"][0]]["credited"] and not rows[people["wang"][0]]["credited"]
    assert set(rows) == {people["teacher1"][0], people["wang"][0]}  # the teachers: staff are apart
    staff = {r["user_id"]: r for r in report["staff"]}
    if people["org1"][0] in staff:  # in the room before it went live: there, under their role, no minutes
        assert staff[people["org1"][0]]["seconds"] == 0 and staff[people["org1"][0]]["credited"] is None
        assert staff[people["org1"][0]]["role"] == "organizer"
    n = len(rows)
    assert report["timeline"] and max(p["present"] for p in report["timeline"]) == 2

    ctx, page = await signed_in(browser, server.url, people["org1"][1], f"/activities/{aid}/attendance",
                                wait="#rows tr", accept_downloads=True)
    assert await page.locator("#rows tr").count() == n
    assert await page.inner_text("#act-title") == TITLE
    await no_img(page)
    assert await page.inner_text("#t-attendees") == str(n)
    assert await page.inner_text("#t-credited") == f"1 ({round(100 / n)}%)"
    await page.click("#sort-minutes")  # most minutes first
    first = page.locator("#rows tr").first
    assert await first.get_attribute("data-user-id") == str(people["teacher1"][0])
    assert await first.locator(".credited").inner_text() == "yes"
    assert await page.get_attribute("#th-minutes", "aria-sort") == "descending"
    second = page.locator("#rows tr").nth(1)
    assert await second.locator(".name").inner_text() == "王老师 " + XSS
    assert await second.locator(".school").inner_text() == "杭州第一中学 " + XSS
    assert await second.locator(".credited").inner_text() == "no"
    await page.click("#sort-minutes")  # fewest first
    assert await page.locator("#rows tr").last.get_attribute("data-user-id") == str(people["teacher1"][0])
    assert await page.get_attribute("#th-minutes", "aria-sort") == "ascending"
    # the curve: a point per entry of the timeline, the two phases marked, a summary in words
    assert await page.locator("#chart-svg circle.pt").count() == len(report["timeline"])
    assert await page.locator("#chart-svg .phase-mark").count() == 2
    assert "at most 2 people present at once" in await page.inner_text("#chart-summary")
    assert await page.get_attribute("#chart-svg svg", "aria-labelledby") == "chart-summary"
    legend = await page.inner_text("#phase-legend")
    assert "课例展示" in legend and "分组研讨" in legend
    async with page.expect_download(timeout=10_000) as dl:
        await page.click("#export")
    download = await dl.value
    assert download.suggested_filename == f"attendance-{aid}.csv"
    csv_lines = open(await download.path(), encoding="utf-8-sig").read().strip().splitlines()
    assert csv_lines[0].startswith("User ID,Name,Role,School,Region") and len(csv_lines) == n + len(staff) + 1
    assert any(line.startswith(f"{people['wang'][0]},王老师 {XSS},teacher,") for line in csv_lines)
    assert any(line.startswith(f"{people['teacher1'][0]},Teacher1,teacher,") and line.endswith(",yes") for line in csv_lines)
    await shot(page, "attendance-report")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.wait_for_function("document.querySelector('#chart-svg svg').getAttribute('width') <= 390")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await shot(page, "attendance-phone")
    await ctx.close()

    # the list's past tab: the replay and the report for the organizer
    ctx, page = await signed_in(browser, server.url, people["org1"][1], "/activities?status=past",
                                wait=f"#activity-{aid}[data-ready]")
    item = page.locator(f"#activity-{aid}")
    assert await page.get_attribute("#tab-past", "aria-selected") == "true"
    assert await item.locator(".replay-link").get_attribute("href") == f"/activities/{aid}/replay"
    assert await item.locator(".attendance-link").get_attribute("href") == f"/activities/{aid}/attendance"
    assert await item.locator(".edit-link").count() == 0  # ended: its schedule no longer changes
    await ctx.close()

    # a teacher is refused the report and the schedule form, in words, with nothing to press
    ctx, page = await signed_in(browser, server.url, people["teacher1"][1], f"/activities/{aid}/attendance",
                                wait="#error:not([hidden])")
    assert await page.inner_text("#error") == "You may not do that" and await page.is_hidden("#report")
    await page.goto(f"{server.url}/activities/new")
    await page.wait_for_selector("#load-error:not([hidden])", timeout=10_000)
    assert await page.get_attribute("#load-error", "role") == "alert" and await page.is_hidden("#schedule-form")
    await ctx.close()

    [mine] = [x for x in learning["activities"] if x["activity_id"] == aid]
    ctx, page = await signed_in(browser, server.url, people["teacher1"][1], "/me/learning",
                                wait=f"#rows tr[data-activity-id='{aid}']")
    row = page.locator(f"#rows tr[data-activity-id='{aid}']")
    assert await row.locator(".title a").inner_text() == TITLE
    await no_img(page)
    minutes = mine["minutes"]
    assert await row.locator(".minutes").inner_text() == f"{minutes:g} min" and minutes > 0
    assert await row.locator(".credited .badge").inner_text() == "credited"
    assert await row.locator(".credit-note").inner_text() == f"Needs 0.1 min, attended {minutes:g} min"
    assert await row.locator(".replay a").get_attribute("href") == f"/activities/{aid}/replay"
    assert await page.inner_text("#t-activities") == "1" and await page.inner_text("#t-credited") == "1"
    await shot(page, "learning-record")
    await ctx.close()

    ctx, page = await signed_in(browser, server.url, people["wang"][1], "/me/learning", locale="zh-CN",
                                wait=f"#rows tr[data-activity-id='{aid}']")
    row = page.locator(f"#rows tr[data-activity-id='{aid}']")
    assert await row.locator(".credited .badge").inner_text() == "未获得"
    assert await page.inner_text("#t-credited") == "0" and await page.inner_text("h1") == "学习记录"
    await ctx.close()
