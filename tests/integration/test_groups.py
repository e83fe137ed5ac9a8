"""Breakout groups on two server processes sharing real Redis and PostgreSQL (docs/groups.md): the host on
one node, the teachers split across both; forming at the phase's start, group chat kept inside the group,
late joiners, self-selection, moves, the moderators' view, notes made once and kept when the phase ends,
the rapporteur and the report-back."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import grouprooms
import harness
from grouprooms import until_type
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from yclient import YClient

pytestmark = pytest.mark.usefixtures("validate_pushes")

SCHOOLS = ["实验中学", "实验中学", "实验中学", "第一中学", "第一中学", "第一中学", "育才学校", "育才学校",
           "育才学校", "红星小学", "红星小学", "红星小学"]


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    users = {}
    async with make_sessionmaker(engine)() as db:
        people = [("org", "organizer", ""), ("expert", "expert", "")] + [
            (f"t{i}", "teacher", SCHOOLS[i % len(SCHOOLS)]) for i in range(16)]
        for username, role, school in people:
            u = await create_user(db, username="grp_" + username, password="password-" + username,
                                  display_name=f"教师{username}" if role == "teacher" else username.title(),
                                  role=role, school=school, region="海淀区" if school < "育" else "朝阳区")
            users[username] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    a = harness.Server(url, redis_url, name="groups-a").start(wait=False)
    b = harness.Server(url, redis_url, name="groups-b").start(wait=False)
    a.wait()
    b.wait()
    yield {"url": url, "users": users, "a": a, "b": b}
    a.cleanup()
    b.cleanup()
    await harness.drop_pg_database(url)


QUESTIONS = ["本节课的教学目标达成了吗？", "哪个环节最值得借鉴？"]


async def scheduled(world, plan: dict) -> int:
    users = world["users"]
    body = {"title": "分组研讨测试", "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T16:00:00+08:00",
            "visibility": "public", "experts": [users["expert"][0]],
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 30},
                       {"kind": "group_discussion", "title": "分组研讨", "minutes": 20,
                        "groups": {"questions": QUESTIONS, **plan}},
                       {"kind": "discussion", "title": "小组汇报", "minutes": 20}]}
    async with httpx.AsyncClient(base_url=world["a"].url) as http:
        r = await http.post("/api/activities", json=body, headers={"Authorization": f"Bearer {users['org'][1]}"})
        assert r.status_code == 201, r.text
        return r.json()["id"]








async def in_room(world, aid: int, names: list[str]) -> dict[str, harness.WsClient]:
    return await grouprooms.in_room([world["a"], world["b"]], {n: world["users"][n][1] for n in names}, aid)


async def start_groups(world, aid: int, teachers: dict) -> harness.WsClient:
    return await grouprooms.into_groups(world["a"], world["users"]["org"][1], aid, teachers)


async def close_all(*clients) -> None:
    for c in clients:
        await c.close()


async def test_the_room_splits_into_groups_and_each_teacher_finds_theirs_on_either_node(world):
    aid = await scheduled(world, {"size": 4, "assign": "by_school"})
    names = [f"t{i}" for i in range(12)]
    teachers = await in_room(world, aid, names)
    host = await start_groups(world, aid, teachers)
    mine = {n: await teachers[n].ok("group.mine", activity_id=aid) for n in names}
    groups = {}
    for n, m in mine.items():
        assert m["phase"] == 1 and m["mode"] == "by_school" and m["questions"] == QUESTIONS
        groups.setdefault(m["group"]["id"], []).append(n)
    assert sorted(len(v) for v in groups.values()) == [3, 3, 3, 3]  # four schools of three: one group each
    for members in groups.values():
        assert len({SCHOOLS[int(n[1:]) % len(SCHOOLS)] for n in members}) == 1
    # the moderators' view: every group, its size, from the other node
    expert = await harness.WsClient(world["b"].ws_url).open(world["users"]["expert"][1])
    listing = await expert.ok("group.list", activity_id=aid)
    assert [g["members"] for g in listing["groups"]] == [3, 3, 3, 3] and listing["ends_at"]
    assert (await teachers["t0"].call("group.list", activity_id=aid))["error"]["code"] == "forbidden"
    await close_all(host, expert, *teachers.values())


async def test_a_groups_chat_stays_in_the_group_and_moderators_enter_any(world):
    aid = await scheduled(world, {"size": 2, "assign": "random"})
    names = ["t0", "t1", "t2", "t3"]
    teachers = await in_room(world, aid, names)
    host = await start_groups(world, aid, teachers)
    mine = {n: (await teachers[n].ok("group.mine", activity_id=aid))["group"] for n in names}
    first = mine["t0"]
    mates = [n for n in names if mine[n]["id"] == first["id"]]
    others = [n for n in names if mine[n]["id"] != first["id"]]
    assert len(mates) == 2 and len(others) == 2
    for n in mates:
        await teachers[n].ok("subscribe", channel=first["channel"])
    outsider = teachers[others[0]]
    refused = await outsider.call("subscribe", channel=first["channel"])
    assert refused["error"]["code"] == "forbidden"
    assert (await outsider.call("group.post", activity_id=aid, group_id=first["id"], body="偷看"))["error"]["code"] \
        == "not_in_group"
    assert (await outsider.call("group.history", activity_id=aid, group_id=first["id"]))["error"]["code"] \
        == "not_in_group"

    speaker, listener = teachers[mates[0]], teachers[mates[1]]  # on different nodes or the same: either way
    sent = await speaker.ok("group.post", activity_id=aid, group_id=first["id"], body="我们先讨论第一个问题")
    got = await until_type(listener, "group_chat")
    assert got["e"]["message"]["body"] == "我们先讨论第一个问题" and got["ch"] == first["channel"]

    expert = await harness.WsClient(world["b"].ws_url).open(world["users"]["expert"][1])
    await expert.ok("subscribe", channel=first["channel"])
    await expert.ok("group.post", activity_id=aid, group_id=first["id"], body="请结合课堂实录")
    assert (await until_type(listener, "group_chat"))["e"]["message"]["body"] == "请结合课堂实录"
    hidden = await expert.ok("group.hide", activity_id=aid, message_id=sent["message"]["id"])
    assert (await until_type(listener, "group_chat_hidden"))["e"]["id"] == hidden["id"]
    history = await listener.ok("group.history", activity_id=aid, group_id=first["id"])
    assert [m["body"] for m in history["messages"]] == ["请结合课堂实录"]  # the hidden one is gone for teachers
    assert (await speaker.call("group.hide", activity_id=aid, message_id=sent["message"]["id"]))["error"]["code"] \
        == "forbidden"

    # a broadcast reaches every group through the room
    await expert.ok("group.broadcast", activity_id=aid, body="还有五分钟，请准备汇报")
    for n in names:
        assert (await until_type(teachers[n], "group_broadcast"))["e"]["body"] == "还有五分钟，请准备汇报"
    assert (await outsider.call("group.broadcast", activity_id=aid, body="x"))["error"]["code"] == "forbidden"

    # the phase ends: teachers can no longer post; the record keeps the chat
    await host.ok("activity.next_phase", activity_id=aid)
    assert (await speaker.call("group.post", activity_id=aid, group_id=first["id"], body="晚了"))["error"]["code"] \
        == "no_groups"
    await close_all(host, expert, *teachers.values())


async def test_a_late_joiner_is_placed_once_even_asking_on_both_nodes_and_the_group_hears(world):
    aid = await scheduled(world, {"size": 3, "assign": "random"})
    teachers = await in_room(world, aid, ["t0", "t1", "t2", "t3", "t4"])
    host = await start_groups(world, aid, teachers)
    mine = {n: (await c.ok("group.mine", activity_id=aid))["group"] for n, c in teachers.items()}
    sizes = sorted({g["id"]: g["members"] for g in mine.values()}.values())
    assert sizes == [2, 3]
    smaller = next(g for g in mine.values() if g["members"] == 2)
    watcher = teachers[next(n for n, g in mine.items() if g["id"] == smaller["id"])]
    await watcher.ok("subscribe", channel=smaller["channel"])

    late_a = await harness.WsClient(world["a"].ws_url).open(world["users"]["t9"][1])
    late_b = await harness.WsClient(world["b"].ws_url).open(world["users"]["t9"][1])
    both = await asyncio.gather(late_a.ok("group.mine", activity_id=aid), late_b.ok("group.mine", activity_id=aid))
    assert both[0]["group"]["id"] == both[1]["group"]["id"] == smaller["id"]  # the group with the most room
    joined = await until_type(watcher, "group_member_joined")
    assert joined["e"]["user"]["id"] == world["users"]["t9"][0] and joined["e"]["how"] == "late"
    # reconnecting keeps the group
    again = await harness.WsClient(world["b"].ws_url).open(world["users"]["t9"][1])
    assert (await again.ok("group.mine", activity_id=aid))["group"]["id"] == smaller["id"]
    # a teacher may not move themselves when groups are assigned
    other = next(g for g in mine.values() if g["id"] != smaller["id"])
    refused = await again.call("group.choose", activity_id=aid, group_id=other["id"])
    assert refused["error"]["code"] == "not_self_select"
    await close_all(host, late_a, late_b, again, *teachers.values())


async def test_self_selection_fills_groups_and_says_when_one_is_full(world):
    aid = await scheduled(world, {"size": 2, "assign": "self_select", "names": ["语文组", "数学组"]})
    teachers = await in_room(world, aid, ["t0", "t1", "t2"])
    host = await start_groups(world, aid, teachers)
    m = await teachers["t0"].ok("group.mine", activity_id=aid)
    assert m["group"] is None and [c["name"] for c in m["choices"]] == ["语文组", "数学组"]
    chinese, maths = m["choices"]
    await teachers["t0"].ok("group.choose", activity_id=aid, group_id=chinese["id"])
    await teachers["t0"].ok("subscribe", channel=chinese["channel"])
    await teachers["t1"].ok("group.choose", activity_id=aid, group_id=chinese["id"])
    full = await teachers["t2"].call("group.choose", activity_id=aid, group_id=chinese["id"])
    assert full["error"]["code"] == "group_full"
    await teachers["t2"].ok("group.choose", activity_id=aid, group_id=maths["id"])
    # t0 changes their mind: their subscription to the old group ends, and the old group hears them leave
    await teachers["t1"].ok("subscribe", channel=chinese["channel"])
    await teachers["t0"].ok("group.choose", activity_id=aid, group_id=maths["id"])
    while "unsubscribed" not in (push := await teachers["t0"].push()):
        pass
    assert push["ch"] == chinese["channel"]
    left = await until_type(teachers["t1"], "group_member_left")
    assert left["e"]["user"]["id"] == world["users"]["t0"][0]
    mine = await teachers["t0"].ok("group.mine", activity_id=aid)
    assert mine["group"]["id"] == maths["id"] and mine["group"]["members"] == 2
    await close_all(host, *teachers.values())


async def test_a_moderator_moves_a_teacher_whose_old_group_closes_to_them(world):
    aid = await scheduled(world, {"size": 2, "assign": "random"})
    teachers = await in_room(world, aid, ["t0", "t1", "t2", "t3"])
    host = await start_groups(world, aid, teachers)
    mine = {n: (await c.ok("group.mine", activity_id=aid))["group"] for n, c in teachers.items()}
    t0 = teachers["t0"]
    await t0.ok("subscribe", channel=mine["t0"]["channel"])
    doc_id = (await t0.ok("group.notes", activity_id=aid, group_id=mine["t0"]["id"]))["doc_id"]
    notes = await YClient(f"ws://127.0.0.1:{world['b'].port}/ws/docs/{doc_id}", world["users"]["t0"][1]).open()
    target = next(g for g in mine.values() if g["id"] != mine["t0"]["id"])
    expert = await harness.WsClient(world["b"].ws_url).open(world["users"]["expert"][1])
    moved = await expert.ok("group.move", activity_id=aid, user_id=world["users"]["t0"][0], group_id=target["id"])
    assert moved["type"] == "group_moved" and moved["from"] == mine["t0"]["id"]
    while True:  # the old group's subscription ends on t0's node
        push = await t0.push()
        if "unsubscribed" in push:
            assert push["ch"] == mine["t0"]["channel"]
            break
    assert (await t0.call("subscribe", channel=mine["t0"]["channel"]))["error"]["code"] == "forbidden"
    assert await notes.closed() == 4003 and notes.close_reason == "moved_to_another_group"  # on the other node too
    assert (await t0.ok("group.mine", activity_id=aid))["group"]["id"] == target["id"]
    await t0.ok("subscribe", channel=target["channel"])
    assert (await teachers["t1"].call("group.move", activity_id=aid, user_id=world["users"]["t1"][0],
                                      group_id=target["id"]))["error"]["code"] == "forbidden"
    await close_all(host, expert, *teachers.values())


async def test_notes_are_made_once_from_the_questions_and_keep_what_is_typed_as_the_phase_ends(world):
    aid = await scheduled(world, {"size": 2, "assign": "random"})
    teachers = await in_room(world, aid, ["t0", "t1", "t2", "t3"])
    host = await start_groups(world, aid, teachers)
    mine = {n: (await c.ok("group.mine", activity_id=aid))["group"] for n, c in teachers.items()}
    g = mine["t0"]
    mate = next(n for n in teachers if n != "t0" and mine[n]["id"] == g["id"])
    stranger = next(n for n in teachers if mine[n]["id"] != g["id"])
    made = await asyncio.gather(teachers["t0"].ok("group.notes", activity_id=aid, group_id=g["id"]),
                                teachers[mate].ok("group.notes", activity_id=aid, group_id=g["id"]))
    assert made[0]["doc_id"] == made[1]["doc_id"] and made[0]["editable"] is True
    doc_id = made[0]["doc_id"]
    assert (await teachers[stranger].call("group.notes", activity_id=aid, group_id=g["id"]))["error"]["code"] \
        == "not_in_group"
    url = f"ws://127.0.0.1:{world['b'].port}/ws/docs/{doc_id}"
    writer = await YClient(url, world["users"]["t0"][1]).open()
    for q in QUESTIONS:
        assert q in writer.content
    # a stranger's socket to another group's notes is refused before any of it is sent
    peeker = await YClient(url, world["users"][stranger][1]).open(wait_synced=False)
    assert await peeker.closed() == 4003 and peeker.frames_in == 0
    # typing while the host ends the phase: nothing is lost, and the rapporteur may still tidy up
    typing = asyncio.create_task(writer.append("结论：学生参与度高。"))
    await host.ok("activity.next_phase", activity_id=aid)
    await typing
    reader = await YClient(f"ws://127.0.0.1:{world['a'].port}/ws/docs/{doc_id}", world["users"][mate][1]).open()
    await reader.until(lambda c: "结论：学生参与度高。" in c.content)
    await reader.append("补充：板书清晰。")
    await writer.until(lambda c: "补充：板书清晰。" in c.content)
    await close_all(writer, reader, host, *teachers.values())


async def test_the_rapporteur_reports_on_stage_with_the_notes_beside_them(world):
    aid = await scheduled(world, {"size": 2, "assign": "by_school"})
    teachers = await in_room(world, aid, ["t0", "t1", "t3"])  # t0 and t1 of one school, t3 of another
    host = await start_groups(world, aid, teachers)
    g = (await teachers["t0"].ok("group.mine", activity_id=aid))["group"]
    assert (await teachers["t3"].ok("group.mine", activity_id=aid))["group"]["id"] != g["id"]
    teachers["t2"] = teachers.pop("t3")
    t0_id, t1_id = world["users"]["t0"][0], world["users"]["t1"][0]
    assert (await teachers["t0"].call("group.rapporteur", activity_id=aid, group_id=g["id"],
                                      user_id=world["users"]["t5"][0]))["error"]["code"] == "not_in_group"
    await teachers["t0"].ok("subscribe", channel=g["channel"])
    named = await teachers["t1"].ok("group.rapporteur", activity_id=aid, group_id=g["id"], user_id=t0_id)
    assert named["name"] == "教师t0"
    assert (await until_type(teachers["t0"], "rapporteur_named"))["e"]["user_id"] == t0_id
    await host.ok("activity.next_phase", activity_id=aid)  # the report-back phase
    assert (await host.call("group.report", activity_id=aid, group_id=g["id"] + 10_000))["error"]["code"] == "not_found"
    assert (await teachers["t1"].call("group.report", activity_id=aid, group_id=g["id"]))["error"]["code"] == "forbidden"
    reported = await host.ok("group.report", activity_id=aid, group_id=g["id"])
    assert reported["rapporteur"] == {"id": t0_id, "name": "教师t0"} and reported["doc_id"]
    called = await until_type(teachers["t1"], "hand_called")
    assert called["e"]["user_id"] == t0_id
    reporting = await until_type(teachers["t1"], "group_reporting")
    assert reporting["e"]["doc_id"] == reported["doc_id"] and reporting["e"]["group"]["id"] == g["id"]
    # the notes opened for the report are the ones the group reads; the rapporteur accepts like a called hand
    assert (await teachers["t1"].ok("group.notes", activity_id=aid, group_id=g["id"]))["doc_id"] == reported["doc_id"]
    # the whole room may read the reporting group's notes now (not edit them): t2 was in another group
    notes = await teachers["t2"].ok("group.notes", activity_id=aid, group_id=g["id"])
    assert notes == {"doc_id": reported["doc_id"], "editable": False}
    reader = await YClient(f"ws://127.0.0.1:{world['b'].port}/ws/docs/{notes['doc_id']}", world["users"]["t2"][1]).open()
    assert QUESTIONS[0] in reader.content
    await reader.close()
    accepted = await teachers["t0"].ok("stage.accept", activity_id=aid)
    assert accepted["type"] == "stage_accepted" and accepted["user_id"] == t0_id
    assert (await teachers["t1"].call("stage.accept", activity_id=aid))["error"]["code"] == "not_invited"
    assert t1_id != t0_id
    await close_all(host, *teachers.values())


async def test_groups_the_hosts_command_did_not_form_are_formed_by_the_first_page_to_ask(world):
    """The phase changed but its node died before forming the groups (here: the change written straight
    to the database): after a grace, the first `group.mine` forms them, once, and the room hears it."""
    import sqlalchemy as sa

    from collab.store.db import make_engine

    aid = await scheduled(world, {"size": 2, "assign": "random"})
    teachers = await in_room(world, aid, ["t0", "t1", "t2"])
    host = await harness.WsClient(world["a"].ws_url).open(world["users"]["org"][1])
    await host.ok("activity.start", activity_id=aid)
    await asyncio.sleep(2.0)  # attendance has everyone
    engine = make_engine(world["url"])
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE activities SET current_phase = 1, "
                                   "phase_started_at = now() - interval '10 seconds' WHERE id = :a"), {"a": aid})
    await engine.dispose()
    # the host's node finds the stored activity moved on (its copy is dropped): the nodes read it anew
    # (the one whose copy was fresh extends the phase, which every node hears)
    for node_host in (host, await harness.WsClient(world["b"].ws_url).open(world["users"]["org"][1])):
        await node_host.call("activity.extend_phase", activity_id=aid, minutes=1)
    # every page asks at once, on both nodes: the groups are formed once
    mine = await asyncio.gather(*(c.ok("group.mine", activity_id=aid) for c in teachers.values()))
    assert all(m["group"] is not None for m in mine)
    assert sorted(m["group"]["members"] for m in mine)[-1] <= 2
    formed = [await until_type(c, "groups_formed") for c in teachers.values()]
    assert {f["e"]["id"] for f in formed} == {formed[0]["e"]["id"]}  # told once
    assert len({m["group"]["id"] for m in mine}) == 2
    await close_all(host, *teachers.values())


async def test_a_teacher_removed_from_the_room_leaves_their_group_and_its_notes_on_every_node(world):
    aid = await scheduled(world, {"size": 2, "assign": "random"})
    teachers = await in_room(world, aid, ["t0", "t1"])
    host = await start_groups(world, aid, teachers)
    g = (await teachers["t1"].ok("group.mine", activity_id=aid))["group"]
    t1 = teachers["t1"]  # on node b
    await t1.ok("subscribe", channel=g["channel"])
    doc_id = (await t1.ok("group.notes", activity_id=aid, group_id=g["id"]))["doc_id"]
    notes = await YClient(f"ws://127.0.0.1:{world['b'].port}/ws/docs/{doc_id}", world["users"]["t1"][1]).open()
    expert = await harness.WsClient(world["a"].ws_url).open(world["users"]["expert"][1])  # on node a
    await expert.ok("activity.remove", activity_id=aid, user_id=world["users"]["t1"][0])
    gone = set()
    while len(gone) < 2:  # the room's subscription and the group's both end
        push = await t1.push()
        if "unsubscribed" in push:
            gone.add(push["ch"])
    assert gone == {f"activity:{aid}", g["channel"]}
    assert await notes.closed() == 4003 and notes.close_reason == "removed_from_activity"
    assert (await t1.call("subscribe", channel=g["channel"]))["error"]["code"] == "forbidden"
    assert (await t1.call("group.post", activity_id=aid, group_id=g["id"], body="还在吗"))["error"]["code"] == "forbidden"
    await close_all(host, expert, *teachers.values())
