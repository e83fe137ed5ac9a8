"""The studio pages in a real browser: the directory (filters, apply, found), a studio's home (the leader
decides an application, members and the leader talk live, announcements stand out, invitation links
admit a second teacher), the resource library (an upload with its progress bar, a refused fake PDF, an
observer without upload or delete) and a new lesson plan that opens in the editor."""

from __future__ import annotations

import re

import httpx
import pytest

from browsing import shot, signed_in

pytest.importorskip("playwright")

XSS = "<img src=x onerror=alert(1)>"


def tiny_pdf() -> bytes:
    """A one-page PDF whose cross-reference table points at its objects."""
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
               b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj" % n + body + b"endobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PDF = tiny_pdf()


@pytest.fixture(scope="module")
async def people(server, database_url):
    """The seeded studio (leader, co_leader, member, observer, outsider), given a profile of its own."""
    from studio_seed import seed_studio

    seeded = await seed_studio(database_url)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.patch(f"/api/studios/{seeded['studio']}", headers=auth(seeded, "leader"), json={
            "name": "黄老师初中物理工作室", "subject": "physics", "grade": "8", "region": "贵州",
            "description": "乡村学校一起备课 " + XSS})
        assert r.status_code == 200, r.text
    return seeded


def auth(people, who):
    return {"Authorization": f"Bearer {people['users'][who][1]}"}


def token(people, who):
    return people["users"][who][1]


async def studio_page(browser, server, people, who, tab="profile", **kw):
    return await signed_in(browser, server.url, token(people, who), f"/studios/{people['studio']}#{tab}",
                           wait="#tabs:not([hidden])", **kw)


async def test_find_apply_approve_and_talk_live(browser, server, people, users):
    sid = people["studio"]
    async with httpx.AsyncClient(base_url=server.url) as http:  # another studio the filter must leave out
        r = await http.post("/api/studios", headers={"Authorization": f"Bearer {users['teacher1'][1]}"},
                            json={"name": "语文阅读工作室", "subject": "chinese", "grade": "7", "region": "浙江"})
        assert r.status_code == 201

    out_ctx, out = await signed_in(browser, server.url, token(people, "outsider"), "/studios",
                                   wait="#directory .studio-card")
    assert await out.locator("#directory .studio-card").count() == 2
    await out.fill("#filters input[name=subject]", "physics")
    await out.click("#filters button[type=submit]")
    await out.wait_for_function("document.querySelectorAll('#directory .studio-card').length === 1", timeout=10_000)
    card = out.locator(f"#directory .studio-card[data-id='{sid}']")
    text = await card.inner_text()
    assert "黄老师初中物理工作室" in text and "Leader: Leader" in text and "Physics" in text
    assert "Grade 8" in text and "贵州" in text and "4 members" in text
    assert XSS in text and await out.locator("#directory img").count() == 0  # the description is text
    assert "subject=physics" in out.url  # the filter is kept in the address
    await shot(out, "studio-directory")
    await card.locator("input[name=note]").fill("我在乡村中学教物理 " + XSS)
    await card.locator("button[type=submit]").click()
    await card.locator(".sent").wait_for(timeout=10_000)
    assert "Application sent" in await card.inner_text()

    lead_ctx, lead = await studio_page(browser, server, people, "leader", "members")
    app = lead.locator("#applications li.application")
    await app.wait_for(timeout=10_000)
    assert "Outsider" in await app.inner_text() and XSS in await app.inner_text()
    assert await lead.locator("img").count() == 0
    await app.locator("button.approve").click()
    await lead.wait_for_function("document.querySelector('#members').innerText.includes('Outsider')"
                                 " && !document.querySelector('#applications li')", timeout=10_000)
    assert "approved" in await lead.inner_text("#members-status")

    # the new member and the leader, each on the discussion tab, see each other's posts live
    await out.goto(f"{server.url}/studios/{sid}#discussion")
    await out.wait_for_selector("#posts[data-live]", state="attached", timeout=15_000)
    assert "member" in await out.inner_text("#my-role")
    assert await out.is_visible("#post-form") and await out.is_hidden("#announce-label")  # members do not announce
    await lead.click("#tab-discussion")
    await lead.wait_for_selector("#posts[data-live]", state="attached", timeout=15_000)
    assert await lead.is_visible("#announce-label")
    await out.fill("#post-form textarea", "函数图像怎么导入? " + XSS)
    await out.click("#post-form button[type=submit]")
    await lead.wait_for_function("document.querySelector('#posts').innerText.includes('函数图像怎么导入')",
                                 timeout=10_000)
    assert await lead.locator("#posts img").count() == 0
    await lead.fill("#post-form textarea", "周四晚上集体备课")
    await lead.check("#announce-label input")
    await lead.click("#post-form button[type=submit]")
    ann = out.locator("#posts li.announcement")
    await ann.wait_for(timeout=10_000)
    assert "Announcement" in await ann.inner_text() and "周四晚上集体备课" in await ann.inner_text()
    assert await out.locator("#posts li.post:not(.announcement)").count() == 1  # the discussion post is not one
    await lead.wait_for_selector("#posts li.announcement", timeout=10_000)
    # the tabs answer the keyboard
    await lead.focus("#tab-discussion")
    await lead.keyboard.press("ArrowRight")
    assert await lead.get_attribute("#tab-docs", "aria-selected") == "true" and await lead.is_visible("#panel-docs")
    await lead.keyboard.press("ArrowLeft")
    await shot(lead, "studio-home")
    for ctx in (out_ctx, lead_ctx):
        await ctx.close()


