"""The room's group view (docs/groups.md) in real chromium against the real server, in Chinese, at a
desktop's width (1280×800) and a phone's (390×844): three teachers of two schools and an expert, each in
their own browser context; the host starts the group phase and

- each teacher sees their group (by school: two together, one apart), its guiding questions and the
  countdown with its one-minute warning, moved by an extension; the group's chat reaches the group-mate and not the teacher of
  the other group, and user text stays text;
- the notes open in the document editor with the guiding questions, and an edit reaches the mate;
- a member names the rapporteur (汇报人：名字) for the whole group;
- the expert sees every group, enters one, hides a message there, moves a teacher to the other group
  (their page follows) and broadcasts: every teacher sees the banner;
- the phase ends and every page is back in the main room; at the report-back the group's heading and
  rapporteur are beside the stage, its notes read-only for its members, and another group's teacher
  is told the notes are the group's;
- self-selection: a full group answers 该小组已满.

Screenshots land in test-artifacts/groups-*.png."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

import harness
from browsing import shot, signed_in
from collab.auth.accounts import create_user
from collab.store.db import make_engine, make_sessionmaker

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
QUESTIONS = ["本节课的教学目标达成了吗？", "哪个环节最值得借鉴？"]


@pytest.fixture(scope="module")
async def teachers(database_url, users):
    """Three teachers: two of one school (one group, by school), one of another."""
    engine = make_engine(database_url)
    out = {}
    async with make_sessionmaker(engine)() as db:
        for name, display, school in [("gw_t1", "王老师", "实验中学"), ("gw_t2", "李老师", "实验中学"),
                                      ("gw_t3", "赵老师", "第一中学")]:
            u = await create_user(db, username=name, password="password-" + name, display_name=display,
                                  role="teacher", school=school)
            out[name] = (u.id, harness.token_for(u.id, "teacher", display))
        await db.commit()
    await engine.dispose()
    return out


async def schedule(server, users, plan: dict, minutes: int = 20) -> int:
    body = {"title": "分组研讨：一次函数", "visibility": "public", "starts_at": "2027-05-01T14:00:00+08:00",
            "ends_at": "2027-05-01T16:00:00+08:00", "experts": [users["expert1"][0]],
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 30},
                       {"kind": "group_discussion", "title": "分组研讨", "minutes": minutes,
                        "groups": {"questions": QUESTIONS, **plan}},
                       {"kind": "discussion", "title": "小组汇报", "minutes": 20}]}
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json=body)
        assert r.status_code == 201, r.text
        return r.json()["id"]


FAULTS: list[str] = []  # scripts' uncaught errors and policy violations on any page of this module


async def room(browser, server, token: str, aid: int, size: dict):
    context, page = await signed_in(browser, server.url, token, f"/activities/{aid}", locale="zh-CN",
                                    wait="#conn.online", **size)
    page.on("pageerror", lambda e: FAULTS.append(str(e)))
    page.on("console", lambda m: FAULTS.append(m.text) if "Content Security Policy" in m.text else None)
    await page.wait_for_selector("#chat-box:not([hidden])", timeout=10_000)
    return context, page


async def into_groups(server, users, aid: int):
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await host.ok("activity.start", activity_id=aid)
    await asyncio.sleep(1.5)  # attendance has everyone in the room (written within a second)
    await host.ok("activity.next_phase", activity_id=aid)
    return host


def has_text(selector: str, text: str) -> str:
    return f"(document.querySelector({selector!r}) || {{innerText: ''}}).innerText.includes({text!r})"


async def test_teachers_meet_in_their_groups_and_come_back_to_the_room(browser, server, users, teachers):
    aid = await schedule(server, users, {"size": 2, "assign": "by_school"}, minutes=1)
    sizes = {"gw_t1": DESKTOP, "gw_t2": PHONE, "gw_t3": DESKTOP}
    pages = {}
    for name, size in sizes.items():
        pages[name] = await room(browser, server, teachers[name][1], aid, size)
    expert_ctx, expert = await room(browser, server, users["expert1"][1], aid, DESKTOP)
    host = await into_groups(server, users, aid)

    t1, t2, t3 = (pages[n][1] for n in ("gw_t1", "gw_t2", "gw_t3"))
    for p in (t1, t2, t3):
        await p.wait_for_selector("#group-view:not([hidden])", timeout=10_000)
    assert await t1.inner_text("#group-name") == await t2.inner_text("#group-name")  # one school, one group
    assert await t3.inner_text("#group-name") != await t1.inner_text("#group-name")
    assert (await t1.inner_text("#group-questions")).split("\n") == QUESTIONS
    # the countdown of a one-minute phase, with its warning; the phone shows the group in the chat's place
    assert re.fullmatch(r"剩余 (0:[0-5]\d|1:00)", await t1.inner_text("#group-countdown"))
    await t1.wait_for_selector("#group-time-note:not([hidden])", timeout=5_000)
    assert await t1.inner_text("#group-time-note") == "还剩1分钟"
    await host.ok("activity.extend_phase", activity_id=aid, minutes=5)  # the countdown follows an extension
    await t1.wait_for_function(has_text("#group-countdown", "剩余 5:"), timeout=10_000)
    assert await t1.is_hidden("#group-time-note")
    assert await t2.is_hidden("#chat-box") and await t1.is_visible("#chat-box")
    assert await t2.evaluate("document.documentElement.scrollWidth") <= 390

    # the group's chat: the mate sees it, as text; the other group's teacher does not
    await t1.fill("#group-chat-input", "先看目标<b>达成</b>情况")
    await t1.press("#group-chat-input", "Enter")
    await t2.wait_for_function(has_text("#group-chat", "先看目标<b>达成</b>情况"), timeout=10_000)
    assert await t2.locator("#group-chat b").count() == 0
    await t3.fill("#group-chat-input", "我们组从提问设计说起")
    await t3.click("#group-chat-form button[type=submit]")
    await t3.wait_for_function(has_text("#group-chat", "我们组从提问设计说起"), timeout=10_000)
    assert "先看目标" not in await t3.inner_text("#group-chat")
    assert "我们组从提问设计说起" not in await t1.inner_text("#group-chat")

    # the notes: the guiding questions, and an edit reaches the mate
    await t1.click("#group-notes-open")
    await t1.wait_for_function(has_text("#group-notes .ql-editor", QUESTIONS[0]), timeout=15_000)
    await t1.click("#group-notes .ql-editor")
    await t1.keyboard.press("Control+End")
    await t1.keyboard.type("王：目标基本达成")
    await t2.click("#group-notes-open")
    await t2.wait_for_function(has_text("#group-notes .ql-editor", "王：目标基本达成"), timeout=15_000)
    await t2.wait_for_function(  # the mate's cursor and name (a flag shown on hover: its text, not innerText)
        "[...document.querySelectorAll('#group-notes .ql-cursor-name')].some(e => e.textContent === '王老师')",
        timeout=10_000)
    flag = await t2.eval_on_selector("#group-notes .ql-cursor-flag", "e => getComputedStyle(e).position")
    assert flag == "absolute"  # the mate's cursor drawn by quill-cursors' own sheet, which the room admits

    # a member names the rapporteur; the whole group sees it
    await t2.click("#group-members-box summary, .group-members-box summary")
    await t2.locator(f"#group-members li[data-user-id='{teachers['gw_t1'][0]}'] .group-name-rapporteur").click()
    await t1.wait_for_function(has_text("#group-rapporteur", "汇报人：王老师"), timeout=10_000)
    # a page opened again mid-phase finds its group, the rapporteur and what was said before
    await t2.reload()
    await t2.wait_for_function(has_text("#group-rapporteur", "汇报人：王老师"), timeout=10_000)
    await t2.wait_for_function(has_text("#group-chat", "先看目标<b>达成</b>情况"), timeout=10_000)

    # the expert: every group, entering one, a broadcast every teacher sees
    await expert.wait_for_function("document.querySelectorAll('#group-list li').length === 2", timeout=10_000)
    second = await t3.inner_text("#group-name")
    await expert.locator("#group-list li", has_text=second).locator(".group-enter").click()
    await expert.wait_for_function(has_text("#group-chat", "我们组从提问设计说起"), timeout=10_000)
    await t3.fill("#group-chat-input", "这条发错了")
    await t3.press("#group-chat-input", "Enter")
    await expert.wait_for_function(has_text("#group-chat", "这条发错了"), timeout=10_000)
    await expert.locator("#group-chat li", has_text="这条发错了").locator(".msg-hide").click()  # a moderator hides it
    await t3.wait_for_function(f"!{has_text('#group-chat', '这条发错了')}", timeout=10_000)
    await expert.fill("#group-broadcast-input", "还有五分钟，请准备汇报")
    await expert.click("#group-broadcast-form button[type=submit]")
    for p in (t1, t2, t3):
        await p.wait_for_function(has_text("#group-broadcast", "还有五分钟，请准备汇报"), timeout=10_000)
    await shot(t1, "groups-teacher-desktop")
    await shot(t2, "groups-teacher-phone")
    await shot(expert, "groups-expert-desktop")

    # the expert moves 赵老师 into the first group from the member list: their page follows, with its chat
    first_name = await t1.inner_text("#group-name")
    await t3.click("#group-notes-open")  # their own group's notes open as they are moved
    await t3.wait_for_function(has_text("#group-notes .ql-editor", QUESTIONS[0]), timeout=15_000)
    await expert.click(".group-members-box summary")
    mover = expert.locator(f"#group-members li[data-user-id='{teachers['gw_t3'][0]}']")
    await mover.locator("select").select_option(label=first_name)
    await mover.locator(".group-move-go").click()
    await t3.wait_for_function(f"document.querySelector('#group-name').innerText === {first_name!r}", timeout=10_000)
    await t3.wait_for_function(has_text("#group-chat", "先看目标"), timeout=10_000)
    assert await t3.is_hidden("#group-notes")  # the old group's notes closed with it
    await t1.wait_for_function(has_text("#group-chat", "赵老师 加入了小组"), timeout=10_000)
    back = next(g for g in (await host.ok("group.list", activity_id=aid))["groups"] if g["name"] == second)
    await host.ok("group.move", activity_id=aid, user_id=teachers["gw_t3"][0], group_id=back["id"])
    await t3.wait_for_function(f"document.querySelector('#group-name').innerText === {second!r}", timeout=10_000)

    # the phase ends: every page is back in the main room
    await host.ok("activity.next_phase", activity_id=aid)
    for p in (t1, t2, t3, expert):
        await p.wait_for_selector("#groups", state="hidden", timeout=10_000)
        assert await p.is_visible("#chat-box")
    # the report-back: heading and rapporteur beside the stage; the notes read-only for the group
    mine = await host.ok("group.list", activity_id=aid)
    first = next(g for g in mine["groups"] if g["rapporteur"])
    await host.ok("group.report", activity_id=aid, group_id=first["id"])
    heading = f"第{first['number']}组 汇报人：王老师"
    for p in (t1, t3):
        await p.wait_for_function(has_text("#group-report-title", heading), timeout=10_000)
    await t1.wait_for_function(has_text("#group-report .ql-editor", "王：目标基本达成"), timeout=15_000)
    assert await t1.get_attribute("#group-report .ql-editor", "contenteditable") == "false"
    # a teacher of another group reads them too (read-only), and finds them again after a reload
    await t3.wait_for_function(has_text("#group-report .ql-editor", "王：目标基本达成"), timeout=15_000)
    assert await t3.get_attribute("#group-report .ql-editor", "contenteditable") == "false"
    await t3.reload()
    await t3.wait_for_function(has_text("#group-report-title", heading), timeout=10_000)
    await t3.wait_for_function(has_text("#group-report .ql-editor", "王：目标基本达成"), timeout=15_000)
    await shot(t1, "groups-report-desktop")
    assert FAULTS == []
    await host.close()
    for ctx, _ in pages.values():
        await ctx.close()
    await expert_ctx.close()


async def test_a_full_group_says_so_when_teachers_choose(browser, server, users, teachers):
    aid = await schedule(server, users, {"size": 2, "assign": "self_select", "names": ["语文组", "数学组"]})
    ctx, page = await room(browser, server, teachers["gw_t2"][1], aid, PHONE)
    others = []
    for name in ("gw_t1", "gw_t3"):
        c = await harness.WsClient(server.ws_url).open(teachers[name][1])
        snap = await c.ok("activity.snapshot", activity_id=aid)
        await c.ok("subscribe", channel=snap["channel"], since=snap["since"])
        others.append(c)
    host = await into_groups(server, users, aid)
    await page.wait_for_selector("#group-choices:not([hidden])", timeout=10_000)
    assert await page.inner_text("#group-choice-list li:first-child .group-choice-count") == "0/2"
    groups = (await others[0].ok("group.mine", activity_id=aid))["choices"]
    chinese = next(g for g in groups if g["name"] == "语文组")
    for c in others:  # two teachers fill 语文组
        await c.ok("group.choose", activity_id=aid, group_id=chinese["id"])
    await page.locator("#group-choice-list li", has_text="语文组").locator(".group-join").click()
    await page.wait_for_function(has_text("#group-error", "该小组已满"), timeout=10_000)
    await page.wait_for_function(has_text("#group-choice-list", "2/2"), timeout=10_000)  # the counts asked again
    assert await page.locator("#group-choice-list li", has_text="语文组").locator(".group-join").is_disabled()
    await shot(page, "groups-choose-full-phone")
    assert FAULTS == []
    await page.locator("#group-choice-list li", has_text="数学组").locator(".group-join").click()
    await page.wait_for_selector("#group-view:not([hidden])", timeout=10_000)
    assert await page.inner_text("#group-name") == "数学组"
    assert await page.is_hidden("#group-choices")
    await host.close()
    for c in others:
        await c.close()
    await ctx.close()
