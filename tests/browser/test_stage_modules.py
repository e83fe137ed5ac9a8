"""The stage's scripts in the room page are ES modules (webclient/static/stage.js importing its parts in
static/stage/): every one of them loads by its digest URL, kept for good (the import map the page
carries turns a module's relative imports into those URLs), the stage draws itself, and the page
throws nothing. A module that failed to load or resolve would leave the room without its stage."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import harness

pytest.importorskip("playwright")

STATIC = harness.ROOT / "webclient" / "static"
MODULES = {"/static/stage.js"} | {"/static/" + p.relative_to(STATIC).as_posix() for p in (STATIC / "stage").rglob("*.js")}


async def test_the_stage_modules_load_by_their_digest_urls_and_are_kept_for_good(browser, server, users):
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "模块 modules", "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": [{"kind": "discussion", "title": "研讨", "minutes": 30}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    try:
        await host.ok("activity.start", activity_id=aid)
    finally:
        await host.close()

    errors: list[str] = []
    scripts: dict[str, tuple[str, int, str]] = {}  # path -> (query, status, cache-control)

    async def seen(response):
        url = httpx.URL(response.url)
        if url.path.endswith(".js"):
            scripts[url.path] = (url.query.decode(), response.status, await response.header_value("cache-control") or "")

    context = await browser.new_context(locale="en-US")
    await context.add_init_script(f"localStorage.setItem('collab_token', {users['org1'][1]!r})")
    page = await context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", seen)
    await page.goto(f"{server.url}/activities/{aid}")
    await page.wait_for_selector("#stage .stage-head", timeout=15_000)
    await page.wait_for_selector("#stage .stage-go:visible", timeout=10_000)  # the organizer may go on stage
    try:
        assert MODULES <= set(scripts), sorted(MODULES - set(scripts))
        for path in MODULES:
            query, status, caching = scripts[path]
            assert re.fullmatch(r"v=[0-9a-f]{12}", query), (path, query)  # its digest, not the plain URL
            assert status == 200 and caching == "public, max-age=31536000, immutable", (path, status, caching)
        assert "/static/activity.js" in scripts  # the room's classic script ran after the stage
        assert await page.inner_text("#stage h2") == "Stage"
        assert not errors, errors
    finally:
        await context.close()
