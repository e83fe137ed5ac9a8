"""The home page in a real browser (Debian's chromium driven by Playwright): sign in, live
announcements, and a teacher whose network drops misses nothing."""

from __future__ import annotations

import harness


async def sign_in(browser, base_url, username):
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(base_url + "/")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", "password-" + username)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#conn.online", timeout=10_000)
    return context, page


async def test_announcements_live_escaped_and_recovered_after_a_network_cut(browser, server):
    link = await harness.CuttableProxy(server.port).start()  # the teacher's network
    org_ctx, org = await sign_in(browser, server.url, "org1")
    teacher_ctx, teacher = await sign_in(browser, link.url, "teacher1")
    assert await org.inner_text("#who .who-name") == "Org1"  # the header says who and in what role
    assert await org.inner_text("#who .role") == "organizer"
    assert await org.is_visible("#places")  # activities and studios to go to
    assert await teacher.is_hidden("#announce-form")  # teachers cannot post: the control is not shown

    await org.fill("#announce-form textarea", "<img src=x onerror=alert(1)> 下午两点开始")
    await org.click("#announce-form button")
    await teacher.wait_for_function(
        "document.querySelector('#feed').innerText.includes('下午两点开始')", timeout=10_000)
    assert await teacher.locator("#feed img").count() == 0  # shown as text, never as markup

    link.cut()  # the teacher's network drops...
    await teacher.wait_for_selector("#conn:not(.online)", timeout=10_000)
    for i in range(3):
        await org.fill("#announce-form textarea", f"while you were away {i}")
        await org.click("#announce-form button")
        await org.wait_for_function(f"document.querySelector('#feed').innerText.includes('while you were away {i}')")
    link.restore()  # ...and comes back: the page reconnects and recovers what it missed
    await teacher.wait_for_selector("#conn.online", timeout=30_000)
    await teacher.wait_for_function(
        "document.querySelector('#feed').innerText.includes('while you were away 2')", timeout=15_000)
    items = await teacher.locator("#feed li").all_inner_texts()
    bodies = [text.split("\n")[0] for text in items]
    for i in range(3):
        assert bodies.count(f"while you were away {i}") == 1  # each once: nothing lost, nothing doubled
    harness.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await teacher.screenshot(path=str(harness.ARTIFACTS / "home-teacher.png"), full_page=True)
    await org_ctx.close()
    await teacher_ctx.close()
    await link.close()
