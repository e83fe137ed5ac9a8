"""A group phase in the agenda and the organizer's list for it, through the API of a real server, on
SQLite and PostgreSQL: the plan is stored and kept through edits; the list is uploaded as CSV (UTF-8 or
GB18030, as Excel saves it), read back, refused whole at the line at fault, and only by the organizer
before the activity goes live."""

from __future__ import annotations

import httpx
import pytest

import harness
from collab.auth.accounts import create_user
from collab.store.db import make_engine, make_sessionmaker

PLAN = {"size": 4, "assign": "list", "questions": ["本节课的教学目标达成了吗？"], "names": ["备用组"]}
TEACHERS = [("zhang_wei", "张伟"), ("li_na", "李娜"), ("wang_fang", "王芳"), ("liu_yang", "刘洋")]


@pytest.fixture(scope="module")
async def server(database_url, users):
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as db:
        for username, name in TEACHERS:
            await create_user(db, username=username, password="password-" + username, display_name=name,
                              school="杭州第一中学", region="浙江")
        await db.commit()
    await engine.dispose()
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def as_(users, who):
    return {"Authorization": f"Bearer {users[who][1]}"}


async def schedule(http, users, groups=PLAN):
    r = await http.post("/api/activities", headers=as_(users, "org1"), json={
        "title": "八年级数学分组研讨", "starts_at": "2027-04-01T14:00:00+08:00", "ends_at": "2027-04-01T16:00:00+08:00",
        "agenda": [{"kind": "lesson_display", "minutes": 40},
                   {"kind": "group_discussion", "title": "分组研讨", "minutes": 20, "groups": groups},
                   {"kind": "expert_guidance", "minutes": 20}]})
    assert r.status_code == 201, r.text
    return r.json()


async def put(http, users, aid, body: bytes, who="org1", phase=1):
    return await http.put(f"/api/activities/{aid}/phases/{phase}/roster", content=body,
                          headers={**as_(users, who), "Content-Type": "text/csv"})


async def stored(http, users, aid, phase=1):
    r = await http.get(f"/api/activities/{aid}/phases/{phase}/roster", headers=as_(users, "org1"))
    assert r.status_code == 200, r.text
    return [(e["line"], e["username"], e["name"], e["group"]) for e in r.json()["entries"]]


