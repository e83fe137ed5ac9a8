"""Helpers for the browser tests: Debian's chromium (Playwright cannot download browsers here), pages
opened as a signed-in user, screenshots into the run's artifacts."""

from __future__ import annotations

import re
import shutil

import harness

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


async def signed_in(browser, base_url: str, token: str | None, path: str, locale: str = "en-US",
                    wait: str | None = None, **context_args):
    """(context, page) at `path`, signed in with `token` (as the sign-in page would leave it), in
    `locale` (the interface language follows it). `wait`: a selector to wait for."""
    context = await browser.new_context(locale=locale, **context_args)
    if token:
        await context.add_init_script(f"localStorage.setItem('collab_token', {token!r})")
    page = await context.new_page()
    await page.goto(base_url + path)
    if wait:
        await page.wait_for_selector(wait, timeout=15_000)
    return context, page


async def shot(page, name: str) -> None:
    """A full-page screenshot into the run's artifacts, to be looked at."""
    harness.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(harness.ARTIFACTS / f"{name}.png"), full_page=True)


# Pages refuse eval (their Content-Security-Policy has no 'unsafe-eval'). Playwright polls a predicate
# given as an expression string by compiling it in the page with `new Function`, which the policy
# refuses; a predicate given as a function it calls as it is. So tests may keep writing expressions:
# `functions_for_predicates` makes each one a function before Playwright sees it.
FUNCTION = re.compile(r"^\s*(async\s+)?(function\b|\([^()]*\)\s*=>|[\w$]+\s*=>)")


def as_function(expression: str) -> str:
    return expression if FUNCTION.match(expression) else f"() => ({expression})"


def functions_for_predicates() -> None:
    from playwright.async_api import Frame, Page

    for cls in (Page, Frame):
        original = cls.wait_for_function
        if getattr(original, "makes_functions", False):
            continue

        async def wait_for_function(self, expression, *args, _original=original, **kwargs):
            return await _original(self, as_function(expression), *args, **kwargs)

        wait_for_function.makes_functions = True
        cls.wait_for_function = wait_for_function
