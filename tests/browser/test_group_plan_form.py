"""The schedule form's group discussion, in a real browser, in Chinese at desktop width: the organizer
adds a group phase with its plan (size, mode, questions, names), is told in Chinese what is missing, and
the activity is stored with the plan; then, on the edit page, the phase assigns from a list and the
organizer uploads it: a list with an unknown username is refused at its line, a GB18030 list is taken."""

from __future__ import annotations

import re

import httpx

from browsing import shot, signed_in

DESKTOP = {"width": 1280, "height": 900}


def as_(token):
    return {"Authorization": f"Bearer {token}"}


async def test_an_organizer_plans_a_group_discussion_and_uploads_its_list(browser, server, users):
    token = users["org1"][1]
    ctx, page = await signed_in(browser, server.url, token, "/activities/new", locale="zh-CN",
                                wait="#schedule-form:not([hidden])", viewport=DESKTOP)
    await page.fill("#s-title", "八年级数学课例分组研讨")
    for kind in ("lesson_display", "group_discussion"):
        await page.select_option("#new-kind", kind)
        await page.click("#add-phase")
    group = page.locator("#phases li.phase").nth(1)
    assert await group.get_attribute("data-kind") == "group_discussion"
    assert await group.locator(".ph-title").input_value() == "分组研讨"
    # the talk is in the groups: the main room keeps its chat, no questions, hands or polls
    assert await group.locator("[data-perm=chat]").is_checked()
    assert not await group.locator("[data-perm=questions]").is_checked()
    assert await group.locator(".ph-group-size").input_value() == "8"
    assert [t.strip() for t in await group.locator(".ph-group-assign option").all_inner_texts()] == [
        "随机", "按学校（同校同组）", "按学校（不同学校混编）", "按地区（同地区同组）", "按地区（混编）", "按名单", "自主选择"]
    await group.locator(".ph-group-size").fill("6")
    await group.locator(".ph-group-assign").select_option("self_select")
    await group.locator(".ph-group-names").fill("代数组")  # teachers choose among at least two
    await group.locator(".ph-group-questions").fill("本节课的教学目标达成了吗？\n\n哪个环节最值得借鉴？")
    await page.click("#save")
    await page.wait_for_selector("#form-error:not([hidden])", timeout=10_000)
    assert await page.inner_text("#form-error") == "第 2 个环节：自主选择须填写 2 到 200 个组名"
    assert await group.locator(".ph-group-names").get_attribute("aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.className") == "ph-group-names"
    await group.locator(".ph-group-names").fill("代数组\n几何组\n 统计组 ")
    await shot(page, "schedule-group-phase-zh")
    await page.click("#save")
    await page.wait_for_url(re.compile(r"/activities/\d+$"), timeout=10_000)
    aid = int(page.url.rstrip("/").rsplit("/", 1)[1])

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        a = (await http.get(f"/api/activities/{aid}", headers=as_(token))).json()
    assert [p["kind"] for p in a["agenda"]] == ["lesson_display", "group_discussion"]
    assert a["agenda"][1]["groups"] == {"size": 6, "assign": "self_select", "names": ["代数组", "几何组", "统计组"],
                                        "questions": ["本节课的教学目标达成了吗？", "哪个环节最值得借鉴？"]}
    assert a["agenda"][0]["groups"] is None

    # the edit page: the plan as stored; assigning from a list asks to save before the upload
    await page.goto(f"{server.url}/activities/{aid}/edit")
    await page.wait_for_selector("#phases li.phase .ph-group-assign")
    group = page.locator("#phases li.phase").nth(1)
    assert await group.locator(".ph-group-assign").input_value() == "self_select"
    assert await group.locator(".ph-group-names").input_value() == "代数组\n几何组\n统计组"
    await group.locator(".ph-group-assign").select_option("list")
    assert await group.locator(".roster-later").inner_text() == "保存活动后即可在这里上传名单。"
    assert await group.locator(".roster-file").count() == 0
    await page.click("#save")
    await page.wait_for_url(re.compile(rf"/activities/{aid}$"), timeout=10_000)

    await page.goto(f"{server.url}/activities/{aid}/edit")
    group = page.locator("#phases li.phase").nth(1)
    await page.wait_for_function(
        "document.querySelector('#phases li.phase:nth-child(2) .roster-status')?.textContent === '还没有上传名单。'",
        timeout=10_000)
    await group.locator(".roster-file").set_input_files(files=[{
        "name": "名单.csv", "mimeType": "text/csv", "buffer": "teacher1,代数组\nnobody_here,几何组\n".encode()}])
    await group.locator(".roster-upload").click()
    await page.wait_for_selector("#phases .roster-error:not([hidden])", timeout=10_000)
    assert await group.locator(".roster-error").inner_text() == "第 2 行：没有用户名为 nobody_here 的用户"
    await group.locator(".roster-file").set_input_files(files=[{
        "name": "名单.csv", "mimeType": "text/csv",
        "buffer": "用户名,组名\r\nteacher1,代数组\r\nteacher2,几何组\r\n".encode("gb18030")}])  # as Excel saves it
    await group.locator(".roster-upload").click()
    await page.wait_for_function(
        "document.querySelector('#phases .roster-status').textContent === '已上传名单：2 人，2 个组'", timeout=10_000)
    assert await group.locator(".roster-error").is_hidden()
    await shot(page, "schedule-group-roster-zh")
    await ctx.close()

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.get(f"/api/activities/{aid}/phases/1/roster", headers=as_(token))
    assert [(e["username"], e["group"]) for e in r.json()["entries"]] == [("teacher1", "代数组"), ("teacher2", "几何组")]