async def test_an_invitation_link_admits_a_second_teacher(browser, server, people, users):
    sid = people["studio"]
    lead_ctx, lead = await studio_page(browser, server, people, "leader", "members")
    await lead.select_option("#invite-form select[name=role]", "member")
    await lead.click("#invite-form button[type=submit]")
    await lead.wait_for_selector("#invite-result:not([hidden])", timeout=10_000)
    url = await lead.input_value("#invite-url")
    assert re.search(rf"/studios/{sid}\?invite=[^&]+", url), url
    path = url.split("127.0.0.1:" + str(server.port))[1]
    # teacher2 opens the link, in Chinese
    ctx, page = await signed_in(browser, server.url, users["teacher2"][1], path, locale="zh-CN",
                                wait="#invite-join:not([hidden])")
    assert await page.inner_text("#invite-join") == "以成员身份加入"
    assert await page.is_hidden("#tabs") and await page.is_visible("#outsider")
    await page.click("#invite-join")
    await page.wait_for_selector("#tabs:not([hidden])", timeout=10_000)
    assert "成员" in await page.inner_text("#my-role") and "invite=" not in page.url
    await page.wait_for_selector("#posts[data-live]", state="attached", timeout=15_000)
    assert await page.inner_text("#tab-library") == "资源库"
    await lead.reload()
    await lead.wait_for_function("document.querySelector('#members').innerText.includes('Teacher2')", timeout=10_000)
    for c in (ctx, lead_ctx):
        await c.close()


