"""The replay page in a real browser. An activity is run from Python over /ws (lobby, two phases, chat
with a message that looks like markup, a question upvoted and answered by the expert, another left open,
a hand called on, a poll answered, shown and closed, the end) while a teacher has the replay page open:
it first says the replay is not open yet, then opens by itself at the end and shows the phases in order
with their times, the record in time order with its filter, the discussion as text, the questions by
votes with the answer, and the poll's bars. A second activity has a recording: its <video> loads from
the signed link, and choosing a phase seeks it."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import httpx

import harness
from browsing import shot, signed_in
from recording_seed import add_recording

XSS = "导入环节很好 <img src=x onerror=alert(1)>"


async def create(server, users, title: str, agenda: list[dict], **extra) -> int:
    start = datetime.now(timezone.utc) + timedelta(minutes=20)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": title, "visibility": "public", "level": "province", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": agenda, **extra})
        assert r.status_code == 201, r.text
        return r.json()["id"]


async def api(server, users, who: str, path: str) -> dict:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get(path, headers={"Authorization": f"Bearer {users[who][1]}"})
        assert r.status_code == 200, r.text
        return r.json()


async def visible_kinds(page) -> list[str]:
    return await page.eval_on_selector_all("#record > li:not([hidden])", "els => els.map(e => e.dataset.kind)")


async def test_the_replay_of_a_whole_activity(browser, server, users):
    aid = await create(server, users, "函数的概念 <课例研讨>", [
        {"kind": "discussion", "title": "研讨交流", "minutes": 20},
        {"kind": "online_interaction", "title": "在线互动", "minutes": 20}], experts=[users["expert1"][0]])
    org, t1, t2, expert = [await harness.WsClient(server.ws_url).open(users[w][1])
                           for w in ("org1", "teacher1", "teacher2", "expert1")]
    await org.ok("activity.open_lobby", activity_id=aid)

    # before the end: the page says the replay is not open yet, links to the room, and waits
    ctx, page = await signed_in(browser, server.url, users["teacher1"][1], f"/activities/{aid}/replay",
                                wait="#not-ended:not([hidden])")
    assert "The replay opens when the activity ends" in await page.inner_text("#not-ended")
    assert await page.get_attribute("#not-ended a", "href") == f"/activities/{aid}"
    assert await page.is_hidden("#replay")
    await page.wait_for_function("document.querySelector('#title').innerText === '函数的概念 <课例研讨>'", timeout=10_000)
    await page.wait_for_selector("#auto-open:not([hidden])", timeout=15_000)  # waiting on the room channel

    # the activity, run from Python
    await org.ok("activity.start", activity_id=aid)
    await t1.ok("chat.post", activity_id=aid, body=XSS)
    await t2.ok("chat.post", activity_id=aid, body="我同意, 情境设计贴近学生生活")
    q1 = (await t1.ok("qa.ask", activity_id=aid, body="如何处理函数概念中的对应关系?"))["question"]["id"]
    q2 = (await t2.ok("qa.ask", activity_id=aid, body="课后作业怎么分层?"))["question"]["id"]
    await t2.ok("qa.vote", activity_id=aid, question_id=q1)
    await expert.ok("qa.vote", activity_id=aid, question_id=q1)
    await org.ok("qa.vote", activity_id=aid, question_id=q2)
    await t2.ok("hand.raise", activity_id=aid)
    await org.ok("hand.call", activity_id=aid, user_id=users["teacher2"][0])
    await asyncio.sleep(1.1)  # the phases last long enough to have a visible length and distinct times
    await org.ok("activity.next_phase", activity_id=aid)
    await expert.ok("qa.answer", activity_id=aid, question_id=q1, text="先从生活中的对应实例入手, 再抽象出定义。")
    poll = (await org.ok("poll.create", activity_id=aid, question="本节课的难点把握得如何?",
                         options=["很好", "一般", "需要改进"]))
    poll_id = (poll.get("poll") or poll)["id"]
    await t1.ok("poll.answer", activity_id=aid, poll_id=poll_id, choices=[0])
    await t2.ok("poll.answer", activity_id=aid, poll_id=poll_id, choices=[0])
    await expert.ok("poll.answer", activity_id=aid, poll_id=poll_id, choices=[2])
    await org.ok("poll.show_results", activity_id=aid, poll_id=poll_id)
    await org.ok("poll.close", activity_id=aid, poll_id=poll_id)
    await asyncio.sleep(1.1)
    await org.ok("activity.end", activity_id=aid)
    for c in (org, t1, t2, expert):
        await c.close()

    # the page opens the replay by itself at the end
    await page.wait_for_selector("#replay:not([hidden])", timeout=15_000)
    assert await page.is_hidden("#not-ended")
    replay = await api(server, users, "teacher1", f"/api/activities/{aid}/replay")
    assert await page.inner_text("#title") == "函数的概念 <课例研讨>"
    assert await page.inner_text("#state") == "ended" and await page.inner_text("#level") == "provincial"

    # the phases, in order, with their times (the same instants as the API's) and lengths
    segs = page.locator("#phase-bar > li")
    assert await segs.count() == 2
    assert "1. 研讨交流" in await segs.nth(0).inner_text() and "2. 在线互动" in await segs.nth(1).inner_text()
    for i, p in enumerate(replay["phases"]):
        times = await segs.nth(i).locator("time").evaluate_all("els => els.map(e => [e.dateTime, e.innerText])")
        assert [t[0] for t in times] == [p["started_at"], p["ended_at"]]
        assert all(re.fullmatch(r"\d\d:\d\d", t[1]) for t in times), times
        assert re.search(r"\d+ (s|min)", await segs.nth(i).inner_text())

    # the discussion as text: the markup-looking message is shown, never parsed
    chat = await page.inner_text("#chat")
    assert XSS in chat and "情境设计贴近学生生活" in chat and "Teacher1" in chat
    assert await page.locator("img").count() == 0

    # questions by votes with the answer; the open one is marked unanswered
    qs = page.locator("#questions > li")
    assert await qs.count() == 2
    first = await qs.nth(0).inner_text()
    assert "如何处理函数概念中的对应关系?" in first and "2 votes" in first
    assert "先从生活中的对应实例入手" in first and "Answer" in first
    assert "课后作业怎么分层?" in await qs.nth(1).inner_text() and "1 vote" in await qs.nth(1).inner_text()
    assert "Not answered" in await qs.nth(1).inner_text()

    # the poll's bars: 2, 0 and 1 of 3 voters
    options = page.locator(f".poll[data-poll-id='{poll_id}'] .option")
    assert await options.count() == 3
    assert [await options.nth(i).get_attribute("data-count") for i in range(3)] == ["2", "0", "1"]
    assert "2 votes · 67%" in await options.nth(0).inner_text()
    assert "1 vote · 33%" in await options.nth(2).inner_text()
    widths = [await options.nth(i).locator(".fill").evaluate("e => e.getBoundingClientRect().width") for i in range(3)]
    assert widths[0] > widths[2] > widths[1] == 0
    assert "3 voters" in await page.inner_text(f".poll[data-poll-id='{poll_id}']")

    # the record in time order: start, chat, questions, the call, phase 2, answer, poll, end
    kinds = await visible_kinds(page)
    assert kinds[0] == "phase" and kinds[-1] == "phase" and kinds.count("phase") == 3
    stamps = await page.eval_on_selector_all("#record > li", "els => els.map(e => Number(e.dataset.t))")
    assert stamps == sorted(stamps)
    record = await page.inner_text("#record")
    for text in ("Started · phase 1: 研讨交流", "Phase 2: 在线互动", "The activity ended", XSS,
                 "was called on to speak", "Poll opened", "Poll closed", "answered:"):
        assert text in record, text
    assert record.index("Phase 2: 在线互动") < record.index("answered:") < record.index("Poll closed")
    assert "很好 2 (67%)" in record  # the results travel with the closing

    # the filter: only that kind, with the phase changes kept as landmarks
    await page.check("#filter input[value=chat]")
    assert set(await visible_kinds(page)) == {"phase", "chat"} and (await visible_kinds(page)).count("chat") == 2
    await page.check("#filter input[value=qa]")
    assert set(await visible_kinds(page)) == {"phase", "qa"} and (await visible_kinds(page)).count("qa") == 3
    await page.check("#filter input[value=polls]")
    assert set(await visible_kinds(page)) == {"phase", "polls"}
    await page.check("#filter input[value=all]")
    assert "other" in await visible_kinds(page)

    # choosing a phase (by keyboard) jumps the record to it
    await segs.nth(1).locator("button").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_function("document.activeElement && document.activeElement.matches('#record li.flash')",
                                 timeout=5_000)
    assert "Phase 2: 在线互动" in await page.inner_text("#record li.flash")
    assert await segs.nth(1).locator("button").get_attribute("aria-current") == "step"
    assert await page.is_hidden("#recordings-section")  # no recording: no player
    assert await page.is_hidden("#notice")
    await shot(page, "replay")
    await ctx.close()

    # at phone width: nothing wider than the screen, the phases still reachable
    ctx, phone = await signed_in(browser, server.url, users["teacher2"][1], f"/activities/{aid}/replay",
                                 wait="#replay:not([hidden])", viewport={"width": 390, "height": 844})
    await phone.wait_for_selector("#questions > li")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.locator("#phase-bar button").nth(1).click()
    await phone.wait_for_selector("#record li.flash")
    await shot(phone, "replay-phone")
    await ctx.close()

    # in Chinese
    ctx, zh = await signed_in(browser, server.url, users["teacher1"][1], f"/activities/{aid}/replay",
                              locale="zh-CN", wait="#replay:not([hidden])")
    await zh.wait_for_selector(f".poll[data-poll-id='{poll_id}'] .option")
    assert await zh.inner_text("#state") == "已结束" and await zh.inner_text("#level") == "省级"
    assert "2 票 · 67%" in await zh.inner_text(f".poll[data-poll-id='{poll_id}']")
    assert "进入环节 2：在线互动" in await zh.inner_text("#record")
    assert await zh.inner_text("#polls-h") == "投票结果"
    await shot(zh, "replay-zh")
    await ctx.close()


async def test_a_recording_plays_from_its_signed_link_and_follows_the_phases(browser, server, users):
    aid = await create(server, users, "录像回放", [{"kind": "discussion", "title": "研讨", "minutes": 10},
                                                {"kind": "custom", "title": "总结", "minutes": 10}])
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await org.ok("activity.open_lobby", activity_id=aid)
    await org.ok("activity.start", activity_id=aid)
    await asyncio.sleep(1.2)
    await org.ok("activity.next_phase", activity_id=aid)
    await asyncio.sleep(0.3)
    await org.ok("activity.end", activity_id=aid)
    await org.close()
    phases = (await api(server, users, "org1", f"/api/activities/{aid}/replay"))["phases"]
    started = datetime.fromisoformat(phases[0]["started_at"])
    # a 3-second recording of the organizer from half a second before the first phase
    await add_recording(server, server.database_url, aid, users["org1"][0], started - timedelta(seconds=0.5), seconds=3)

    ctx, page = await signed_in(browser, server.url, users["teacher1"][1], f"/activities/{aid}/replay",
                                wait="#recordings video")
    src = await page.get_attribute("#recordings video", "src")
    assert re.search(rf"/api/activities/{aid}/recordings/\d+\?key=", src)
    await page.wait_for_function("document.querySelector('#recordings video').readyState >= 1", timeout=15_000)
    duration = await page.evaluate("document.querySelector('#recordings video').duration")
    assert 2.5 <= duration <= 3.5, duration
    # the link plays without the bearer token (a plain fetch sends none), and seeks with ranges
    status = await page.evaluate("u => fetch(u, {headers: {Range: 'bytes=0-99'}}).then(r => r.status)", src)
    assert status == 206
    assert await page.evaluate("u => fetch(u).then(r => r.status)", src) == 200
    # the second phase began about 1.7 s into the recording: choosing it seeks there
    await page.locator("#phase-bar button").nth(1).click()
    await page.wait_for_function("Math.abs(document.querySelector('#recordings video').currentTime - %f) < 0.6"
                                 % ((datetime.fromisoformat(phases[1]["started_at"]) - started).total_seconds() + 0.5),
                                 timeout=10_000)
    assert "Org1" in await page.inner_text("#recordings figcaption")
    assert await page.is_hidden("#video-notice") and await page.is_hidden("#notice")
    await shot(page, "replay-recording")
    await ctx.close()


async def test_a_recording_whose_file_is_gone_says_so(browser, server, users):
    aid = await create(server, users, "录像丢失", [{"kind": "discussion", "minutes": 10}])
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    for cmd in ("activity.open_lobby", "activity.start", "activity.end"):
        await org.ok(cmd, activity_id=aid)
    await org.close()
    await add_recording(server, server.database_url, aid, users["org1"][0], datetime.now(timezone.utc))
    for f in (server.datadir / "recordings" / str(aid)).iterdir():
        f.unlink()
    ctx, page = await signed_in(browser, server.url, users["teacher1"][1], f"/activities/{aid}/replay",
                                wait="#video-notice:not([hidden])")
    assert await page.get_attribute("#video-notice", "role") == "alert"
    assert "The recording cannot be played: the file is no longer on the server" in await page.inner_text("#video-notice")
    await ctx.close()


async def test_a_replay_the_caller_may_not_see_says_so(browser, server, users):
    aid = await create(server, users, "仅限受邀", [{"kind": "discussion", "minutes": 10}])
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.patch(f"/api/activities/{aid}", headers={"Authorization": f"Bearer {users['org1'][1]}"},
                             json={"visibility": "invited"})
        assert r.status_code == 200, r.text
    ctx, page = await signed_in(browser, server.url, users["teacher2"][1], f"/activities/{aid}/replay",
                                wait="#notice:not([hidden])")
    assert await page.get_attribute("#notice", "role") == "alert"
    assert "You may not do that" in await page.inner_text("#notice")
    assert await page.is_hidden("#replay") and await page.is_hidden("#not-ended")
    await ctx.close()
