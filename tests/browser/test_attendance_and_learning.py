"""The attendance report and the learning record in Chinese, at a desktop's and a phone's width, after a
real activity: the organizer and the expert who sat in the room are listed under their role apart from
the teachers (and left out of the teachers' totals), times are on the activity's clock (Asia/Shanghai)
to the second even in a browser set to New York, the CSV downloads with Chinese headers, and the
learning record says what credit needs ("需 96 分钟，已参加 … 分钟") with every column on a 390 px
screen. Default credit rule: 80% of a two-hour schedule, 96 minutes."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

import harness
from browsing import shot, signed_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
BROWSER_ZONE = "America/New_York"  # not the activity's: the pages must not show the browser's clock
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
state: dict = {}


def as_(users, who):
    return {"Authorization": f"Bearer {users[who][1]}"}


async def join(server, users, who, aid) -> harness.WsClient:
    ws = await harness.WsClient(server.ws_url).open(users[who][1])
    snap = await ws.ok("activity.snapshot", activity_id=aid)
    await ws.ok("subscribe", channel=snap["channel"], since=snap["since"])
    return ws


@pytest.fixture(scope="module")
async def ran(server, users):
    """A two-hour activity run for a few seconds with its organizer and expert in the room beside two
    teachers; teacher2 leaves first. Its attendance report and teacher1's learning record, as the API has them."""
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/activities", headers=as_(users, "org1"), json={
            "title": "函数的概念：课例研讨", "visibility": "registered", "registration": "open",
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
            "experts": [users["expert1"][0]],
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 60},
                       {"kind": "discussion", "title": "研讨", "minutes": 60}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        for who in ("teacher1", "teacher2"):
            await http.post(f"/api/activities/{aid}/register", headers=as_(users, who))
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await host.ok("activity.open_lobby", activity_id=aid)
    await host.ok("activity.start", activity_id=aid)
    sockets = [await join(server, users, who, aid) for who in ("org1", "expert1", "teacher1", "teacher2")]
    await asyncio.sleep(2)
    await sockets.pop().close()  # teacher2 leaves first
    await asyncio.sleep(2)
    await host.ok("activity.end", activity_id=aid)
    for ws in (*sockets, host):
        await ws.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        deadline = time.monotonic() + 10
        while True:  # the node writes its intervals within a second
            report = (await http.get(f"/api/activities/{aid}/attendance", headers=as_(users, "org1"))).json()
            everyone = report["attendees"] + report["staff"]
            if (len(everyone) == 4 and all(r["last_leave"] for r in everyone)) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        learning = (await http.get("/api/me/learning", headers=as_(users, "teacher1"))).json()
    return aid, report, learning


def shanghai_clock(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%H:%M:%S")


async def fits(page, selector: str, width: int) -> None:
    """Every element matching `selector` is on screen horizontally: nothing cut off at the edge."""
    boxes = await page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.width]; })")
    assert boxes and all(left >= 0 and right <= width and w > 0 for left, right, w in boxes), (selector, boxes)


async def test_the_report_in_chinese_lists_staff_under_their_role(browser, server, users, ran):
    aid, report, _ = ran
    teachers = {r["user_id"]: r for r in report["attendees"]}
    assert set(teachers) == {users["teacher1"][0], users["teacher2"][0]}
    assert {r["user_id"]: r["role"] for r in report["staff"]} == {users["org1"][0]: "organizer",
                                                                  users["expert1"][0]: "expert"}
    ctx, page = await signed_in(browser, server.url, users["org1"][1], f"/activities/{aid}/attendance",
                                locale="zh-CN", wait="#rows tr", timezone_id=BROWSER_ZONE,
                                viewport=DESKTOP, accept_downloads=True)
    assert await page.locator("#rows tr").count() == 2  # the teachers only
    assert await page.inner_text("#t-attendees") == "2"
    assert await page.inner_text("#t-credited") == "0（0%）"  # seconds of a two-hour activity
    assert await page.inner_text("#t-rule") == "直播期间在线满安排时长的 80%（96 分钟）"
    assert await page.inner_text("#t-staff") == "2"
    staff = page.locator("#staff-rows tr")
    assert await page.is_visible("#staff") and await staff.count() == 2
    roles = {int(await staff.nth(i).get_attribute("data-user-id")): await staff.nth(i).locator("td.role").inner_text()
             for i in range(2)}
    assert roles == {users["org1"][0]: "组织者", users["expert1"][0]: "专家"}
    assert await page.locator("#staff-rows .credited").count() == 0  # no credit verdict for staff
    assert "（时区：Asia/Shanghai）" in await page.inner_text("#act-when")
    for uid, row in teachers.items():  # Beijing time to the second, not New York's
        tr = page.locator(f"#rows tr[data-user-id='{uid}']")
        assert await tr.locator(".time").first.inner_text() == shanghai_clock(row["first_join"])
        assert await tr.locator(".credited").inner_text() == "否"
    assert "最多同时 4 人在线" in await page.inner_text("#chart-summary")

    async with page.expect_download(timeout=10_000) as dl:
        await page.click("#export")
    lines = open(await (await dl.value).path(), encoding="utf-8-sig").read().strip().splitlines()
    assert lines[0] == "用户编号,姓名,角色,学校,地区,首次进入（Asia/Shanghai）,最后离开（Asia/Shanghai）,在线分钟,重连次数,获得学时"
    t1 = teachers[users["teacher1"][0]]
    [line] = [x for x in lines if x.startswith(f"{t1['user_id']},")]
    first_join = datetime.fromisoformat(t1["first_join"]).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    assert line.startswith(f"{t1['user_id']},Teacher1,教师,,,{first_join},") and line.endswith(",否")
    assert any(x.startswith(f"{users['expert1'][0]},Expert1,专家,") and x.endswith(",不计学时") for x in lines)
    await shot(page, "attendance-zh-desktop")

    await page.set_viewport_size(PHONE)
    await page.wait_for_function("document.querySelector('#chart-svg svg').getAttribute('width') <= 390")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await fits(page, "#rows td, #staff-rows td", PHONE["width"])  # one card per person, every cell on screen
    label = await page.locator("#rows td.credited").first.evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"学时"'  # each cell of a card names its column
    await shot(page, "attendance-zh-phone")
    await ctx.close()


