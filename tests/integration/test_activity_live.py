"""Running an activity across two server processes sharing real Redis and PostgreSQL: the host on one
node, teachers on the other; snapshot for late joiners; who may run it; two hosts at once."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker

pytestmark = pytest.mark.usefixtures("validate_pushes")  # every push as docs/pushes.schema.json says


@pytest.fixture(scope="module")
async def pg_users():
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    out = {}
    async with make_sessionmaker(engine)() as db:
        for username, role in [("org", "organizer"), ("host2", "teacher"), ("expert", "expert"),
                               ("teacher1", "teacher"), ("teacher2", "teacher"), ("outsider", "teacher")]:
            u = await create_user(db, username=username, password="password-" + username,
                                  display_name=username.title(), role=role)
            out[username] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    yield url, out
    await harness.drop_pg_database(url)


@pytest.fixture(scope="module")
async def nodes(pg_users, redis_url):
    url, _ = pg_users
    a = harness.Server(url, redis_url, name="live-a").start(wait=False)
    b = harness.Server(url, redis_url, name="live-b").start(wait=False)
    a.wait()
    b.wait()
    yield a, b
    a.cleanup()
    b.cleanup()


AGENDA = [{"kind": "lesson_display", "title": "课例展示", "minutes": 45},
          {"kind": "discussion", "title": "研讨", "minutes": 30},
          {"kind": "expert_guidance", "title": "专家点评", "minutes": 20}]


async def scheduled(node, users, register: bool = True, **extra) -> int:
    body = {"title": "live test", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "agenda": AGENDA, "hosts": [users["org"][0], users["host2"][0]], "experts": [users["expert"][0]]}
    body.update(extra)
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/activities", json=body, headers={"Authorization": f"Bearer {users['org'][1]}"})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        if not register:
            return aid
        r = await http.post(f"/api/activities/{aid}/register", headers={"Authorization": f"Bearer {users['teacher1'][1]}"})
        assert r.json()["status"] == "approved"
    return aid


async def test_host_on_one_node_runs_phases_teachers_on_the_other_follow(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users)
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    teacher = await harness.WsClient(b.ws_url).open(users["teacher1"][1])
    snap = await teacher.ok("activity.snapshot", activity_id=aid)
    assert snap["activity"]["state"] == "scheduled" and snap["me"]["may_run"] is False
    await teacher.ok("subscribe", channel=snap["channel"], since=snap["since"])

    steps = [("activity.open_lobby", {}), ("activity.start", {}), ("activity.next_phase", {}),
             ("activity.extend_phase", {"minutes": 10}), ("activity.goto_phase", {"phase": 2}), ("activity.end", {})]
    for cmd, args in steps:
        await host.ok(cmd, activity_id=aid, **args)
    got = await teacher.pushes_until(len(steps))
    assert [p["e"]["type"] for p in got] == ["lobby_opened", "started", "phase_changed", "phase_extended",
                                             "phase_changed", "ended"]
    assert [p["e"].get("phase") for p in got][1:5] == [0, 1, 1, 2]
    assert got[0]["e"]["by"]["name"] == "Org"
    assert [p["o"] for p in got] == list(range(snap["since"]["offset"] + 1, snap["since"]["offset"] + 7))

    async with httpx.AsyncClient(base_url=b.url) as http:
        auth = {"Authorization": f"Bearer {users['teacher1'][1]}"}
        state = (await http.get(f"/api/activities/{aid}", headers=auth)).json()
        assert state["state"] == "ended" and state["current_phase"] == 2 and state["agenda"][1]["minutes"] == 40
        timeline = (await http.get(f"/api/activities/{aid}/timeline", headers=auth)).json()["events"]
        assert [e["id"] for e in timeline] == [p["e"]["id"] for p in got]  # recorded, then broadcast
    await host.close()
    await teacher.close()


async def test_late_joiner_gets_the_current_phase_in_a_snapshot(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users)
    host = await harness.WsClient(a.ws_url).open(users["host2"][1])  # a host who is not the organizer
    for cmd in ("activity.start", "activity.next_phase"):
        await host.ok(cmd, activity_id=aid)
    async with httpx.AsyncClient(base_url=b.url) as http:
        await http.post(f"/api/activities/{aid}/register", headers={"Authorization": f"Bearer {users['teacher2'][1]}"})
    late = await harness.WsClient(b.ws_url).open(users["teacher2"][1])
    snap = await late.ok("activity.snapshot", activity_id=aid)
    assert snap["activity"]["state"] == "live" and snap["activity"]["current_phase"] == 1
    assert snap["activity"]["agenda"][1]["title"] == "研讨"
    await late.ok("subscribe", channel=snap["channel"], since=snap["since"])
    await host.ok("activity.next_phase", activity_id=aid)
    push = await late.push()
    assert push["e"]["type"] == "phase_changed" and push["e"]["phase"] == 2
    await host.close()
    await late.close()


async def test_who_may_watch_and_who_may_run(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users)
    outsider = await harness.WsClient(b.ws_url).open(users["outsider"][1])
    r = await outsider.call("subscribe", channel=f"activity:{aid}")
    assert r["error"]["code"] == "forbidden"  # not registered for a "registered" activity
    assert (await outsider.call("activity.snapshot", activity_id=aid))["error"]["code"] == "forbidden"
    assert (await outsider.call("subscribe", channel="activity:999999"))["error"]["code"] == "forbidden"
    teacher = await harness.WsClient(b.ws_url).open(users["teacher1"][1])
    r = await teacher.call("activity.start", activity_id=aid)
    assert r["error"]["code"] == "forbidden"
    expert = await harness.WsClient(b.ws_url).open(users["expert"][1])
    assert (await expert.call("activity.start", activity_id=aid))["error"]["code"] == "forbidden"
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    r = await host.call("activity.next_phase", activity_id=aid)
    assert r["error"]["code"] == "wrong_state"
    assert (await host.call("activity.start", activity_id=999999))["error"]["code"] == "not_found"
    assert (await host.call("activity.start", activity_id="1"))["error"]["code"] == "invalid"
    async with httpx.AsyncClient(base_url=a.url) as http:
        state = (await http.get(f"/api/activities/{aid}", headers={"Authorization": f"Bearer {users['org'][1]}"})).json()
    assert state["state"] == "scheduled"  # nothing that was refused changed anything
    for c in (outsider, teacher, expert, host):
        await c.close()


async def test_two_hosts_press_next_at_once_on_two_nodes(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users)
    h1 = await harness.WsClient(a.ws_url).open(users["org"][1])
    h2 = await harness.WsClient(b.ws_url).open(users["host2"][1])
    await h1.ok("activity.start", activity_id=aid)
    for _ in range(5):
        r1, r2 = await asyncio.gather(h1.call("activity.next_phase", activity_id=aid),
                                      h2.call("activity.next_phase", activity_id=aid))
        oks = [r for r in (r1, r2) if "ok" in r]
        if len(oks) == 1:
            break
    async with httpx.AsyncClient(base_url=a.url) as http:
        auth = {"Authorization": f"Bearer {users['org'][1]}"}
        timeline = (await http.get(f"/api/activities/{aid}/timeline", headers=auth)).json()["events"]
        state = (await http.get(f"/api/activities/{aid}", headers=auth)).json()
    phases = [e["phase"] for e in timeline if e["type"] == "phase_changed"]
    assert phases == sorted(set(phases)) and state["current_phase"] == phases[-1]  # no phase taken twice
    errors = [r["error"]["code"] for r in (r1, r2) if "error" in r]
    assert set(errors) <= {"conflict", "last_phase"}
    await h1.close()
    await h2.close()


async def test_attendance_is_exact_when_a_teacher_drops_and_rejoins_on_the_other_node(nodes, pg_users):
    import time

    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users)
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    channel = f"activity:{aid}"

    t = await harness.WsClient(a.ws_url).open(users["teacher1"][1])
    await t.ok("subscribe", channel=channel)
    joined1 = time.monotonic()
    await asyncio.sleep(3)
    await t.close()  # the connection drops...
    left1 = time.monotonic()
    await asyncio.sleep(2)
    t2 = await harness.WsClient(b.ws_url).open(users["teacher1"][1])  # ...and comes back on the other node
    await t2.ok("subscribe", channel=channel)
    joined2 = time.monotonic()
    tab = await harness.WsClient(a.ws_url).open(users["teacher1"][1])  # a second tab meanwhile
    await tab.ok("subscribe", channel=channel)
    await asyncio.sleep(3)
    await tab.close()
    await t2.close()
    left2 = time.monotonic()
    await host.ok("activity.end", activity_id=aid)
    present = (left1 - joined1) + (left2 - joined2)

    auth = {"Authorization": f"Bearer {users['org'][1]}"}
    async with httpx.AsyncClient(base_url=b.url) as http:
        deadline = time.monotonic() + 10
        while True:  # each node writes its intervals within a second
            report = (await http.get(f"/api/activities/{aid}/attendance", headers=auth)).json()
            mine = [r for r in report["attendees"] if r["user_id"] == users["teacher1"][0]]
            if mine and mine[0]["last_leave"] and mine[0]["rejoins"] == 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        [row] = mine
        assert row["rejoins"] == 1  # two tabs at once counted once; the drop counted as one rejoin
        assert abs(row["seconds"] - present) <= 1.0, (row, present)
        assert row["credited"] is False  # seconds of a two-hour activity
        csv_text = (await http.get(f"/api/activities/{aid}/attendance.csv?format=machine", headers=auth)).text
        assert csv_text.lstrip("\ufeff").startswith("user_id,name,school,region,first_join,last_leave,minutes")
        assert "Teacher1" in csv_text
        denied = await http.get(f"/api/activities/{aid}/attendance",
                                headers={"Authorization": f"Bearer {users['teacher1'][1]}"})
        assert denied.status_code == 403
        learning = (await http.get("/api/me/learning",
                                   headers={"Authorization": f"Bearer {users['teacher1'][1]}"})).json()
        entry = [x for x in learning["activities"] if x["activity_id"] == aid]
        assert entry and entry[0]["minutes"] == row["minutes"] and entry[0]["credited"] is False
    await host.close()


async def live_room(a, b, users):
    """A live activity in its discussion phase: the expert moderates on node A, teachers sit on node B."""
    aid = await scheduled(a, users)
    async with httpx.AsyncClient(base_url=a.url) as http:
        await http.post(f"/api/activities/{aid}/register", headers={"Authorization": f"Bearer {users['teacher2'][1]}"})
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)
    await host.ok("activity.next_phase", activity_id=aid)  # discussion: chat open
    expert = await harness.WsClient(a.ws_url).open(users["expert"][1])
    await expert.ok("subscribe", channel=f"activity:{aid}:mod")
    t1 = await harness.WsClient(b.ws_url).open(users["teacher1"][1])
    t2 = await harness.WsClient(b.ws_url).open(users["teacher2"][1])
    await t2.ok("subscribe", channel=f"activity:{aid}")
    return aid, host, expert, t1, t2


async def test_chat_moderation_is_enforced_on_the_other_node(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid, host, expert, t1, t2 = await live_room(a, b, users)

    first = await t1.ok("chat.post", activity_id=aid, body="老师们好 <b>hi</b>")
    seen = await t2.push()
    assert seen["e"]["type"] == "chat" and seen["e"]["message"]["body"] == "老师们好 <b>hi</b>"

    # slow mode, set by the expert on node A, holds a teacher back on node B
    await expert.ok("chat.slow_mode", activity_id=aid, seconds=30)
    assert (await t2.push())["e"]["type"] == "slow_mode"
    assert (await t1.call("chat.post", activity_id=aid, body="again"))["error"]["code"] == "slow_mode"
    await expert.ok("chat.slow_mode", activity_id=aid, seconds=0)
    await t2.push()

    # pre-moderation: a teacher's post waits at the moderators' desk, reaches the room once approved
    await expert.ok("chat.premoderation", activity_id=aid, on=True)
    await t2.push()
    held = await t2.ok("chat.post", activity_id=aid, body="需要审核的问题")
    assert held["message"]["status"] == "held"
    desk = await _last(expert, "chat_held")  # the desk also sees every room setting change
    assert desk["message"]["id"] == held["message"]["id"]
    queue = await expert.ok("chat.held", activity_id=aid)  # a desk opened late lists what waits
    assert [m["body"] for m in queue["messages"]] == ["需要审核的问题"]
    assert (await t1.call("chat.held", activity_id=aid))["error"]["code"] == "forbidden"  # moderators only
    await expert.ok("chat.approve", activity_id=aid, message_id=held["message"]["id"])
    assert (await expert.ok("chat.held", activity_id=aid))["messages"] == []
    room = await t2.pushes_until(2)
    assert room[0]["e"]["type"] == "chat" and room[0]["e"]["message"]["body"] == "需要审核的问题"
    await expert.ok("chat.premoderation", activity_id=aid, on=False)
    await t2.push()

    # mute: the teacher on node B is silenced by the expert on node A
    await expert.ok("chat.mute", activity_id=aid, user_id=users["teacher1"][0], minutes=10)
    await t2.push()
    await asyncio.sleep(1.1)
    assert (await t1.call("chat.post", activity_id=aid, body="still here?"))["error"]["code"] == "muted"
    await expert.ok("chat.unmute", activity_id=aid, user_id=users["teacher1"][0])
    await t2.push()
    await t1.ok("chat.post", activity_id=aid, body="thank you")
    assert (await t2.push())["e"]["message"]["body"] == "thank you"

    # hide and pin; a teacher can delete their own message but not hide someone else's
    assert (await t2.call("chat.hide", activity_id=aid, message_id=first["message"]["id"]))["error"]["code"] == "forbidden"
    await expert.ok("chat.pin", activity_id=aid, message_id=first["message"]["id"])
    assert (await _last(t2, "chat_pinned"))["message_id"] == first["message"]["id"]
    await expert.ok("chat.hide", activity_id=aid, message_id=first["message"]["id"])
    own = await t2.ok("chat.post", activity_id=aid, body="typo")
    await t2.ok("chat.delete", activity_id=aid, message_id=own["message"]["id"])
    snap = await t2.ok("activity.snapshot", activity_id=aid)
    bodies = [m["body"] for m in snap["chat"]["recent"]]
    assert "老师们好 <b>hi</b>" not in bodies and "typo" not in bodies  # hidden and deleted are gone
    assert "需要审核的问题" in bodies and "thank you" in bodies
    for c in (host, expert, t1, t2):
        await c.close()


async def _last(client, kind, where=lambda e: True):
    """Skip pushes until one of `kind` (other events may come first)."""
    while True:
        push = await client.push()
        if push["e"]["type"] == kind and where(push["e"]):
            return push["e"]


async def test_chat_is_closed_during_the_lesson_display_phase(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users)
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    await host.ok("activity.start", activity_id=aid)  # phase 0: lesson display, chat closed
    t1 = await harness.WsClient(b.ws_url).open(users["teacher1"][1])
    assert (await t1.call("chat.post", activity_id=aid, body="hello"))["error"]["code"] == "chat_closed"
    expert = await harness.WsClient(b.ws_url).open(users["expert"][1])
    await expert.ok("chat.post", activity_id=aid, body="请注意导入环节")  # staff may speak
    outsider = await harness.WsClient(b.ws_url).open(users["outsider"][1])
    assert (await outsider.call("chat.post", activity_id=aid, body="x"))["error"]["code"] == "forbidden"
    assert (await outsider.call("subscribe", channel=f"activity:{aid}:mod"))["error"]["code"] == "forbidden"
    assert (await t1.call("subscribe", channel=f"activity:{aid}:mod"))["error"]["code"] == "forbidden"
    for c in (host, t1, expert, outsider):
        await c.close()


async def test_questions_upvotes_answers_and_spotlight_across_nodes(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid, host, expert, t1, t2 = await live_room(a, b, users)
    asked = await t1.ok("qa.ask", activity_id=aid, body="如何在农村学校开展小组合作?")
    qid = asked["question"]["id"]
    assert (await _last(t2, "question"))["question"]["body"] == "如何在农村学校开展小组合作?"

    voter_a = await harness.WsClient(a.ws_url).open(users["teacher2"][1])  # the same teacher, another node
    r = await t2.ok("qa.vote", activity_id=aid, question_id=qid)
    assert r["votes"] == 1
    assert (await voter_a.call("qa.vote", activity_id=aid, question_id=qid))["error"]["code"] == "already_voted"
    await t1.ok("qa.vote", activity_id=aid, question_id=qid)
    tally = await _last(t2, "qa_votes")  # totals, at most once a second per node
    while tally["votes"].get(str(qid)) != 2:
        tally = await _last(t2, "qa_votes")
    assert (await t1.ok("qa.vote", activity_id=aid, question_id=qid, up=False))["votes"] == 1  # retracted

    assert (await t2.call("qa.answer", activity_id=aid, question_id=qid, live=True))["error"]["code"] == "forbidden"
    await expert.ok("qa.spotlight", activity_id=aid, question_id=qid)
    assert (await _last(t2, "question_spotlight"))["question_id"] == qid
    await expert.ok("qa.answer", activity_id=aid, question_id=qid, text="先从异质分组开始。")
    answered = await _last(t2, "question_answered")
    assert answered["answer"] == "先从异质分组开始。" and answered["live"] is False

    other = (await t2.ok("qa.ask", activity_id=aid, body="second"))["question"]["id"]
    await expert.ok("qa.dismiss", activity_id=aid, question_id=other)
    listed = (await t1.ok("qa.list", activity_id=aid))["questions"]
    assert [x["id"] for x in listed] == [qid] and listed[0]["spotlight"] and listed[0]["votes"] == 1

    await expert.ok("qa.approval", activity_id=aid, on=True)
    pending = (await t1.ok("qa.ask", activity_id=aid, body="held for approval"))["question"]
    assert pending["status"] == "pending"
    assert (await t1.call("qa.list", activity_id=aid, pending=True))["error"]["code"] == "forbidden"
    queue = (await expert.ok("qa.list", activity_id=aid, pending=True))["questions"]
    assert [x["id"] for x in queue] == [pending["id"]]
    await expert.ok("qa.approve", activity_id=aid, question_id=pending["id"])
    await _last(t2, "question", lambda e: e["question"]["body"] == "held for approval")
    snap = await t2.ok("activity.snapshot", activity_id=aid)
    assert snap["questions"][0]["id"] == qid  # the spotlit question leads the snapshot
    for c in (host, expert, t1, t2, voter_a):
        await c.close()


async def test_a_poll_answered_on_one_node_tallied_for_the_expert_on_the_other(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    agenda = AGENDA + [{"kind": "online_interaction", "title": "互动", "minutes": 20}]
    aid, host, expert, t1, t2 = await live_room(a, b, users)
    r = await expert.call("poll.create", activity_id=aid, question="q", options=["a", "b"])
    assert r["error"]["code"] == "polls_closed"  # the discussion phase does not run polls
    aid = await scheduled(a, users, agenda=agenda)
    async with httpx.AsyncClient(base_url=a.url) as http:
        await http.post(f"/api/activities/{aid}/register", headers={"Authorization": f"Bearer {users['teacher2'][1]}"})
    await host.ok("activity.start", activity_id=aid)
    await host.ok("activity.goto_phase", activity_id=aid, phase=3)
    await expert.ok("subscribe", channel=f"activity:{aid}:mod")
    await t2.ok("subscribe", channel=f"activity:{aid}")
    assert (await t1.call("poll.create", activity_id=aid, question="q", options=["a", "b"]))["error"]["code"] == "forbidden"
    opened = await expert.ok("poll.create", activity_id=aid, question="本节课最有启发的环节?",
                             options=["情境导入", "小组探究", "当堂检测"], anonymous=False)
    pid = opened["poll"]["id"]
    assert (await _last(t2, "poll_opened"))["poll"]["options"][1] == "小组探究"

    await t1.ok("poll.answer", activity_id=aid, poll_id=pid, choices=[0])
    await t1.ok("poll.answer", activity_id=aid, poll_id=pid, choices=[1])  # changed their mind
    await t2.ok("poll.answer", activity_id=aid, poll_id=pid, choices=[1])
    assert (await t2.call("poll.answer", activity_id=aid, poll_id=pid, choices=[0, 1]))["error"]["code"] == "invalid"
    desk = await _last(expert, "poll_counts", lambda e: e["polls"][0]["voters"] == 2)
    assert desk["polls"][0]["counts"] == [0, 2, 0]
    assert (await t1.call("poll.results", activity_id=aid, poll_id=pid))["error"]["code"] == "forbidden"

    shown = await expert.ok("poll.show_results", activity_id=aid, poll_id=pid)
    assert shown["results"]["counts"] == [0, 2, 0]
    seen = await _last(t2, "poll_results_shown")
    assert seen["results"]["counts"] == [0, 2, 0]
    assert (await t1.ok("poll.results", activity_id=aid, poll_id=pid))["counts"] == [0, 2, 0]
    named = await expert.ok("poll.results", activity_id=aid, poll_id=pid)
    assert sorted(x["user"]["id"] for x in named["answers"]) == sorted([users["teacher1"][0], users["teacher2"][0]])
    await expert.ok("poll.close", activity_id=aid, poll_id=pid)
    assert (await t1.call("poll.answer", activity_id=aid, poll_id=pid, choices=[2]))["error"]["code"] == "poll_closed"
    snap = await t2.ok("activity.snapshot", activity_id=aid)
    assert snap["poll"]["id"] == pid and snap["poll"]["results"]["counts"] == [0, 2, 0]
    for c in (host, expert, t1, t2):
        await c.close()


async def test_raised_hands_queue_in_order_and_a_call_reaches_the_room(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid, host, expert, t1, t2 = await live_room(a, b, users)  # discussion: hands allowed
    assert (await t1.ok("hand.raise", activity_id=aid))["position"] == 1
    assert (await t2.ok("hand.raise", activity_id=aid))["position"] == 2
    assert (await t1.call("hand.raise", activity_id=aid))["error"]["code"] == "already_raised"
    q = (await expert.ok("hand.queue", activity_id=aid))["hands"]
    assert [h["user"]["id"] for h in q] == [users["teacher1"][0], users["teacher2"][0]]
    assert (await t2.call("hand.queue", activity_id=aid))["error"]["code"] == "forbidden"
    assert (await t2.call("hand.call", activity_id=aid, user_id=users["teacher1"][0]))["error"]["code"] == "forbidden"
    await expert.ok("hand.call", activity_id=aid, user_id=users["teacher1"][0])
    called = await _last(t2, "hand_called")
    assert called["user_id"] == users["teacher1"][0] and called["name"] == "Teacher1"
    await t2.ok("hand.lower", activity_id=aid)
    assert (await expert.ok("hand.queue", activity_id=aid))["hands"] == []
    # the called teacher declines: the desk hears it, and the invitation no longer lets them publish
    assert (await t2.call("hand.lower", activity_id=aid, user_id=users["teacher1"][0]))["error"]["code"] == "forbidden"
    await t1.ok("hand.lower", activity_id=aid)
    declined = await _last(expert, "hand_lowered", lambda e: e["user_id"] == users["teacher1"][0])
    assert declined["declined"] is True
    assert (await t1.ok("activity.snapshot", activity_id=aid))["me"]["invited_on_stage"] is False
    assert (await t1.call("hand.lower", activity_id=aid))["error"]["code"] == "not_raised"
    await host.ok("activity.goto_phase", activity_id=aid, phase=0)  # lesson display: no hands
    assert (await t2.call("hand.raise", activity_id=aid))["error"]["code"] == "hands_closed"
    for c in (host, expert, t1, t2):
        await c.close()


async def test_reactions_are_aggregated_not_one_event_per_tap(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid, host, expert, t1, t2 = await live_room(a, b, users)
    watcher = await harness.WsClient(a.ws_url).open(users["org"][1])
    await watcher.ok("subscribe", channel=f"activity:{aid}")
    for i in range(15):
        await t1.ok("react", activity_id=aid, kind="clap")
        await t2.ok("react", activity_id=aid, kind="like" if i % 3 else "clap")
    assert (await t1.call("react", activity_id=aid, kind="boo"))["error"]["code"] == "invalid"
    total, events = Counter(), 0
    import time

    deadline = time.monotonic() + 5
    while sum(total.values()) < 30 and time.monotonic() < deadline:
        e = await _last(watcher, "reactions")
        total.update(e["counts"])
        events += 1
    assert total == Counter({"clap": 20, "like": 10}) and events <= 3
    for c in (host, expert, t1, t2, watcher):
        await c.close()


async def test_replay_after_the_end_has_phases_chat_questions_and_polls(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    agenda = AGENDA + [{"kind": "online_interaction", "title": "互动", "minutes": 20}]
    aid = await scheduled(a, users, agenda=agenda)
    host = await harness.WsClient(a.ws_url).open(users["org"][1])
    t1 = await harness.WsClient(b.ws_url).open(users["teacher1"][1])
    auth = {"Authorization": f"Bearer {users['teacher1'][1]}"}
    await host.ok("activity.start", activity_id=aid)
    async with httpx.AsyncClient(base_url=b.url) as http:
        early = await http.get(f"/api/activities/{aid}/replay", headers=auth)
        assert early.status_code == 409 and early.json()["error"]["code"] == "not_ended"
    await host.ok("activity.next_phase", activity_id=aid)
    await t1.ok("chat.post", activity_id=aid, body="回放里应该看得到")
    qid = (await t1.ok("qa.ask", activity_id=aid, body="回放问题"))["question"]["id"]
    await host.ok("qa.answer", activity_id=aid, question_id=qid, live=True)
    await host.ok("activity.goto_phase", activity_id=aid, phase=3)
    pid = (await host.ok("poll.create", activity_id=aid, question="q", options=["x", "y"]))["poll"]["id"]
    await t1.ok("poll.answer", activity_id=aid, poll_id=pid, choices=[1])
    await host.ok("poll.close", activity_id=aid, poll_id=pid)
    await host.ok("activity.end", activity_id=aid)
    async with httpx.AsyncClient(base_url=b.url) as http:
        r = (await http.get(f"/api/activities/{aid}/replay", headers=auth)).json()
    assert [p["phase"] for p in r["phases"]] == [0, 1, 3] and all(p["ended_at"] for p in r["phases"])
    assert [m["body"] for m in r["chat"]] == ["回放里应该看得到"]
    assert r["questions"][0]["answered_live"] is True
    assert r["polls"][0]["counts"] == [0, 1] and r["recordings"] == []
    await host.close()
    await t1.close()


async def test_a_removed_teacher_is_out_on_every_node_until_readmitted(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid, host, expert, t1, t2 = await live_room(a, b, users)
    await t1.ok("subscribe", channel=f"activity:{aid}")
    await expert.ok("activity.remove", activity_id=aid, user_id=users["teacher1"][0])
    while True:
        push = await t1.push()
        if "unsubscribed" in push:
            break
    assert push == {"ch": f"activity:{aid}", "unsubscribed": {"reason": "removed by a moderator"}}
    assert (await t1.call("subscribe", channel=f"activity:{aid}"))["error"]["code"] == "forbidden"
    assert (await t1.call("chat.post", activity_id=aid, body="let me back"))["error"]["code"] == "forbidden"
    await t2.ok("chat.post", activity_id=aid, body="still here")
    assert (await _last(t2, "chat"))["message"]["body"] == "still here"
    assert (await expert.call("activity.remove", activity_id=aid, user_id=users["org"][0]))["error"]["code"] == "invalid"
    await expert.ok("activity.readmit", activity_id=aid, user_id=users["teacher1"][0])
    await t1.ok("subscribe", channel=f"activity:{aid}")
    for c in (host, expert, t1, t2):
        await c.close()


# -- every node keeps a copy of the room (sessions.room_cache); a change on one node is heard on the
# other before the change is acknowledged, so a client acting on the acknowledgement meets the new rules.


async def test_a_phase_change_on_one_node_applies_at_once_on_the_other(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid, host, expert, t1, t2 = await live_room(a, b, users)
    await t1.ok("chat.post", activity_id=aid, body="discussion is open")  # node B now holds the room
    await host.ok("activity.next_phase", activity_id=aid)  # expert guidance: chat closed
    # no waiting for the push: the acknowledgement alone must be enough
    assert (await t1.call("chat.post", activity_id=aid, body="too late"))["error"]["code"] == "chat_closed"
    await host.ok("activity.goto_phase", activity_id=aid, phase=1)
    await t2.ok("chat.post", activity_id=aid, body="open again")
    await expert.ok("chat.slow_mode", activity_id=aid, seconds=60)
    assert (await t2.call("chat.post", activity_id=aid, body="again"))["error"]["code"] == "slow_mode"
    await host.ok("activity.end", activity_id=aid)
    assert (await t2.call("chat.post", activity_id=aid, body="after the end"))["error"]["code"] == "chat_closed"
    for c in (host, expert, t1, t2):
        await c.close()


async def test_an_approval_on_one_node_lets_the_teacher_in_on_the_other_at_once(nodes, pg_users):
    a, b = nodes
    _, users = pg_users
    aid = await scheduled(a, users, register=False, visibility="registered", registration="approval")
    outsider_id, outsider_token = users["outsider"]
    t = await harness.WsClient(b.ws_url).open(outsider_token)
    assert (await t.call("activity.snapshot", activity_id=aid))["error"]["code"] == "forbidden"
    auth = lambda who: {"Authorization": f"Bearer {users[who][1]}"}  # noqa: E731
    async with httpx.AsyncClient(base_url=a.url) as http:
        r = await http.post(f"/api/activities/{aid}/register", headers=auth("outsider"))
        assert r.json()["status"] == "pending"
        assert (await t.call("activity.snapshot", activity_id=aid))["error"]["code"] == "forbidden"
        r = await http.post(f"/api/activities/{aid}/registrations/{outsider_id}", headers=auth("org"),
                            json={"approve": True})
        assert r.status_code == 200, r.text
    snap = await t.ok("activity.snapshot", activity_id=aid)  # on node B, right after node A said yes
    assert snap["me"]["registration"] == "approved"
    await t.ok("subscribe", channel=f"activity:{aid}")
    async with httpx.AsyncClient(base_url=a.url) as http:  # and a cancellation shuts the door again
        r = await http.post(f"/api/activities/{aid}/cancel", headers=auth("org"))
        assert r.status_code == 200, r.text
    assert (await t.call("activity.snapshot", activity_id=aid))["error"]["code"] == "forbidden"
    await t.close()
