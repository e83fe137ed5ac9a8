"""The lesson-document editor in a real browser: two studio members co-edit and see each other's
text, cursor and name; an observer reads along and cannot type. The editor is the committed bundle
(webclient/static/dist/editor.js: Quill + y-quill + y-websocket + quill-cursors)."""

from __future__ import annotations

import shutil

import pytest

import harness
from studio_seed import new_doc, seed_studio

pytest.importorskip("playwright")
from playwright.async_api import async_playwright  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
async def world(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("the browser tests need one database kind; storage is covered on both elsewhere")
    seed = await seed_studio(database_url)
    doc_id = await new_doc(database_url, seed["studio"], seed["users"]["leader"][0], title="一次函数 教案")
    s = harness.Server(database_url).start()
    yield {"server": s, "doc": doc_id, **seed}
    s.cleanup()


@pytest.fixture(scope="module")
async def browser():
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        await b.close()


async def open_doc(browser, world, who):
    context = await browser.new_context()
    await context.add_init_script(f"sessionStorage.setItem('collab_token', {world['users'][who][1]!r})")
    page = await context.new_page()
    await page.goto(f"{world['server'].url}/docs/{world['doc']}")
    await page.wait_for_selector("#conn.synced", timeout=15_000)
    return context, page


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
    ctx = await browser.new_context()
    await ctx.add_init_script(f"sessionStorage.setItem('collab_token', {world['users']['outsider'][1]!r})")
    page = await ctx.new_page()
    await page.goto(f"{world['server'].url}/docs/{world['doc']}")
    await page.wait_for_selector("#denied:not([hidden])", timeout=10_000)
    assert await page.locator(".ql-editor").count() == 0
    await ctx.close()
