"""A teacher removed from the room while their network was down learns it when they come back: the
page's resubscription is refused, and the room says so instead of sitting silently unsubscribed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

import harness
from browsing import shot, signed_in


async def test_removed_while_offline_is_told_on_reconnect(browser, server, users):
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers={"Authorization": f"Bearer {users['org1'][1]}"}, json={
            "title": "断网期间被移出", "visibility": "public", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(), "agenda": [{"kind": "discussion", "minutes": 30}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await host.ok("activity.start", activity_id=aid)
    link = await harness.CuttableProxy(server.port).start()  # the teacher's network
    ctx, page = await signed_in(browser, link.url, users["teacher1"][1], f"/activities/{aid}", locale="zh-CN",
                                wait="#conn.online")
    await page.wait_for_selector("#chat-box:not([hidden])", timeout=10_000)
    link.cut()
    await page.wait_for_selector("#conn:not(.online)", timeout=10_000)
    await host.ok("activity.remove", activity_id=aid, user_id=users["teacher1"][0])
    link.restore()
    await page.wait_for_selector("#conn.online", timeout=30_000)
    await page.wait_for_function(
        "document.body.innerText.includes('您已被主持人移出本活动')", timeout=10_000)
    await shot(page, "room-removed-while-offline-zh")
    await ctx.close()
    await host.close()
