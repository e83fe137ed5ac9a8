"""The record of breakout groups (docs/groups.md, "The record"), on two server processes sharing real
Redis and a real database (SQLite and PostgreSQL): who was in which group, the groups' chats and notes
after the activity, the groups' CSV, the attendance report's group column and groups section, and group
time counted as attended time."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime

import httpx
import pytest

import grouprooms
import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.auth.accounts import create_user
from collab.store.db import make_engine, make_sessionmaker
from yclient import YClient

pytestmark = pytest.mark.usefixtures("validate_pushes")


@pytest.fixture(scope="module")
async def world(database_url, redis_url):
    engine = make_engine(database_url)
    users = {}
    async with make_sessionmaker(engine)() as db:
        people = [("org", "organizer", ""), ("expert", "expert", "")] + [
            (f"t{i}", "teacher", ["实验中学", "第一中学"][i % 2]) for i in range(6)]
        for username, role, school in people:
            u = await create_user(db, username="rec_" + username, password="password-" + username,
                                  display_name=f"教师{username}" if role == "teacher" else username.title(),
                                  role=role, school=school)
            users[username] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    a = harness.Server(database_url, redis_url, name="record-a").start(wait=False)
    b = harness.Server(database_url, redis_url, name="record-b").start(wait=False)
    a.wait()
    b.wait()
    yield {"users": users, "a": a, "b": b}
    a.cleanup()
    b.cleanup()


def auth(world, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world['users'][who][1]}"}


async def scheduled(world) -> int:
    body = {"title": "分组研讨记录", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": "public", "experts": [world["users"]["expert"][0]],
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 30},
                       {"kind": "group_discussion", "title": "分组研讨", "minutes": 20,
                        "groups": {"size": 2, "assign": "random", "questions": ["本节课的教学目标达成了吗？"]}},
                       {"kind": "discussion", "title": "小组汇报", "minutes": 20}]}
    async with httpx.AsyncClient(base_url=world["a"].url) as http:
        r = await http.post("/api/activities", json=body, headers=auth(world, "org"))
        assert r.status_code == 201, r.text
        return r.json()["id"]








async def in_room(world, aid: int, names: list[str]) -> dict[str, harness.WsClient]:
    return await grouprooms.in_room([world["a"], world["b"]], {n: world["users"][n][1] for n in names}, aid)


async def into_groups(world, aid: int, teachers: dict) -> harness.WsClient:
    return await grouprooms.into_groups(world["a"], world["users"]["org"][1], aid, teachers)


async def notes_text(http: httpx.AsyncClient, doc_id: int, headers: dict, want: str) -> str:
    """The notes' Markdown export once `want` is in it (the editor's node stores updates in batches)."""
    for _ in range(50):
        r = await http.get(f"/api/docs/{doc_id}/export.md", headers=headers)
        assert r.status_code == 200, r.text
        if want in r.text:
            return r.text
        await asyncio.sleep(0.2)
    raise AssertionError(f"the notes never held {want!r}: {r.text!r}")


async def test_after_the_activity_its_record_shows_the_groups_their_chats_and_notes(world):
    aid = await scheduled(world)
    names = ["t0", "t1", "t2", "t3"]
    teachers = await in_room(world, aid, names)
    host = await into_groups(world, aid, teachers)
    mine = {n: (await teachers[n].ok("group.mine", activity_id=aid))["group"] for n in names}
    g = mine["t0"]
    mate = next(n for n in names if n != "t0" and mine[n]["id"] == g["id"])
    other = next(n for n in names if mine[n]["id"] != g["id"])
    await teachers["t0"].ok("group.post", activity_id=aid, group_id=g["id"], body="我们先讨论第一个问题")
    await asyncio.sleep(1.1)  # one post a second
    rude = await teachers["t0"].ok("group.post", activity_id=aid, group_id=g["id"], body="跑题的话")
    await teachers[mate].ok("group.post", activity_id=aid, group_id=g["id"], body="学生参与度很高")
    expert = await harness.WsClient(world["b"].ws_url).open(world["users"]["expert"][1])
    await expert.ok("group.hide", activity_id=aid, message_id=rude["message"]["id"])
    await expert.ok("group.broadcast", activity_id=aid, body="还有五分钟，请准备汇报")
    await teachers[mate].ok("group.rapporteur", activity_id=aid, group_id=g["id"], user_id=world["users"]["t0"][0])
    doc_id = (await teachers["t0"].ok("group.notes", activity_id=aid, group_id=g["id"]))["doc_id"]
    writer = await YClient(f"ws://127.0.0.1:{world['b'].port}/ws/docs/{doc_id}", world["users"]["t0"][1]).open()
    await writer.append("结论：板书清晰，提问有层次。")

    async with httpx.AsyncClient(base_url=world["a"].url) as http:
        # while it runs, the groups are the moderators' view
        r = await http.get(f"/api/activities/{aid}/groups", headers=auth(world, "t1"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = await http.get(f"/api/activities/{aid}/groups", headers=auth(world, "expert"))
        assert r.status_code == 200 and len(r.json()["phases"][0]["groups"]) == 2

        await host.ok("activity.next_phase", activity_id=aid)
        await writer.close()
        await host.ok("activity.end", activity_id=aid)

        # after: whoever may see the record, here a teacher of the other group
        r = await http.get(f"/api/activities/{aid}/groups", headers=auth(world, other))
        assert r.status_code == 200, r.text
        [phase] = r.json()["phases"]
        assert phase["phase"] == 1 and phase["title"] == "分组研讨"
        group = next(x for x in phase["groups"] if x["id"] == g["id"])
        assert group["rapporteur"] == {"id": world["users"]["t0"][0], "name": "教师t0"} and group["doc_id"] == doc_id
        assert group["messages"] == 2 and group["hidden"] == 1
        said = {m["name"]: (m["messages"], m["how"]) for m in group["members"]}
        assert said == {"教师t0": (1, "assigned"), f"教师{mate}": (1, "assigned")}
        assert all("username" not in m for m in group["members"])

        # its chat: a teacher sees what stayed visible; the organizer sees the hidden one too, flagged
        r = await http.get(f"/api/activities/{aid}/groups/{g['id']}/messages", headers=auth(world, other))
        assert [m["body"] for m in r.json()["messages"]] == ["我们先讨论第一个问题", "学生参与度很高"]
        r = await http.get(f"/api/activities/{aid}/groups/{g['id']}/messages", headers=auth(world, "org"))
        assert [(m["body"], m["status"]) for m in r.json()["messages"]] == [
            ("我们先讨论第一个问题", "visible"), ("跑题的话", "hidden"), ("学生参与度很高", "visible")]
        # page by page, the latest first
        r = await http.get(f"/api/activities/{aid}/groups/{g['id']}/messages?limit=1", headers=auth(world, other))
        assert [m["body"] for m in r.json()["messages"]] == ["学生参与度很高"] and r.json()["before"]
        r = await http.get(f"/api/activities/{aid}/groups/{g['id']}/messages?limit=1&before={r.json()['before']}",
                           headers=auth(world, other))
        assert [m["body"] for m in r.json()["messages"]] == ["我们先讨论第一个问题"] and r.json()["before"] is None
        r = await http.get(f"/api/activities/{aid}/groups/{g['id']}/messages?limit=0", headers=auth(world, other))
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
        r = await http.get(f"/api/activities/{aid}/groups/{g['id'] + 10_000}/messages", headers=auth(world, other))
        assert r.status_code == 404

        # the notes, read after the activity by a teacher who was never in that group
        md = await notes_text(http, doc_id, auth(world, other), "结论：板书清晰，提问有层次。")
        assert "本节课的教学目标达成了吗？" in md

        # the timeline has the group events at their times
        events = (await http.get(f"/api/activities/{aid}/timeline", headers=auth(world, other))).json()["events"]
        types = [e["type"] for e in events]
        for kind in ("groups_formed", "group_broadcast", "rapporteur_named"):
            assert kind in types

        # the organizer's CSV of the groups
        assert (await http.get(f"/api/activities/{aid}/groups.csv", headers=auth(world, other))).status_code == 403
        r = await http.get(f"/api/activities/{aid}/groups.csv", headers=auth(world, "org"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert rows[0] == ["环节", "组号", "组名", "用户名", "姓名", "学校", "加入方式", "是否汇报人", "发言数"]
        t0 = next(row for row in rows[1:] if row[3] == "rec_t0")
        assert t0[0] == "分组研讨" and t0[2] == f"第{g['number']}组" and t0[6] == "分配" and t0[7] == "是" and t0[8] == "1"
        assert len(rows) == 5  # four teachers, each in one group

        # the attendance report: each teacher's group, and the groups with their activity
        r = await http.get(f"/api/activities/{aid}/attendance", headers=auth(world, "org"))
        report = r.json()
        row = next(x for x in report["attendees"] if x["user_id"] == world["users"]["t0"][0])
        assert row["group"] == f"分组研讨：第{g['number']}组"
        group = next(x for x in report["groups"][0]["groups"] if x["id"] == g["id"])
        assert group["notes_chars"] >= len("结论：板书清晰，提问有层次。本节课的教学目标达成了吗？")
        edits = {m["name"]: m["notes_edits"] for m in group["members"]}
        assert edits["教师t0"] >= 1 and edits[f"教师{mate}"] == 0  # who wrote the notes
        other_group = next(x for x in report["groups"][0]["groups"] if x["id"] != g["id"])
        assert other_group["notes_chars"] == 0  # never opened
        r = await http.get(f"/api/activities/{aid}/attendance.csv", headers=auth(world, "org"))
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert rows[0][-1] == "小组"
        assert [x for x in rows[1:] if x[1] == "教师t0"][0][-1] == f"分组研讨：第{g['number']}组"
        machine = (await http.get(f"/api/activities/{aid}/attendance.csv?format=machine", headers=auth(world, "org"))).text
        assert machine.lstrip("\ufeff").splitlines()[0].endswith(",credited,role")  # integrations' columns unchanged
    for c in (host, expert, *teachers.values()):
        await c.close()


async def test_a_teacher_in_their_group_is_credited_the_group_phase(world):
    """The page stays in the room while it shows the group: the room's interval runs on through the
    group phase, and leaving the group's channel at its end does not end it."""
    aid = await scheduled(world)
    teachers = await in_room(world, aid, ["t4", "t5"])  # t5 on the second node, the host on the first
    teacher = teachers["t5"]
    host = await into_groups(world, aid, teachers)
    g = (await teacher.ok("group.mine", activity_id=aid))["group"]
    await teacher.ok("subscribe", channel=g["channel"])
    await teacher.ok("group.post", activity_id=aid, group_id=g["id"], body="我来说说第一个问题")
    await asyncio.sleep(3.0)
    await host.ok("activity.next_phase", activity_id=aid)
    await teacher.ok("unsubscribe", channel=g["channel"])  # back in the main room
    await asyncio.sleep(1.5)
    await host.ok("activity.end", activity_id=aid)
    await asyncio.sleep(1.5)  # attendance written within a second
    async with httpx.AsyncClient(base_url=world["b"].url) as http:
        report = (await http.get(f"/api/activities/{aid}/attendance", headers=auth(world, "org"))).json()
    marks = {m["phase"]: datetime.fromisoformat(m["at"]) for m in report["phases"]}
    row = next(x for x in report["attendees"] if x["user_id"] == world["users"]["t5"][0])
    assert row["rejoins"] == 0  # one interval, unbroken by the group
    assert datetime.fromisoformat(row["first_join"]) <= marks[1]
    assert datetime.fromisoformat(row["last_leave"]) >= marks[2]
    assert row["seconds"] >= (marks[2] - marks[1]).total_seconds() >= 3.0
    assert row["group"] == f"分组研讨：{g['name']}"
    for c in (host, *teachers.values()):
        await c.close()
