"""The admin's audit log page in Chinese: staff actions done over the API and /ws are listed newest
first with the actor, the action in Chinese, the target and the address, times on the deployment's
clock (Asia/Shanghai) even in a browser set to New York; the action filter narrows the list; the CSV
export downloads with Chinese headers; a teacher who opens the page is told they may not; at a phone's
width each entry is a card."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

import harness
from browsing import shot, signed_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = {"width": 390, "height": 844}


def as_(users, who):
    return {"Authorization": f"Bearer {users[who][1]}"}


@pytest.fixture(scope="module")
async def acted(server, users):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/activities", headers=as_(users, "org1"), json={
            "title": "函数的概念", "visibility": "public", "starts_at": "2027-05-01T14:00:00+08:00",
            "ends_at": "2027-05-01T15:00:00+08:00", "experts": [users["expert1"][0]],
            "agenda": [{"kind": "discussion", "title": "研讨", "minutes": 60}]})
        aid = r.json()["id"]
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await host.ok("activity.start", activity_id=aid)
    mod = await harness.WsClient(server.ws_url).open(users["expert1"][1])
    await mod.ok("chat.mute", activity_id=aid, user_id=users["teacher1"][0], minutes=5)
    for ws in (host, mod):
        await ws.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get(f"/api/activities/{aid}/attendance.csv", headers=as_(users, "org1"))).status_code == 200
        events = (await http.get("/api/audit", headers=as_(users, "admin1"))).json()["events"]
    return aid, events


async def test_an_admin_reads_filters_and_exports_the_log(browser, server, users, acted):
    aid, events = acted
    assert [e["action"] for e in events] == ["attendance.export", "chat.mute", "activity.staff"]
    ctx, page = await signed_in(browser, server.url, users["admin1"][1], "/admin/audit", locale="zh-CN",
                                wait="#rows tr", timezone_id="America/New_York", accept_downloads=True)
    rows = page.locator("#rows tr")
    assert await rows.count() == 3
    mute = page.locator("#rows tr[data-action='chat.mute']")
    assert await mute.locator(".action").inner_text() == "禁言"
    assert await mute.locator(".actor").inner_text() == f"Expert1 #{users['expert1'][0]}"
    assert await mute.locator(".target").inner_text() == f"用户 {users['teacher1'][0]}"
    assert await mute.locator(".where").inner_text() == f"活动 {aid}"
    assert await mute.locator(".address").inner_text() == "127.0.0.1"
    at = datetime.fromisoformat(events[1]["at"]).astimezone(SHANGHAI)
    assert at.strftime("%H:%M:%S") in await mute.locator(".time").inner_text()  # Beijing time, not New York's
    assert "Asia/Shanghai" in await page.inner_text("#zone")
    assert await page.is_visible("#audit-table a.edit, #audit-table button") is False  # nothing to edit with

    await page.select_option("#f-action", "attendance.export")
    await page.click("#filters button[type=submit]")
    await page.wait_for_function("document.querySelectorAll('#rows tr').length === 1")
    assert await page.locator("#rows tr .action").inner_text() == "导出考勤"

    async with page.expect_download(timeout=10_000) as dl:
        await page.click("#export-csv")
    lines = open(await (await dl.value).path(), encoding="utf-8-sig").read().strip().splitlines()
    assert lines[0].startswith("编号,时间（Asia/Shanghai）,操作者用户编号,服务密钥编号,操作者,操作,")
    assert len(lines) == 2 and ",attendance.export," in lines[1]  # the filter applies to the export
    await shot(page, "audit-zh-desktop")

    await page.set_viewport_size(PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    label = await page.locator("#rows td.action").first.evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"操作"'
    await shot(page, "audit-zh-phone")
    await ctx.close()


async def test_a_teacher_is_told_the_log_is_not_theirs(browser, server, users, acted):
    ctx, page = await signed_in(browser, server.url, users["teacher1"][1], "/admin/audit", locale="zh-CN",
                                wait="#error:not([hidden])")
    assert await page.inner_text("#error") == "您没有权限这样做"
    assert await page.is_hidden("#audit-table") and await page.is_hidden("#filters")
    assert await page.is_hidden("#nav a[href='/admin/audit']")  # admins alone see the link
    await ctx.close()
