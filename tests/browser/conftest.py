"""What the browser tests share: one headless chromium per module and a server on the module's SQLite
database (browser tests run on SQLite only: storage is covered on both databases elsewhere, and one
kind keeps the browser suite within its time). Helpers to open pages are in tests/browsing.py."""

from __future__ import annotations

import pytest

import harness

pytest.importorskip("playwright")
from playwright.async_api import async_playwright  # noqa: E402

from browsing import ARGS, CHROMIUM, functions_for_predicates  # noqa: E402

functions_for_predicates()  # the pages' CSP refuses eval (tests/browsing.py says why this is needed)


@pytest.fixture(scope="module")
async def server(database_url, users):
    if database_url.startswith("postgresql"):
        pytest.skip("the browser tests need one database kind; storage is covered on both elsewhere")
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
async def browser():
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        await b.close()
