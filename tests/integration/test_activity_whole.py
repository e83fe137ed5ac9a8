"""One activity from scheduling to replay, the way it runs in production: two server processes over real
Redis and PostgreSQL, an organizer, a host, an expert and five teachers, some on each node.

The organizer schedules it (approval registration, one teacher by invitation link), the host runs four
phases, teachers chat, ask and upvote, answer a poll and raise hands, one drops and comes back on the
other node; then the replay, the attendance report and each teacher's learning record must tell what
happened. The credit rule is shrunk (a share of the scheduled hour that a test can reach) so that one
teacher earns credit and one who left early does not.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker

pytestmark = pytest.mark.usefixtures("validate_pushes")  # every push as docs/pushes.schema.json says

CREDIT_RATIO = 0.003  # of a one-hour schedule: 10.8 s present earns credit
PEOPLE = [("org", "organizer"), ("host", "teacher"), ("expert", "expert"), ("t1", "teacher"), ("t2", "teacher"),
          ("t3", "teacher"), ("t4", "teacher"), ("t5", "teacher")]


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    users = {}
    async with make_sessionmaker(engine)() as db:
        for username, role in PEOPLE:
            u = await create_user(db, username="whole_" + username, password="password-" + username,
                                  display_name=username.upper(), role=role)
            users[username] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    a = harness.Server(url, redis_url, name="whole-a", credit_ratio=CREDIT_RATIO).start(wait=False)
    b = harness.Server(url, redis_url, name="whole-b", credit_ratio=CREDIT_RATIO).start(wait=False)
    a.wait()
    b.wait()
    yield a, b, users
    a.cleanup()
    b.cleanup()
    await harness.drop_pg_database(url)


async def until(client, kind, where=lambda e: True, timeout=10.0) -> dict:
    """The next push of `kind` (others may come first)."""
    deadline = time.monotonic() + timeout
    while True:
        push = await client.push(timeout=max(0.1, deadline - time.monotonic()))
        if "e" in push and push["e"]["type"] == kind and where(push["e"]):
            return push["e"]


async def test_a_whole_activity_from_scheduling_to_replay(world):
    a, b, users = world
    uid = {k: v[0] for k, v in users.items()}
    auth = {k: {"Authorization": f"Bearer {v[1]}"} for k, v in users.items()}
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    agenda = [{"kind": "lesson_display", "title": "课例展示", "minutes": 15},
              {"kind": "discussion", "title": "研讨交流", "minutes": 15},
              {"kind": "expert_guidance", "title": "专家引领", "minutes": 15},
              {"kind": "online_interaction", "title": "在线互动", "minutes": 15}]

    # -- the organizer schedules it; teachers register; one comes by invitation ---------------------
    async with httpx.AsyncClient(base_url=a.url) as http:
        r = await http.post("/api/activities", headers=auth["org"], json={
            "title": "初中数学 函数的概念 课例研讨", "subject": "math", "grade": "8", "level": "province",
            "region": "浙江", "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "capacity": 100, "visibility": "registered", "registration": "approval", "agenda": agenda,
            "hosts": [uid["host"]], "experts": [uid["expert"]]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        listed = (await http.get("/api/activities?status=upcoming&subject=math&region=浙江", headers=auth["t1"])).json()
        assert aid in [x["id"] for x in listed["activities"]]
        for t in ("t1", "t2", "t3", "t4"):
            assert (await http.post(f"/api/activities/{aid}/register", headers=auth[t])).json()["status"] == "pending"
        for t, yes in (("t1", True), ("t2", True), ("t3", True), ("t4", False)):
            r = await http.post(f"/api/activities/{aid}/registrations/{uid[t]}", headers=auth["org"],
                                json={"approve": yes})
            assert r.status_code == 200, r.text
        link = (await http.post(f"/api/activities/{aid}/invitations", json={"hours": 2}, headers=auth["org"])).json()
        joined = await http.post(f"/api/activities/{aid}/join", json={"token": link["token"]}, headers=auth["t5"])
        assert joined.json()["status"] == "approved"
        ics = await http.get(f"/api/activities/{aid}/calendar.ics", headers=auth["t1"])
        assert "SUMMARY:初中数学 函数的概念 课例研讨" in ics.text and "研讨交流" in ics.text

    # -- the lobby: teachers on both nodes wait with the agenda; a rejected teacher stays out --------
    host = await harness.WsClient(a.ws_url).open(users["host"][1])
    expert = await harness.WsClient(a.ws_url).open(users["expert"][1])
    await host.ok("activity.open_lobby", activity_id=aid)
    teachers = {}
    for t, node in (("t1", b), ("t2", b), ("t3", a), ("t5", a)):
        c = teachers[t] = await harness.WsClient(node.ws_url).open(users[t][1])
        snap = await c.ok("activity.snapshot", activity_id=aid)
        assert snap["activity"]["state"] == "lobby" and [p["title"] for p in snap["activity"]["agenda"]] == \
            [p["title"] for p in agenda]
        await c.ok("subscribe", channel=snap["channel"], since=snap["since"])
    rejected = await harness.WsClient(b.ws_url).open(users["t4"][1])
    assert (await rejected.call("activity.snapshot", activity_id=aid))["error"]["code"] == "forbidden"
    await expert.ok("subscribe", channel=f"activity:{aid}:mod")
    t1, t2, t3, t5 = (teachers[t] for t in ("t1", "t2", "t3", "t5"))
    present_since = {t: time.monotonic() for t in teachers}

    # -- lesson display: the room watches, chat is for staff ----------------------------------------
    await host.ok("activity.start", activity_id=aid)
    for c in teachers.values():
        assert (await until(c, "started"))["phase"] == 0
    assert (await t1.call("chat.post", activity_id=aid, body="早"))["error"]["code"] == "chat_closed"
    q1 = (await t2.ok("qa.ask", activity_id=aid, body="为什么先讲对应关系？"))["question"]  # questions stay open
    assert (await until(t1, "question"))["question"]["id"] == q1["id"]

    # t3 leaves early: present for a few seconds, not enough for credit
    await asyncio.sleep(1.5)
    await t3.close()
    t3_left = time.monotonic()

    # -- discussion: chat with a reply, a pin, slow mode, a hand called on stage ---------------------
    await host.ok("activity.next_phase", activity_id=aid)
    assert (await until(t5, "phase_changed"))["phase"] == 1
    m1 = (await t1.ok("chat.post", activity_id=aid, body="情境引入很自然 <script>x</script>"))["message"]
    reply = (await t5.ok("chat.post", activity_id=aid, body="同意", reply_to=m1["id"]))["message"]
    seen = await until(t2, "chat", lambda e: e["message"]["id"] == reply["id"])
    assert seen["message"]["reply_to"] == m1["id"]
    await expert.ok("chat.pin", activity_id=aid, message_id=m1["id"])
    assert (await until(t5, "chat_pinned"))["message_id"] == m1["id"]
    await expert.ok("chat.slow_mode", activity_id=aid, seconds=30)
    await t2.ok("chat.post", activity_id=aid, body="第一条")
    assert (await t2.call("chat.post", activity_id=aid, body="第二条"))["error"]["code"] == "slow_mode"
    await t1.ok("hand.raise", activity_id=aid)
    await expert.ok("hand.call", activity_id=aid, user_id=uid["t1"])
    assert (await until(t5, "hand_called"))["user_id"] == uid["t1"]

    # t1 drops (a bad connection) and comes back on the other node, missing nothing
    await until(t1, "hand_called")
    await t1.close()
    t1_gap_from = time.monotonic()
    await expert.ok("chat.post", activity_id=aid, body="专家：请关注函数定义的三要素")
    await asyncio.sleep(1.0)
    t1 = teachers["t1"] = await harness.WsClient(a.ws_url).open(users["t1"][1])
    t1_gap = time.monotonic() - t1_gap_from
    snap = await t1.ok("activity.snapshot", activity_id=aid)
    assert snap["activity"]["current_phase"] == 1 and [m["id"] for m in snap["chat"]["pinned"]] == [m1["id"]]
    assert "专家：请关注函数定义的三要素" in [m["body"] for m in snap["chat"]["recent"]]
    assert snap["activity"]["slow_mode"] == 30
    await t1.ok("subscribe", channel=snap["channel"], since=snap["since"])

    # -- expert guidance: upvotes from both nodes, a written answer, the spotlight -------------------
    await host.ok("activity.next_phase", activity_id=aid)
    for voter in (t1, t5):
        await voter.ok("qa.vote", activity_id=aid, question_id=q1["id"])
    assert (await t1.call("qa.vote", activity_id=aid, question_id=q1["id"]))["error"]["code"] == "already_voted"
    totals = await until(t2, "qa_votes", lambda e: e["votes"].get(str(q1["id"])) == 2)
    assert totals["votes"][str(q1["id"])] == 2
    await expert.ok("qa.answer", activity_id=aid, question_id=q1["id"], text="对应关系是函数概念的核心。")
    assert (await until(t5, "question_answered"))["answer"] == "对应关系是函数概念的核心。"
    await expert.ok("qa.spotlight", activity_id=aid, question_id=q1["id"])
    assert (await until(t1, "question_spotlight"))["question_id"] == q1["id"]
    assert (await t2.call("qa.answer", activity_id=aid, question_id=q1["id"], text="me"))["error"]["code"] == "forbidden"

    # -- online interaction: a poll every teacher answers; the final tally reaches everyone ----------
    await host.ok("activity.next_phase", activity_id=aid)
    poll = (await expert.ok("poll.create", activity_id=aid, question="本节课的重点是否突出？",
                            options=["突出", "一般", "不突出"]))["poll"]
    for c in (t1, t2, t5):
        assert (await until(c, "poll_opened"))["poll"]["id"] == poll["id"]
    await t1.ok("poll.answer", activity_id=aid, poll_id=poll["id"], choices=[0])
    await t2.ok("poll.answer", activity_id=aid, poll_id=poll["id"], choices=[1])
    await t5.ok("poll.answer", activity_id=aid, poll_id=poll["id"], choices=[0])
    await expert.ok("poll.close", activity_id=aid, poll_id=poll["id"])
    await expert.ok("poll.show_results", activity_id=aid, poll_id=poll["id"])
    for c in (t1, t2, t5):
        shown = await until(c, "poll_results_shown")
        assert shown["results"]["counts"] == [2, 1, 0] and shown["results"]["voters"] == 3

    # -- the end: replay, attendance, learning records ----------------------------------------------
    wanted_presence = 11.5  # past the 10.8 s that earn credit
    elapsed = time.monotonic() - present_since["t5"]
    if elapsed < wanted_presence:
        await asyncio.sleep(wanted_presence - elapsed)
    await host.ok("activity.end", activity_id=aid)
    assert (await until(t5, "ended"))
    ended = time.monotonic()
    for c in (t1, t2, t5, expert, host, rejected):
        await c.close()
    await host_archive(a, users, aid)

    async with httpx.AsyncClient(base_url=b.url) as http:
        replay = (await http.get(f"/api/activities/{aid}/replay", headers=auth["t2"])).json()
        assert [p["title"] for p in replay["phases"]] == [p["title"] for p in agenda]
        assert all(p["started_at"] and p["ended_at"] for p in replay["phases"])
        bodies = [m["body"] for m in replay["chat"]]
        assert "情境引入很自然 <script>x</script>" in bodies and "第二条" not in bodies  # stored as typed
        [q] = replay["questions"]
        assert q["answer"] == "对应关系是函数概念的核心。" and q["votes"] == 2
        assert replay["polls"][0]["counts"] == [2, 1, 0]

        deadline = time.monotonic() + 10
        while True:  # nodes write attendance within about a second
            report = (await http.get(f"/api/activities/{aid}/attendance", headers=auth["org"])).json()
            rows = {r["user_id"]: r for r in report["attendees"]}
            if all(rows.get(uid[t], {}).get("last_leave") for t in ("t1", "t2", "t3", "t5")) \
                    or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        assert set(rows) >= {uid["t1"], uid["t2"], uid["t3"], uid["t5"]} and uid["t4"] not in rows
        assert rows[uid["t1"]]["rejoins"] == 1
        t1_expected = (ended - present_since["t1"]) - t1_gap
        assert abs(rows[uid["t1"]]["seconds"] - t1_expected) <= 1.5, (rows[uid["t1"]], t1_expected)
        t3_expected = t3_left - present_since["t3"]
        assert abs(rows[uid["t3"]]["seconds"] - t3_expected) <= 1.5, (rows[uid["t3"]], t3_expected)
        assert rows[uid["t5"]]["credited"] is True and rows[uid["t3"]]["credited"] is False
        assert (await http.get(f"/api/activities/{aid}/attendance", headers=auth["expert"])).status_code == 403
        csv_text = (await http.get(f"/api/activities/{aid}/attendance.csv", headers=auth["org"])).text
        assert "T5" in csv_text and "T4" not in csv_text

        for t, credited in (("t5", True), ("t3", False)):
            learning = (await http.get("/api/me/learning", headers=auth[t])).json()
            [entry] = [x for x in learning["activities"] if x["activity_id"] == aid]
            assert entry["credited"] is credited and entry["minutes"] == rows[uid[t]]["minutes"]


async def host_archive(node, users, aid: int) -> None:
    host = await harness.WsClient(node.ws_url).open(users["host"][1])
    await host.ok("activity.archive", activity_id=aid)
    assert (await host.call("activity.start", activity_id=aid))["error"]["code"] == "wrong_state"
    await host.close()
