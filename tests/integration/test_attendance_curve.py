"""The attendance curve: how many teachers were in the room at each moment of the live window, from the
stored intervals, with the phases marked. A real server on SQLite and PostgreSQL; teachers join the way
the room page does (connect, activity.snapshot, subscribe from its position) at different times."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import harness

SLACK = 0.7  # seconds around a join or leave where a point may fall either side


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


def as_(users, who):
    return {"Authorization": f"Bearer {users[who][1]}"}


async def join(server, users, who, aid) -> tuple[harness.WsClient, datetime]:
    ws = await harness.WsClient(server.ws_url).open(users[who][1])
    snap = await ws.ok("activity.snapshot", activity_id=aid)
    await ws.ok("subscribe", channel=snap["channel"], since=snap["since"])
    return ws, datetime.now(timezone.utc)


async def test_the_curve_counts_teachers_as_they_come_and_go(server, users):
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/activities", headers=as_(users, "org1"), json={
            "title": "出勤曲线", "visibility": "registered", "registration": "open",
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 30},
                       {"kind": "discussion", "title": "研讨", "minutes": 30}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        for who in ("teacher1", "teacher2"):
            assert (await http.post(f"/api/activities/{aid}/register", headers=as_(users, who))).json()["status"] == "approved"
        before = (await http.get(f"/api/activities/{aid}/attendance", headers=as_(users, "org1"))).json()
        assert before["timeline"] == [] and before["phases"] == [] and before["started_at"] is None

        host = await harness.WsClient(server.ws_url).open(users["org1"][1])  # runs it, never subscribes
        await host.ok("activity.open_lobby", activity_id=aid)
        await host.ok("activity.start", activity_id=aid)
        t1, t1_in = await join(server, users, "teacher1", aid)
        await asyncio.sleep(3.5)
        t2, t2_in = await join(server, users, "teacher2", aid)
        await asyncio.sleep(2)
        await host.ok("activity.next_phase", activity_id=aid)
        await asyncio.sleep(2)
        await t1.close()
        t1_out = datetime.now(timezone.utc)
        await asyncio.sleep(3.5)
        await host.ok("activity.end", activity_id=aid)
        ended = datetime.now(timezone.utc)
        await t2.close()
        await host.close()

        deadline = time.monotonic() + 10
        while True:  # the node writes its intervals within a second
            report = (await http.get(f"/api/activities/{aid}/attendance", headers=as_(users, "org1"))).json()
            rows = {row["user_id"]: row for row in report["attendees"]}
            if (len(rows) == 2 and all(row["last_leave"] for row in rows.values())) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        denied = await http.get(f"/api/activities/{aid}/attendance", headers=as_(users, "teacher1"))
        assert denied.status_code == 403

    assert set(rows) == {users["teacher1"][0], users["teacher2"][0]}  # the organizer never entered
    assert report["timeline_step"] == 1  # a window of seconds: a point a second
    points = [(datetime.fromisoformat(p["at"]), p["present"]) for p in report["timeline"]]
    started = datetime.fromisoformat(report["started_at"])
    assert points[0][0] == started and datetime.fromisoformat(report["ended_at"]) <= ended
    assert all((b[0] - a[0]).total_seconds() == 1 for a, b in zip(points, points[1:]))
    assert len(points) >= 11
    stays = [(t1_in, t1_out), (t2_in, ended)]
    events = [t for stay in stays for t in stay]
    checked = 0
    for at, present in points:
        if any(abs((at - e).total_seconds()) < SLACK for e in events):
            continue
        assert present == sum(1 for a, b in stays if a <= at < b), (at, present, report["timeline"])
        checked += 1
    assert checked >= 5
    assert max(n for _, n in points) == 2 and {0, 1, 2} >= {n for _, n in points}
    assert [(p["phase"], p["title"]) for p in report["phases"]] == [(0, "课例展示"), (1, "研讨")]
    assert abs((datetime.fromisoformat(report["phases"][0]["at"]) - started).total_seconds()) < 1

