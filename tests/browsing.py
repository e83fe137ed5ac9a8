"""Helpers for the browser tests: Debian's chromium (Playwright cannot download browsers here), pages
opened as a signed-in user, screenshots into the run's artifacts."""

from __future__ import annotations

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