async def test_the_plan_is_stored_with_its_phase_and_kept_through_edits(http, users):
    a = await schedule(http, users)
    assert a["agenda"][1]["groups"] == PLAN and a["agenda"][0]["groups"] is None
    assert (a["agenda"][1]["chat"], a["agenda"][1]["questions"], a["agenda"][1]["hands"]) == (True, False, False)
    seen = (await http.get(f"/api/activities/{a['id']}", headers=as_(users, "org1"))).json()
    assert seen["agenda"][1]["groups"] == PLAN
    r = await http.patch(f"/api/activities/{a['id']}", json={"title": "改过的标题"}, headers=as_(users, "org1"))
    assert r.status_code == 200 and r.json()["agenda"][1]["groups"] == PLAN
    agenda = r.json()["agenda"]
    agenda[1]["groups"] = {**PLAN, "size": 6, "assign": "mix_schools"}
    r = await http.patch(f"/api/activities/{a['id']}", json={"agenda": agenda}, headers=as_(users, "org1"))
    assert r.status_code == 200 and r.json()["agenda"][1]["groups"]["size"] == 6
    agenda[1]["groups"] = {"assign": "self_select", "names": ["唯一组"]}
    r = await http.patch(f"/api/activities/{a['id']}", json={"agenda": agenda}, headers=as_(users, "org1"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
    assert r.json()["error"]["message"].startswith("agenda[1].groups.names: ")
    seen = (await http.get(f"/api/activities/{a['id']}", headers=as_(users, "org1"))).json()
    assert seen["agenda"][1]["groups"]["assign"] == "mix_schools"  # the refused edit changed nothing


async def test_the_organizer_uploads_the_list_and_reads_it_back(http, users):
    aid = (await schedule(http, users))["id"]
    r = await put(http, users, aid, "username,group\nzhang_wei,第一组\n\nli_na,第二组\nwang_fang, 第一组 \n".encode())
    assert r.status_code == 200, r.text
    assert r.json() == {"entries": 3, "groups": ["第一组", "第二组"]}
    assert await stored(http, users, aid) == [(2, "zhang_wei", "张伟", "第一组"), (4, "li_na", "李娜", "第二组"),
                                              (5, "wang_fang", "王芳", "第一组")]
    got = (await http.get(f"/api/activities/{aid}/phases/1/roster", headers=as_(users, "org1"))).json()
    assert all(type(e["user_id"]) is int for e in got["entries"])
    # a new list replaces the old one whole
    r = await put(http, users, aid, "\ufeffliu_yang,第三组\r\n".encode())
    assert r.status_code == 200 and r.json() == {"entries": 1, "groups": ["第三组"]}
    assert await stored(http, users, aid) == [(1, "liu_yang", "刘洋", "第三组")]
    # each upload is in the audit log: who placed whom is a record the organizer answers for
    log = (await http.get("/api/audit", params={"action": "group.roster"}, headers=as_(users, "admin1"))).json()
    mine = [e for e in log["events"] if e["target"]["id"] == str(aid)]
    assert [e["detail"] for e in mine] == [{"phase": 1, "entries": 1}, {"phase": 1, "entries": 3}]


async def test_a_list_saved_by_excel_in_china_is_read_as_gb18030(http, users):
    aid = (await schedule(http, users))["id"]
    body = "用户名,组名\r\nzhang_wei,代数研讨组\r\nli_na,几何研讨组\r\n".encode("gb18030")
    r = await put(http, users, aid, body)
    assert r.status_code == 200, r.text
    assert r.json()["groups"] == ["代数研讨组", "几何研讨组"]
    assert await stored(http, users, aid) == [(2, "zhang_wei", "张伟", "代数研讨组"), (3, "li_na", "李娜", "几何研讨组")]


@pytest.mark.parametrize("body,line,words", [
    (b"zhang_wei,g1\nli_na,g2,extra\n", 2, "3 fields"),
    (b"zhang_wei,g1\n,g2\n", 2, "username is empty"),
    (b"zhang_wei,\n", 1, "group name is empty"),
    ("zhang_wei,g1\nli_na,".encode() + "组".encode() * 101 + b"\n", 2, "longer than 100"),
    (b"zhang_wei,g1\nli_na,g2\n\nzhang_wei,g3\n", 4, "zhang_wei is on lines 1 and 4"),
    (b"zhang_wei,g1\nli_na,g2\nnobody_here,g1\nghost,g2\n", 3, "nobody has the username nobody_here (and 1 more"),
    (b"zhang_wei,\"g1\n", 1, "not CSV"),
])
async def test_a_malformed_list_is_refused_whole_naming_its_line(http, users, body, line, words):
    aid = (await schedule(http, users))["id"]
    assert (await put(http, users, aid, b"wang_fang,old\n")).status_code == 200
    r = await put(http, users, aid, body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "roster_invalid" and error["line"] == line
    assert words in error["message"] and error["message"].startswith(f"line {line}: ")
    assert await stored(http, users, aid) == [(1, "wang_fang", "王芳", "old")]  # the previous list survives


async def test_only_the_organizer_uploads_and_reads_the_list(http, users):
    aid = (await schedule(http, users))["id"]
    for who in ("teacher1", "expert1"):
        r = await put(http, users, aid, b"zhang_wei,g1\n", who=who)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = await http.get(f"/api/activities/{aid}/phases/1/roster", headers=as_(users, who))
        assert r.status_code == 403
    r = await http.put(f"/api/activities/{aid}/phases/1/roster", content=b"zhang_wei,g1\n")
    assert r.status_code == 401
    assert await stored(http, users, aid) == []
    r = await put(http, users, aid, b"zhang_wei,g1\n", who="admin1")
    assert r.status_code == 200


async def test_the_list_is_for_a_group_phase_that_assigns_from_a_list(http, users):
    aid = (await schedule(http, users, groups={"assign": "random"}))["id"]
    for phase, words in [(0, "not a group discussion"), (1, "not assigned from a list"), (3, "no such phase"),
                         ("x", "no such phase")]:
        r = await put(http, users, aid, b"zhang_wei,g1\n", phase=phase)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
        assert r.json()["error"]["message"].startswith("phase: ") and words in r.json()["error"]["message"]
    r = await http.get(f"/api/activities/{aid}/phases/0/roster", headers=as_(users, "org1"))
    assert r.status_code == 400
    assert await stored(http, users, aid) == []  # a group phase of another mode: nothing listed, nothing refused


async def test_a_live_activity_keeps_its_list(server, http, users):
    aid = (await schedule(http, users))["id"]
    assert (await put(http, users, aid, b"zhang_wei,g1\n")).status_code == 200
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    try:
        await host.ok("activity.start", activity_id=aid)
    finally:
        await host.close()
    r = await put(http, users, aid, b"li_na,g2\n")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert await stored(http, users, aid) == [(1, "zhang_wei", "张伟", "g1")]  # still readable, unchanged


async def test_a_list_over_five_megabytes_is_refused_as_a_whole(http, users):
    aid = (await schedule(http, users))["id"]
    r = await put(http, users, aid, b"zhang_wei," + b"x" * (5 * 1024 * 1024) + b"\n")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "roster_invalid" and r.json()["error"]["line"] == 0
    assert "5 MB" in r.json()["error"]["message"]
    assert await stored(http, users, aid) == []
