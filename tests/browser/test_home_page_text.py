"""What the pages say, as a teacher reads them in Chromium (issue 11, points 4 and 14): refusals in the
page's language (never the server's English in a Chinese page), grades named as schools name them,
times on the activity's clock to the second whatever the browser's zone, and no node id in the footer."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from browsing import shot, signed_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_typography import half_width_marks  # noqa: E402  (the rule the source scan applies)

BEIJING = timezone(timedelta(hours=8))
ABROAD = {"timezone_id": "America/New_York"}  # a browser far from the activity's zone
SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


async def test_footer_names_no_node_and_the_header_is_chinese(browser, server, users):
    context, page = await signed_in(browser, server.url, users["teacher1"][1], "/", locale="zh-CN",
                                    wait="#conn.online")
    assert (await page.inner_text("footer")).strip() == "collab"
    assert server.name not in await page.content()  # the node's name is for logs, /healthz and metrics
    assert await page.inner_text("#who .role") == "教师"
    await shot(page, "home-footer-zh")
    await context.close()


@pytest.mark.parametrize("locale, wrong", [("zh-CN", "用户名或密码不对"), ("en-US", "Wrong username or password")])
async def test_a_refused_sign_in_says_why_in_the_page_language(browser, server, users, locale, wrong):
    context, page = await signed_in(browser, server.url, None, "/signin", locale=locale)
    await page.fill("input[name=username]", "teacher1")
    await page.fill("input[name=password]", "not-the-password")
    await page.click("button[type=submit]")
    await page.wait_for_function("document.querySelector('#signin-error').textContent !== ''")
    assert await page.inner_text("#signin-error") == wrong
    await context.close()


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_times_are_on_the_activity_clock_to_the_second(browser, server, locale):
    context, page = await signed_in(browser, server.url, None, "/signin", locale=locale, **ABROAD)
    fmt = await page.evaluate("""() => [
        Collab.fmtTime("2026-03-05T01:30:07Z"),                    // Asia/Shanghai unless told
        Collab.fmtTime("2026-03-05T01:30:07Z", "Europe/London"),
        Collab.fmtTime("2026-03-05T01:30:07Z", "Not/A_Zone"),      // an unknown name: the default zone
        Collab.fmtSpan("2026-03-05T01:30:00Z", "2026-03-05T04:00:00Z", "Asia/Shanghai")]""")
    if locale == "zh-CN":
        assert fmt == ["2026年3月5日 09:30:07", "2026年3月5日 01:30:07", "2026年3月5日 09:30:07",
                       "2026年3月5日 09:30:00 – 12:00:00"]
    else:
        assert fmt == ["5 Mar 2026, 09:30:07", "5 Mar 2026, 01:30:07", "5 Mar 2026, 09:30:07",
                       "5 Mar 2026, 09:30:00 – 12:00:00"]
    await context.close()


@pytest.mark.parametrize("screen", SCREENS)
async def test_the_activities_list_names_grades_and_keeps_the_activity_clock(browser, server, users, screen):
    day = (datetime.now(BEIJING) + timedelta(days=3 if screen == "desktop" else 5)).date()
    starts = datetime(day.year, day.month, day.day, 14, 0, tzinfo=BEIJING)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": f"八年级函数教研 {screen}", "subject": "math", "grade": "8", "level": "city", "visibility": "public",
            "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(minutes=90)).isoformat()})
        assert r.status_code == 201, r.text
    context, page = await signed_in(browser, server.url, users["teacher1"][1], "/activities", locale="zh-CN",
                                    wait="#list li", viewport=SCREENS[screen], **ABROAD)
    item = page.locator("#list li", has_text=f"八年级函数教研 {screen}")
    text = await item.inner_text()
    assert "数学 · 八年级" in text and "8 年级" not in text
    assert f"{day.year}年{day.month}月{day.day}日 14:00:00 – 15:30:00" in text  # Beijing time, not New York's
    await shot(page, f"activities-grade-and-clock-zh-{screen}")
    await context.close()


@pytest.mark.parametrize("screen", SCREENS)
async def test_a_studio_refusal_is_chinese_and_grades_are_named(browser, server, database_url, screen):
    from studio_seed import seed_studio

    seeded = await seed_studio(database_url)  # its studio is maths, grade code "8"
    outsider = seeded["users"]["outsider"][1]
    context, page = await signed_in(browser, server.url, outsider, f"/studios/{seeded['studio']}?invite=forged.link",
                                    locale="zh-CN", wait="#invite-join:not([hidden])", viewport=SCREENS[screen])
    assert await page.inner_text("#f-grade") == "八年级"
    await page.click("#invite-join")
    await page.wait_for_selector("#invite-error:not([hidden])")
    assert await page.inner_text("#invite-error") == "邀请链接无效"  # not "that invitation link is not valid"
    await shot(page, f"studio-invitation-refused-zh-{screen}")
    await context.close()


async def test_the_schedule_form_names_codes_and_keeps_them(browser, server, users):
    day = (datetime.now(BEIJING) + timedelta(days=4)).date()
    starts = datetime(day.year, day.month, day.day, 9, 0, tzinfo=BEIJING)
    org = {"Authorization": f"Bearer {users['org1'][1]}"}
    async with httpx.AsyncClient(base_url=server.url, headers=org) as http:
        r = await http.post("/api/activities", json={
            "title": "代码存储的活动", "subject": "math", "grade": "8", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=60)).isoformat()})
        aid = r.json()["id"]
        context, page = await signed_in(browser, server.url, users["org1"][1], f"/activities/{aid}/edit",
                                        locale="zh-CN", wait="#s-title", timezone_id="Asia/Shanghai")
        await page.wait_for_function("document.querySelector('#s-grade').value !== ''")
        assert await page.input_value("#s-grade") == "八年级"  # named, not "8"
        assert await page.input_value("#s-subject") == "数学"
        await shot(page, "schedule-grade-named-zh")
        await page.fill("#s-title", "代码存储的活动（改）")
        await page.click("#save")
        await page.wait_for_url(f"**/activities/{aid}")
        a = (await http.get(f"/api/activities/{aid}")).json()
        assert (a["title"], a["subject"], a["grade"]) == ("代码存储的活动（改）", "math", "8")  # codes kept
        await context.close()


@pytest.mark.parametrize("path", ["/", "/activities", "/activities/new", "/studios", "/signin"])
async def test_chinese_pages_as_rendered_use_full_width_punctuation(browser, server, users, path):
    context, page = await signed_in(browser, server.url, users["org1"][1], path, locale="zh-CN", wait="main")
    await page.wait_for_load_state("networkidle")
    shown = await page.evaluate("document.body.innerText")
    titles = await page.eval_on_selector_all("[placeholder], [title], [aria-label]", """els => els.map(e =>
        [e.getAttribute('placeholder'), e.getAttribute('title'), e.getAttribute('aria-label')].join(' '))""")
    assert not half_width_marks(shown + "\n" + "\n".join(titles))  # what is on screen, strings joined
    await context.close()
