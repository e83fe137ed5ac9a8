"""What docs/protocol.md promises about errors and limits, as a client meets them on a real server."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import harness
from harness import validate_pushes  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("validate_pushes")


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url, name="documented", auth_timeout=1).start()
    yield s
    s.cleanup()


async def test_a_missing_or_non_string_channel_is_bad_channel(server, users):
    c = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    for cmd in ("subscribe", "unsubscribe", "presence"):
        for args in ({}, {"channel": None}, {"channel": 12}, {"channel": ["announce:all"]}, {"channel": ""}):
            r = await c.call(cmd, **args)
            assert r["error"]["code"] == "bad_channel", (cmd, args, r)
    await c.close()


async def test_no_connect_in_time_is_told_in_one_line_then_closed_with_4001(server):
    c = await harness.WsClient(server.ws_url).open()
    assert await c.wait_closed(10) == 4001
    assert c.errors_without_id == [{"id": None, "error": {"code": "unauthenticated",
                                                          "message": "no connect within the time allowed"}}]


async def test_staff_are_exempt_from_the_chat_limits_teachers_are_not(server, users):
    org_id, org_token = users["org1"]
    auth = {"Authorization": f"Bearer {org_token}"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers=auth, json={
            "title": "限速", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "agenda": [{"kind": "discussion", "title": "研讨", "minutes": 30}],
            "experts": [users["expert1"][0]]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        r = await http.post(f"/api/activities/{aid}/register", headers={"Authorization": f"Bearer {users['teacher1'][1]}"})
        assert r.json()["status"] == "approved", r.text
    org = await harness.WsClient(server.ws_url).open(org_token)
    expert = await harness.WsClient(server.ws_url).open(users["expert1"][1])
    teacher = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    await org.ok("activity.open_lobby", activity_id=aid)
    await org.ok("chat.slow_mode", activity_id=aid, seconds=60)
    await org.ok("chat.premoderation", activity_id=aid, on=True)
    await org.ok("chat.mute", activity_id=aid, user_id=users["expert1"][0])  # a mute does not hold staff either
    posts = await asyncio.gather(*(c.ok("chat.post", activity_id=aid, body=f"主持 {i}")
                                   for i in range(3) for c in (org, expert)))
    assert [p["message"]["status"] for p in posts] == ["visible"] * 6  # at once, not held, not slowed
    first = await teacher.ok("chat.post", activity_id=aid, body="老师好")
    assert first["message"]["status"] == "held"
    again = await teacher.call("chat.post", activity_id=aid, body="再说一句")
    assert again["error"]["code"] == "slow_mode"
    for c in (org, expert, teacher):
        await c.close()