async def test_library_upload_with_progress_refusals_and_observer(browser, server, people):
    mem_ctx, mem = await studio_page(browser, server, people, "member", "library")
    assert await mem.is_visible("#upload-form")
    await mem.set_input_files("#upload-form input[type=file]",
                              files=[{"name": "函数教案.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    await mem.fill("#upload-form input[name=res_title]", "一次函数教案 " + XSS)
    await mem.select_option("#upload-form select[name=kind]", "lesson_plan")
    await mem.fill("#upload-form input[name=tags]", "函数, 八年级")
    await mem.click("#upload-form button[type=submit]")
    await mem.wait_for_function("document.querySelector('#upload-status').innerText.includes('Uploaded')",
                                timeout=15_000)
    bar = await mem.evaluate("(() => { const p = document.querySelector('#upload-progress');"
                             " return {value: p.value, max: p.max, events: +p.dataset.events,"
                             " shown: !p.closest('[hidden]')}; })()")
    assert bar["shown"] and bar["events"] >= 1 and bar["value"] == bar["max"] >= len(PDF), bar
    assert await mem.inner_text("#upload-percent") == "100%"
    item = mem.locator("#resources li.resource").first
    await item.wait_for(timeout=10_000)
    text = await item.inner_text()
    assert "一次函数教案 " + XSS in text and "Lesson plan" in text and "#函数" in text and "Member" in text
    assert await mem.locator("#resources img").count() == 0
    assert await item.locator("button.delete").count() == 1  # the uploader may delete it

    # a text file named .pdf: refused, and the reason shown in words
    await mem.set_input_files("#upload-form input[type=file]",
                              files=[{"name": "notes.pdf", "mimeType": "application/pdf", "buffer": b"just text, not a PDF\n"}])
    await mem.click("#upload-form button[type=submit]")
    await mem.wait_for_selector("#upload-error:not([hidden])", timeout=10_000)
    assert "does not match its name" in await mem.inner_text("#upload-error")
    assert await mem.get_attribute("#upload-error", "role") == "alert"
    assert await mem.locator("#resources li.resource").count() == 1
    await shot(mem, "studio-library")

    # the observer: the file is listed and downloads; no upload, no delete
    obs_ctx, obs = await studio_page(browser, server, people, "observer", "library")
    await obs.wait_for_selector("#resources li.resource", timeout=10_000)
    assert await obs.is_hidden("#upload-form") and await obs.locator("#resources button.delete").count() == 0
    assert await obs.is_hidden("#post-form") and await obs.is_hidden("#doc-form")
    async with obs.expect_download(timeout=10_000) as dl:
        await obs.click("#resources li.resource button.download")
    download = await dl.value
    assert download.suggested_filename == "函数教案.pdf"
    with open(await download.path(), "rb") as f:
        assert f.read() == PDF
    # the search finds it by a tag word and not by another
    await obs.fill("#lib-filter input[name=q]", "八年级")
    await obs.click("#lib-filter button[type=submit]")
    await obs.wait_for_function("document.querySelector('#lib-count').innerText.includes('1 file')", timeout=10_000)
    await obs.fill("#lib-filter input[name=q]", "几何")
    await obs.click("#lib-filter button[type=submit]")
    await obs.wait_for_function("document.querySelectorAll('#resources li').length === 0", timeout=10_000)
    assert "No file matches" in await obs.inner_text("#lib-count")

    # the co-leader runs the studio: may delete another's file
    co_ctx, co = await studio_page(browser, server, people, "co_leader", "library")
    await co.wait_for_selector("#resources li.resource button.delete", timeout=10_000)
    await co.click("#resources li.resource button.delete")
    await co.click("#resources .confirm button.danger")
    await co.wait_for_function("document.querySelectorAll('#resources li').length === 0", timeout=10_000)
    for c in (mem_ctx, obs_ctx, co_ctx):
        await c.close()


async def test_a_new_lesson_plan_opens_in_the_editor(browser, server, people):
    ctx, page = await studio_page(browser, server, people, "member", "docs")
    await page.fill("#doc-form input[name=doc_title]", "二次函数的图像")
    await page.click("#doc-form button[type=submit]")
    link = page.locator("#docs a", has_text="二次函数的图像")
    await link.wait_for(timeout=10_000)
    href = await link.get_attribute("href")
    assert re.fullmatch(r"/docs/\d+", href)
    await link.click()
    await page.wait_for_url(f"**{href}", timeout=10_000)
    await ctx.close()


async def test_phone_width_and_the_founding_form(browser, server, people):
    ctx, page = await studio_page(browser, server, people, "leader", "members",
                                  viewport={"width": 390, "height": 844})
    await page.wait_for_selector("#members li.member", timeout=10_000)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await shot(page, "studio-phone")
    # founding a studio from the directory goes to it, led by its founder
    await page.goto(server.url + "/studios")
    await page.wait_for_selector("#directory .studio-card", timeout=10_000)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.click("#found summary")
    await page.fill("#found-form input[name=name]", "新的化学工作室")
    await page.fill("#found-form input[name=subject]", "chemistry")
    await page.click("#found-form button[type=submit]")
    await page.wait_for_url(re.compile(r".*/studios/\d+(#\w+)?$"), timeout=10_000)
    await page.wait_for_function("document.querySelector('#name').innerText === '新的化学工作室'", timeout=10_000)
    assert "leader" in await page.inner_text("#my-role")
    # an empty name is refused, in words
    await page.goto(server.url + "/studios")
    await page.wait_for_selector("#directory .studio-card", timeout=10_000)
    await page.click("#found summary")
    await page.fill("#found-form input[name=name]", "   ")
    await page.click("#found-form button[type=submit]")
    await page.wait_for_selector("#found-error:not([hidden])", timeout=10_000)
    await ctx.close()