async def test_the_learning_record_explains_credit_and_fits_a_phone(browser, server, users, ran):
    aid, _, learning = ran
    [mine] = [a for a in learning["activities"] if a["activity_id"] == aid]
    assert mine["needed_minutes"] == 96 and mine["credited"] is False and mine["role"] == "teacher"
    note = f"需 96 分钟，已参加 {mine['minutes']:g} 分钟"
    ctx, page = await signed_in(browser, server.url, users["teacher1"][1], "/me/learning", locale="zh-CN",
                                wait=f"#rows tr[data-activity-id='{aid}']", timezone_id=BROWSER_ZONE, viewport=DESKTOP)
    row = page.locator(f"#rows tr[data-activity-id='{aid}']")
    assert await row.locator(".credited .badge").inner_text() == "未获得"
    assert await row.locator(".credit-note").inner_text() == note
    assert await row.locator(".title a").inner_text() == "函数的概念：课例研讨"
    assert await row.locator(".replay a").get_attribute("href") == f"/activities/{aid}/replay"
    start = datetime.fromisoformat(mine["starts_at"]).astimezone(SHANGHAI)
    assert await row.locator(".date").inner_text() == f"{start.year}年{start.month}月{start.day}日"
    await shot(page, "learning-zh-desktop")

    await page.set_viewport_size(PHONE)
    await page.wait_for_function("getComputedStyle(document.querySelector('#rows tr')).display === 'flex'")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await fits(page, f"#rows tr[data-activity-id='{aid}'] td", PHONE["width"])  # 学时 and 回放 included
    assert await row.locator(".credit-note").is_visible() and await row.locator(".replay a").is_visible()
    labels = await row.locator("td").evaluate_all("els => els.map(e => getComputedStyle(e, '::before').content)")
    assert labels == ['"日期"', "none", '"分钟"', '"学时"', '"回放"']  # the title leads its card
    await shot(page, "learning-zh-phone")
    await ctx.close()

    # the expert's own record: the activity they guided, under their role, earning nothing
    ctx, page = await signed_in(browser, server.url, users["expert1"][1], "/me/learning", locale="zh-CN",
                                wait=f"#rows tr[data-activity-id='{aid}']", viewport=PHONE)
    row = page.locator(f"#rows tr[data-activity-id='{aid}']")
    assert await row.locator(".credited .badge").inner_text() == "不计学时"
    assert await row.locator(".credit-note").inner_text() == "您是本活动的专家"
    assert await page.inner_text("#t-credited") == "0"
    await ctx.close()

    # and in English
    ctx, page = await signed_in(browser, server.url, users["teacher1"][1], "/me/learning",
                                wait=f"#rows tr[data-activity-id='{aid}']", viewport=PHONE)
    row = page.locator(f"#rows tr[data-activity-id='{aid}']")
    assert await row.locator(".credit-note").inner_text() == f"Needs 96 min, attended {mine['minutes']:g} min"
    await fits(page, f"#rows tr[data-activity-id='{aid}'] td", PHONE["width"])
    await shot(page, "learning-en-phone")
    await ctx.close()
