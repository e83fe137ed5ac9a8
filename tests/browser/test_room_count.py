"""The room's online count in real browsers on two nodes sharing Redis and PostgreSQL: every page, at a
desktop or a phone's width, in Chinese or English, shows the same number, and it follows people
coming and going (it used to read 0, or the number of the moment each page opened)."""

from __future__ import annotations

import httpx
import pytest

import harness
from browsing import shot, signed_in

INTERVAL = 0.5  # --presence-interval of both nodes
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
async def nodes(database_url, redis_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("two nodes share PostgreSQL")
    a = harness.Server(database_url, redis_url, name="room-count-a", presence_interval=INTERVAL).start(wait=False)
    b = harness.Server(database_url, redis_url, name="room-count-b", presence_interval=INTERVAL).start(wait=False)
    a.wait()
    b.wait()
    yield a, b
    a.cleanup()
    b.cleanup()


async def shows(page, n: int) -> None:
    await page.wait_for_function(f"document.querySelector('#count').dataset.users === '{n}'", timeout=15_000)


async def test_pages_on_two_nodes_show_the_same_count_as_people_come_and_go(browser, nodes, users):
    a, b = nodes
    async with httpx.AsyncClient(base_url=a.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "在线人数", "visibility": "public", "starts_at": "2027-05-01T14:00:00+08:00",
            "ends_at": "2027-05-01T16:00:00+08:00", "agenda": [{"kind": "discussion", "minutes": 30}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    path = f"/activities/{aid}"
    org_ctx, org = await signed_in(browser, a.url, users["org1"][1], path, locale="zh-CN", wait="#conn.online")
    t1_ctx, t1 = await signed_in(browser, b.url, users["teacher1"][1], path, locale="zh-CN", wait="#conn.online",
                                 **PHONE)
    t2_ctx, t2 = await signed_in(browser, b.url, users["teacher2"][1], path, locale="en-US", wait="#conn.online")
    for page in (org, t1, t2):
        await shows(page, 3)
    assert "在线 3" in await t1.inner_text("#count") and "3 online" in await t2.inner_text("#count")
    await shot(t1, "room-count-phone-zh")

    await t2_ctx.close()  # one leaves: the organizer on the other node and the phone see it
    for page in (org, t1):
        await shows(page, 2)
    t2_ctx, t2 = await signed_in(browser, a.url, users["teacher2"][1], path, locale="zh-CN", wait="#conn.online")
    for page in (org, t1, t2):
        await shows(page, 3)
    await shot(org, "room-count-desktop-zh")
    for ctx in (org_ctx, t1_ctx, t2_ctx):
        await ctx.close()
