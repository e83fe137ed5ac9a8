"""The sign-in page when sign-in is throttled: it says so with the wait, in the reader's language, and
rests its button until then; meanwhile a browser the teacher signed in on before still signs in (its
device cookie travels with the page's own request)."""

from __future__ import annotations

import re

from browsing import ARGS  # noqa: F401  (the browser fixture's flags)


async def submit(page, username: str, password: str) -> int:
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    async with page.expect_response("**/api/auth/login") as answer:
        await page.click("button[type=submit]")
    return (await answer.value).status


async def test_throttled_sign_in_shows_the_wait_and_a_known_browser_still_signs_in(browser, server):
    own = await browser.new_context(locale="zh-CN")  # teacher2's own browser
    page = await own.new_page()
    await page.goto(server.url + "/signin")
    assert await submit(page, "teacher2", "password-teacher2") == 200
    await page.wait_for_url(server.url + "/")

    for victim, locale, wait_text in (
            ("teacher2", "zh-CN", r"登录失败次数太多，暂时不能登录（\d+ 分钟后可再试）"),
            ("teacher1", "en-GB", r"Too many failed sign-ins; signing in is paused \(try again in \d+ minutes?\)")):
        other = await browser.new_context(locale=locale)  # someone else's browser, guessing
        guess = await other.new_page()
        await guess.goto(server.url + "/signin")
        assert [await submit(guess, victim, f"guess-{i}") for i in range(5)] == [401] * 5
        assert await submit(guess, victim, "guess-again") == 429
        error = guess.locator("#signin-error")
        assert re.fullmatch(wait_text, (await error.text_content()).strip()), await error.text_content()
        assert await guess.locator("button[type=submit]").is_disabled()
        await other.close()

    # the teacher's own browser is a known device: it signs in during the attack
    await page.goto(server.url + "/signin")
    assert await submit(page, "teacher2", "password-teacher2") == 200
    await page.wait_for_url(server.url + "/")
    await own.close()
