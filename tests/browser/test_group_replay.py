"""The replay of an activity with a group discussion, in a real browser in Chinese: the record shows the
group events with their labels, and the 分组研讨 section lists the group with its members and rapporteur;
opened, it shows the group's chat and its notes (text that looks like markup stays text)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import httpx

import harness
from browsing import shot, signed_in
from yclient import YClient

MARKUP = "结论：<b>板书</b>清晰"


async def test_the_replay_shows_the_groups_with_their_chat_and_notes(browser, server, users):
    start = datetime.now(timezone.utc) + timedelta(minutes=20)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "分组研讨回放", "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 20},
                       {"kind": "group_discussion", "title": "分组研讨", "minutes": 20,
                        "groups": {"size": 2, "questions": ["教学目标达成了吗？"]}}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    org, t1, t2 = [await harness.WsClient(server.ws_url).open(users[w][1]) for w in ("org1", "teacher1", "teacher2")]
    for c in (t1, t2):
        snap = await c.ok("activity.snapshot", activity_id=aid)
        await c.ok("subscribe", channel=snap["channel"], since=snap["since"])
    await org.ok("activity.start", activity_id=aid)
    await asyncio.sleep(2.0)  # attendance has both teachers
    await org.ok("activity.next_phase", activity_id=aid)
    g = (await t1.ok("group.mine", activity_id=aid))["group"]
    await t1.ok("group.post", activity_id=aid, group_id=g["id"], body="我觉得导入环节很自然")
    await t2.ok("group.rapporteur", activity_id=aid, group_id=g["id"], user_id=users["teacher1"][0])
    doc_id = (await t1.ok("group.notes", activity_id=aid, group_id=g["id"]))["doc_id"]
    writer = await YClient(f"ws://127.0.0.1:{server.port}/ws/docs/{doc_id}", users["teacher1"][1]).open()
    await writer.append(MARKUP)
    await writer.close()
    await org.ok("activity.end", activity_id=aid)

    ctx, page = await signed_in(browser, server.url, users["teacher2"][1], f"/activities/{aid}/replay",
                                locale="zh-CN", wait="#replay:not([hidden])")
    await page.wait_for_selector("#groups-section:not([hidden])")
    record = await page.inner_text("#record")
    assert "分组：" in record and "1 个小组，2 人" in record and "Teacher1 成为 第1组 的汇报人" in record
    assert "分组研讨" in await page.inner_text("#groups-h")
    summary = await page.inner_text("#groups details.group summary")
    assert "第1组" in summary and "2 人" in summary and "汇报人：Teacher1" in summary
    await page.click("#groups details.group summary")
    await page.wait_for_selector("#groups .group-chat .feed li")
    assert "我觉得导入环节很自然" in await page.inner_text("#groups .group-chat")
    await page.wait_for_selector("#groups .group-notes .notes")
    notes = await page.inner_text("#groups .group-notes .notes")
    assert MARKUP in notes and "教学目标达成了吗？" in notes
    assert await page.locator("#groups .group-notes b").count() == 0  # the notes' text never became markup
    async with page.expect_download() as got:  # the notes as fetched, saved under the group's name
        await page.click("#groups .group-notes a")
    download = await got.value
    assert download.suggested_filename == "第1组.md"
    assert MARKUP.replace("<", "\\<").replace(">", "\\>") in open(await download.path(), encoding="utf-8").read()
    # the filter keeps the group events
    await page.check("#filter input[value=groups]")
    kinds = await page.eval_on_selector_all("#record > li:not([hidden])", "els => els.map(e => e.dataset.kind)")
    assert "groups" in kinds and "chat" not in kinds
    await shot(page, "group-replay")
    await ctx.close()

    # the organizer's report: each teacher's group, and the group with what each member said
    ctx, page = await signed_in(browser, server.url, users["org1"][1], f"/activities/{aid}/attendance",
                                locale="zh-CN", wait="#groups:not([hidden])", viewport={"width": 1280, "height": 900})
    assert await page.inner_text("#th-group") == "小组"
    row = page.locator(f"#rows tr[data-user-id='{users['teacher1'][0]}']")
    assert await row.locator("td.group").inner_text() == "分组研讨：第1组"
    card = page.locator("#group-list .group-card")
    assert "第1组" in await card.locator("h4").inner_text()
    sums = await card.locator(".group-sums").inner_text()
    chars = re.search(r"研讨记录 ([\d,]+) 字", sums)
    assert "2 人 · 1 条发言" in sums and chars and int(chars.group(1).replace(",", "")) > len(MARKUP)
    speaker = card.locator(f"li[data-user-id='{users['teacher1'][0]}']")
    assert "1 条发言" in await speaker.inner_text() and "汇报人" in await speaker.inner_text()
    quiet = card.locator(f"li[data-user-id='{users['teacher2'][0]}']")
    assert "0 条发言" in await quiet.inner_text() and "编辑 0 次" in await quiet.inner_text()
    assert "编辑 0 次" not in await speaker.inner_text()  # teacher1 wrote the notes
    await shot(page, "group-attendance")
    await ctx.close()
    for c in (org, t1, t2):
        await c.close()
