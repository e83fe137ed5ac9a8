"""The lesson-document editor in a real browser: two studio members co-edit and see each other's
text, cursor and name; an observer reads along and cannot type. Beside the editor: comment threads
anchored in the text (highlighted, live on every page, replies, resolve), saved versions (preview,
restore, which every open editor receives), and an observer who sees both but gets no controls. The
editor is the committed bundle (webclient/static/dist/editor.js: Quill + y-quill + y-websocket +
quill-cursors)."""

from __future__ import annotations

import httpx
import pytest

import harness
from browsing import shot, signed_in
from studio_seed import new_doc, seed_studio


@pytest.fixture(scope="module")
async def world(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("the browser tests need one database kind; storage is covered on both elsewhere")
    seed = await seed_studio(database_url)
    doc_id = await new_doc(database_url, seed["studio"], seed["users"]["leader"][0], title="一次函数 教案")
    s = harness.Server(database_url).start()
    yield {"server": s, "doc": doc_id, **seed}
    s.cleanup()


async def open_doc(browser, world, who):
    return await signed_in(browser, world["server"].url, world["users"][who][1], f"/docs/{world['doc']}",
                           wait="#conn.synced")


async def test_two_members_co_edit_and_see_each_others_text_and_cursor(browser, world):
    lead_ctx, lead = await open_doc(browser, world, "leader")
    mem_ctx, mem = await open_doc(browser, world, "member")
    assert await lead.inner_text("#title") == "一次函数 教案"
    assert "教学目标" in await lead.inner_text(".ql-editor")  # the lesson-plan template, headings and all
    assert await lead.locator(".ql-editor h2").count() == 5

    await lead.click(".ql-editor h1")
    await lead.keyboard.press("End")
    await lead.keyboard.type("（第一课时）")
    await mem.wait_for_function("document.querySelector('.ql-editor h1').innerText.includes('（第一课时）')",
                                timeout=10_000)
    await mem.click(".ql-editor p")
    await mem.keyboard.press("End")
    await mem.keyboard.type(" 理解函数的概念 <b>")
    await lead.wait_for_function("document.querySelector('.ql-editor').innerText.includes('理解函数的概念 <b>')",
                                 timeout=10_000)
    assert await lead.locator(".ql-editor b").count() == 0  # typed text stays text
    # each sees the other's cursor, labelled with their name
    await lead.wait_for_function(
        "[...document.querySelectorAll('.ql-cursor-name')].some(e => e.textContent.includes('Member'))", timeout=10_000)
    await mem.wait_for_function(
        "[...document.querySelectorAll('.ql-cursor-name')].some(e => e.textContent.includes('Leader'))", timeout=10_000)
    await lead.screenshot(path=str(harness.ARTIFACTS / "doc-editor-leader.png"), full_page=True)

    # an observer reads along: the editor is read-only and says so
    obs_ctx, obs = await open_doc(browser, world, "observer")
    assert await obs.is_visible("#readonly")
    assert await obs.get_attribute(".ql-editor", "contenteditable") == "false"
    await mem.keyboard.type(" 新句子")
    await obs.wait_for_function("document.querySelector('.ql-editor').innerText.includes('新句子')", timeout=10_000)
    for ctx in (lead_ctx, mem_ctx, obs_ctx):
        await ctx.close()


async def test_an_outsider_gets_no_document(browser, world):
    ctx, page = await signed_in(browser, world["server"].url, world["users"]["outsider"][1], f"/docs/{world['doc']}",
                                wait="#denied:not([hidden])")
    assert await page.locator(".ql-editor").count() == 0
    await ctx.close()


# -- comments, versions, observers -------------------------------------------------------------------

XSS = "<img src=x onerror=alert(1)>"


async def fresh_doc(world, title="函数的概念 教案") -> int:
    """A new lesson plan of its own for a test, made as the leader through the API."""
    async with httpx.AsyncClient(base_url=world["server"].url) as http:
        r = await http.post(f"/api/studios/{world['studio']}/docs", json={"title": title},
                            headers={"Authorization": f"Bearer {world['users']['leader'][1]}"})
        assert r.status_code == 201, r.text
        return r.json()["id"]


async def open_page(browser, world, who, doc_id, locale="en-US", **context_args):
    ctx, page = await signed_in(browser, world["server"].url, world["users"][who][1], f"/docs/{doc_id}",
                                locale=locale, wait="#conn.synced", **context_args)
    await page.wait_for_selector("#live.online", timeout=15_000)  # the doc:<id> channel over /ws
    await page.wait_for_function("document.querySelector('.ql-editor').innerText.includes('教学目标')", timeout=10_000)
    page.errors = []  # what the page logs as errors: none expected
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return ctx, page


def accept_dialogs(page):
    async def accept(dialog):
        await dialog.accept()
    page.on("dialog", accept)


async def select_text(page, phrase):
    """Select `phrase` with the keyboard, as a person would: click into its paragraph, Home, Shift+Right."""
    para = page.locator(".ql-editor p", has_text=phrase).first
    text = await para.inner_text()
    await para.click()
    await page.keyboard.press("Home")
    for _ in range(text.index(phrase)):
        await page.keyboard.press("ArrowRight")
    for _ in range(len(phrase)):
        await page.keyboard.press("Shift+ArrowRight")
    assert await page.evaluate("window.getSelection().toString()") == phrase


HIGHLIGHTED = """(phrase) => [...document.querySelectorAll('.ql-editor [class*="qc-"]')].some(e =>
    e.textContent === phrase && getComputedStyle(e).backgroundColor !== 'rgba(0, 0, 0, 0)')"""


async def test_a_member_comments_on_a_phrase_and_the_leader_replies_and_resolves_live(browser, world):
    doc_id = await fresh_doc(world)
    mem_ctx, mem = await open_page(browser, world, "member", doc_id)
    lead_ctx, lead = await open_page(browser, world, "leader", doc_id)
    phrase = "过程与方法"
    await select_text(mem, phrase)
    await mem.wait_for_function("document.querySelector('#comment-quote').textContent.includes('过程与方法')",
                                timeout=5_000)
    await mem.fill("#comment-body", "目标要可测 " + XSS)
    await mem.click("#comment-submit")

    # the leader sees the thread and the highlighted phrase without reloading
    thread = lead.locator("#threads > li.thread").first
    await thread.wait_for(timeout=10_000)
    assert await thread.locator(".quote").inner_text() == f"“{phrase}”"
    assert XSS in await thread.locator(".body").first.inner_text()  # the markup stays text
    assert "Member" in await thread.locator(".meta").first.inner_text()
    assert await lead.locator("#threads img, .ql-editor img").count() == 0
    await lead.wait_for_function(HIGHLIGHTED, arg=phrase, timeout=10_000)
    await mem.wait_for_function(HIGHLIGHTED, arg=phrase, timeout=10_000)
    assert await mem.locator("#threads img").count() == 0
    # those who run the studio may delete anyone's thread; the author sees delete on their own
    assert await thread.locator(".delete-thread").count() == 1
    assert await mem.locator("#threads > li.thread .delete-thread").count() == 1

    # clicking the thread selects its passage in the editor
    await thread.locator(".quote").click()
    await lead.wait_for_function("window.getSelection().toString() === '过程与方法'", timeout=5_000)

    # the anchor moves with the text: the member types before it, the thread still selects the phrase
    await mem.click(".ql-editor h1")
    await mem.keyboard.press("End")
    await mem.keyboard.type("（新）")
    await lead.wait_for_function("document.querySelector('.ql-editor h1').innerText.includes('（新）')", timeout=10_000)
    await thread.locator(".quote").click()
    await lead.wait_for_function("window.getSelection().toString() === '过程与方法'", timeout=5_000)

    # text typed right after the phrase is not taken into the comment
    await mem.locator("#threads > li.thread .quote").click()
    await mem.wait_for_function("window.getSelection().toString() === '过程与方法'", timeout=5_000)
    await mem.keyboard.press("ArrowRight")
    await mem.keyboard.type("！")
    cid = int(await thread.get_attribute("data-id"))
    for page in (lead, mem):
        await page.wait_for_function(
            """([id, phrase]) => { const r = window.collabEditor.rangeOf(id);
                 return document.querySelector('.ql-editor').innerText.includes(phrase + '！') && r &&
                   window.collabEditor.text.toString().slice(r.start, r.end) === phrase }""",
            arg=[cid, phrase], timeout=10_000)
        await page.wait_for_function(HIGHLIGHTED, arg=phrase, timeout=5_000)

    await thread.locator(".reply-form input").fill("同意, 用可观察的动词 " + XSS)
    await thread.locator(".send-reply").click()
    reply = mem.locator("#threads .reply .body", has_text="用可观察的动词")
    await reply.wait_for(timeout=10_000)
    assert XSS in await reply.inner_text()
    assert await mem.locator("#threads img").count() == 0
    await shot(lead, "doc-editor-comments")

    await thread.locator(".resolve").click()
    await mem.locator("#threads > li.thread.resolved .state", has_text="Resolved").wait_for(timeout=10_000)
    # a resolved thread is no longer highlighted; the member may reopen it
    await mem.wait_for_function(f"!({HIGHLIGHTED})('{phrase}')", timeout=5_000)
    assert await mem.inner_text("#threads > li.thread .resolve") == "Reopen"
    assert await lead.locator("#threads > li.thread.resolved").count() == 1

    # the leader deletes the member's thread (those who run the studio may): gone on both pages
    await lead.click("#threads > li.thread .resolve")  # reopened first, so its highlight shows again
    await mem.wait_for_function(HIGHLIGHTED, arg=phrase, timeout=10_000)
    accept_dialogs(lead)
    await lead.click("#threads > li.thread .delete-thread")
    await mem.wait_for_selector("#threads-empty:not([hidden])", timeout=10_000)
    await mem.wait_for_function("!document.querySelector('.ql-editor [class*=\"qc-\"]')", timeout=10_000)
    assert await mem.locator("#threads > li").count() == 0
    assert lead.errors == [] and mem.errors == []
    for ctx in (lead_ctx, mem_ctx):
        await ctx.close()


TEXT = "window.collabEditor.text.toString()"


async def test_the_leader_saves_and_restores_a_version_that_every_editor_receives(browser, world):
    doc_id = await fresh_doc(world, title="二次函数 教案")
    lead_ctx, lead = await open_page(browser, world, "leader", doc_id)
    mem_ctx, mem = await open_page(browser, world, "member", doc_id)
    await lead.click(".ql-editor h1")
    await lead.keyboard.press("End")
    await lead.keyboard.type(" 第一稿")
    await mem.wait_for_function("document.querySelector('.ql-editor h1').innerText.includes('第一稿')", timeout=10_000)
    saved = await lead.evaluate(TEXT)
    await lead.keyboard.press("Tab")  # Tab leaves the editor for what follows it, as everywhere on the page
    assert await lead.evaluate("document.activeElement.id") == "export-md"
    assert await lead.evaluate(TEXT) == saved

    await lead.fill("#version-name", "第一稿 <b>定稿前</b>")
    await lead.click("#version-save")
    item = lead.locator("#versions > li.version").first
    await item.wait_for(timeout=10_000)
    assert await item.locator(".name").inner_text() == "第一稿 <b>定稿前</b>"
    assert await lead.locator("#versions b").count() == 0
    assert "Leader" in await item.locator(".meta").inner_text()
    # the member's open page lists the new version without a reload
    await mem.locator("#versions > li.version .name", has_text="第一稿").wait_for(timeout=10_000)

    # both keep typing after the version was saved
    await lead.click(".ql-editor h1")
    await lead.keyboard.press("End")
    await lead.keyboard.type(" 领导加的")
    await mem.click(".ql-editor p")
    await mem.keyboard.press("End")
    await mem.keyboard.type(" 成员加的")
    for page in (lead, mem):
        await page.wait_for_function(
            "['领导加的', '成员加的'].every(s => document.querySelector('.ql-editor').innerText.includes(s))",
            timeout=10_000)

    # the preview shows the saved text in a sandboxed frame, not in the page
    await item.locator(".preview-version").click()
    await lead.wait_for_selector("#preview[open]", timeout=5_000)
    frame = lead.frame_locator("#preview-frame")
    await frame.locator("h1", has_text="第一稿").wait_for(timeout=10_000)
    assert "领导加的" not in await frame.locator("body").inner_text()
    # sandboxed without allow-scripts: nothing in it runs (same origin only so that it renders in this
    # chromium, which leaves an opaque-origin srcdoc frame unpainted)
    assert await lead.get_attribute("#preview-frame", "sandbox") == "allow-same-origin"
    await lead.screenshot(path=str(harness.ARTIFACTS / "doc-editor-version-preview.png"))  # the viewport: a modal
    await lead.click("#preview-close")

    accept_dialogs(lead)
    await item.locator(".restore-version").click()
    for page in (lead, mem):
        await page.wait_for_function(f"{TEXT} === {saved!r}", timeout=10_000)
        shown = await page.inner_text(".ql-editor")
        assert "第一稿" in shown and "领导加的" not in shown and "成员加的" not in shown
    await lead.locator("#version-note", has_text="Restored version").wait_for(timeout=5_000)
    # the other editor hears of it on doc:<id>
    await mem.locator("#version-note", has_text="Leader restored version “第一稿").wait_for(timeout=10_000)
    # and editing goes on from the restored text
    await mem.click(".ql-editor h1")
    await mem.keyboard.press("End")
    await mem.keyboard.type(" 续")
    await lead.wait_for_function("document.querySelector('.ql-editor h1').innerText.endsWith('第一稿 续')", timeout=10_000)
    await shot(lead, "doc-editor-versions")
    # the export is the restored text too (a download with the sign-in token)
    async with mem.expect_download() as dl:
        await mem.click("#export-md")
    download = await dl.value
    assert download.suggested_filename == "二次函数 教案.md"
    md = open(await download.path(), encoding="utf-8").read()
    assert md.startswith("# 二次函数 教案 第一稿 续") and "领导加的" not in md
    assert lead.errors == [] and mem.errors == []
    for ctx in (lead_ctx, mem_ctx):
        await ctx.close()


async def test_an_observer_sees_threads_and_versions_but_no_controls(browser, world):
    doc_id = await fresh_doc(world, title="观察 教案")
    auth = {"Authorization": f"Bearer {world['users']['member'][1]}"}
    async with httpx.AsyncClient(base_url=world["server"].url) as http:
        v = (await http.post(f"/api/docs/{doc_id}/versions", json={"name": "模板"}, headers=auth)).json()
        text = (await http.get(f"/api/docs/{doc_id}/versions/{v['id']}", headers=auth)).json()["text"]
        start = text.index("基础题")
        r = await http.post(f"/api/docs/{doc_id}/comments",
                            json={"start": start, "end": start + 3, "body": "加一道 " + XSS}, headers=auth)
        assert r.status_code == 201, r.text
    obs_ctx, obs = await open_page(browser, world, "observer", doc_id)
    thread = obs.locator("#threads > li.thread").first
    await thread.wait_for(timeout=10_000)
    assert await thread.locator(".quote").inner_text() == "“基础题”"
    assert XSS in await thread.locator(".body").inner_text()
    await obs.wait_for_function(HIGHLIGHTED, arg="基础题", timeout=10_000)
    await obs.locator("#versions > li.version .name", has_text="模板").wait_for(timeout=10_000)
    # read-only, and it says so; no control that changes anything
    assert await obs.is_visible("#readonly")
    assert await obs.get_attribute(".ql-editor", "contenteditable") == "false"
    assert await obs.locator(".ql-toolbar").count() == 0
    for hidden in ("#comment-form", "#comment-bar", "#version-form"):
        assert not await obs.is_visible(hidden), hidden
    for control in (".reply-form", ".resolve", ".delete-thread", ".delete-reply", ".restore-version"):
        assert await obs.locator(control).count() == 0, control
    # reading a version is not a change: the preview is offered, its restore button is not
    await obs.locator(".preview-version").first.click()
    await obs.frame_locator("#preview-frame").locator("h1", has_text="观察").wait_for(timeout=10_000)
    assert not await obs.is_visible("#preview-restore")
    await obs.click("#preview-close")
    # clicking the thread still shows where it is
    await thread.locator(".quote").click()
    await obs.wait_for_function("window.getSelection().toString() === '基础题'", timeout=5_000)

    # an edit the server refuses is thrown away: the document is loaded again, without it
    mem_ctx, mem = await open_page(browser, world, "member", doc_id)
    await obs.evaluate("window.collabEditor.text.insert(0, '不会保存ZZ')")
    await obs.wait_for_selector("#denied:not([hidden])", timeout=10_000)
    assert "Not saved" in await obs.inner_text("#denied")
    assert "observers" in await obs.get_attribute("#denied", "title")  # the server's own words
    await obs.wait_for_function(f"!{TEXT}.includes('ZZ') && !document.querySelector('.ql-editor').innerText.includes('ZZ')"
                                " && document.querySelector('.ql-editor').innerText.includes('教学目标')",
                                timeout=10_000)
    await obs.wait_for_selector("#conn.synced", timeout=10_000)
    await mem.click(".ql-editor h1")  # and the observer still follows the others' edits
    await mem.keyboard.press("End")
    await mem.keyboard.type(" 之后")
    await obs.wait_for_function("document.querySelector('.ql-editor h1').innerText.includes('之后')", timeout=10_000)
    assert "ZZ" not in await mem.inner_text(".ql-editor")
    for ctx in (obs_ctx, mem_ctx):
        await ctx.close()

    # in Chinese, at phone width: the panel comes below the editor and nothing overflows
    ph_ctx, ph = await open_page(browser, world, "member", doc_id, locale="zh-CN",
                                 viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await ph.locator("#threads > li.thread").first.wait_for(timeout=10_000)
    assert (await ph.text_content("#comments-h")).split() == ["批注", "1"]  # one open thread
    assert await ph.inner_text("#comment-submit") == "发表批注"
    assert await ph.inner_text("#threads .resolve") == "解决"
    assert await ph.get_attribute(".ql-toolbar .ql-bold", "aria-label") == "加粗"  # Quill's own labels too
    assert await ph.evaluate("getComputedStyle(document.querySelector('.ql-header .ql-picker-label'), '::before').content") \
        == '"正文"'
    assert await ph.evaluate("document.documentElement.scrollWidth") <= 390
    editor_box, side_box = await ph.locator("#editor").bounding_box(), await ph.locator("#doc-side").bounding_box()
    assert side_box["y"] >= editor_box["y"] + editor_box["height"]
    await shot(ph, "doc-editor-phone")
    await ph_ctx.close()
