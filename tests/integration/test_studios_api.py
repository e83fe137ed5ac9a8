"""Studios through the API of a real server, on SQLite and PostgreSQL: founding, the directory,
applications, invitation links, roles, leaving, the studio channel, the resource library, documents
(versions, comments, exports) and the studio's own activities. A matrix walks every studio role
through the routes."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

import harness


@pytest.fixture(scope="module")
async def server(database_url):
    s = harness.Server(database_url, max_upload_bytes=200_000).start()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
async def people(database_url):
    from studio_seed import seed_studio

    return await seed_studio(database_url)


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def as_(people, who):
    return {"Authorization": f"Bearer {people['users'][who][1]}"}


async def found(http, people, who="leader", **profile):
    body = {"name": "王老师初中数学名师工作室", "subject": "math", "grade": "8", "region": "浙江",
            "description": "乡村学校与城市学校共同备课", **profile}
    r = await http.post("/api/studios", json=body, headers=as_(people, who))
    assert r.status_code == 201, r.text
    return r.json()


async def test_found_a_studio_and_find_it_in_the_directory(http, people):
    s = await found(http, people, name="李老师语文工作室", subject="chinese")
    assert s["leader_id"] == people["users"]["leader"][0] and s["members"] == 1 and s["me"]["role"] == "leader"
    listed = (await http.get("/api/studios?subject=chinese&q=语文")).json()["studios"]  # public directory
    assert s["id"] in [x["id"] for x in listed]
    assert s["id"] not in [x["id"] for x in (await http.get("/api/studios?subject=physics")).json()["studios"]]
    for typed in ("subject=语文&grade=八年级", "subject=Chinese&grade=8"):  # a code or its name finds it
        assert s["id"] in [x["id"] for x in (await http.get(f"/api/studios?{typed}")).json()["studios"]], typed
    mine = (await http.get("/api/studios?mine=1", headers=as_(people, "outsider"))).json()["studios"]
    assert s["id"] not in [x["id"] for x in mine]
    assert (await http.post("/api/studios", json={"name": ""}, headers=as_(people, "leader"))).status_code == 400
    assert (await http.post("/api/studios", json={"name": "x"})).status_code == 401
    profile = (await http.get(f"/api/studios/{s['id']}", headers=as_(people, "outsider"))).json()
    assert profile["me"] == {"role": None, "pending": False, "may_manage": False, "may_appoint": False,
                             "may_edit": False}
    lead = (await http.get(f"/api/studios/{s['id']}", headers=as_(people, "leader"))).json()["me"]
    assert lead["may_manage"] and lead["may_appoint"] and lead["may_edit"]
    # the directory names each studio's leader and says where the caller stands in it
    card = next(x for x in listed if x["id"] == s["id"])
    assert card["leader"] == {"id": people["users"]["leader"][0], "name": "Leader"} and card["me"] == {
        "role": None, "pending": False}
    mine = (await http.get("/api/studios?mine=1", headers=as_(people, "leader"))).json()["studios"]
    assert next(x for x in mine if x["id"] == s["id"])["me"] == {"role": "leader", "pending": False}
    assert (await http.patch(f"/api/studios/{s['id']}", json={"description": "x"},
                             headers=as_(people, "outsider"))).status_code == 403


async def test_apply_approve_roles_leave_and_remove(http, people):
    s = await found(http, people)
    sid, out_id = s["id"], people["users"]["outsider"][0]
    r = await http.post(f"/api/studios/{sid}/apply", json={"note": "我是乡村教师"}, headers=as_(people, "outsider"))
    assert r.json() == {"status": "pending"}
    listed = (await http.get("/api/studios", headers=as_(people, "outsider"))).json()["studios"]
    assert next(x for x in listed if x["id"] == sid)["me"] == {"role": None, "pending": True}
    assert (await http.post(f"/api/studios/{sid}/apply", headers=as_(people, "outsider"))).status_code == 403
    waiting = (await http.get(f"/api/studios/{sid}/members?status=pending", headers=as_(people, "leader"))).json()
    assert [m["note"] for m in waiting["members"]] == ["我是乡村教师"]
    assert (await http.get(f"/api/studios/{sid}/members", headers=as_(people, "outsider"))).status_code == 403
    r = await http.post(f"/api/studios/{sid}/members/{out_id}", json={"approve": True}, headers=as_(people, "leader"))
    assert r.json()["status"] == "active" and r.json()["role"] == "member"
    members = (await http.get(f"/api/studios/{sid}/members", headers=as_(people, "outsider"))).json()["members"]
    assert {m["role"] for m in members} == {"leader", "member"}
    # the leader appoints a co-leader; a co-leader cannot appoint another
    r = await http.post(f"/api/studios/{sid}/members/{out_id}", json={"role": "co_leader"}, headers=as_(people, "leader"))
    assert r.json()["role"] == "co_leader"
    # leadership handed over: the old leader stays as co-leader
    r = await http.post(f"/api/studios/{sid}/members/{out_id}", json={"role": "leader"}, headers=as_(people, "leader"))
    assert r.json()["role"] == "leader"
    assert (await http.get(f"/api/studios/{sid}")).json()["leader_id"] == out_id
    assert (await http.post(f"/api/studios/{sid}/leave", headers=as_(people, "outsider"))).status_code == 403
    assert (await http.post(f"/api/studios/{sid}/leave", headers=as_(people, "leader"))).status_code == 204
    assert len((await http.get(f"/api/studios/{sid}/members", headers=as_(people, "outsider"))).json()["members"]) == 1
    # the leader cannot be removed, not even by an admin-less co-leader path
    r = await http.delete(f"/api/studios/{sid}/members/{out_id}", headers=as_(people, "outsider"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


async def test_invitation_links_admit_with_their_role_and_expire(http, people):
    s = await found(http, people)
    sid = s["id"]
    link = (await http.post(f"/api/studios/{sid}/invitations", json={"role": "observer", "hours": 1},
                            headers=as_(people, "leader"))).json()
    assert f"/studios/{sid}?invite=" in link["url"]
    assert (await http.post(f"/api/studios/{sid}/invitations", json={}, headers=as_(people, "member"))).status_code == 403
    forged = await http.post(f"/api/studios/{sid}/join", json={"token": link["token"], "role": "member"},
                             headers=as_(people, "outsider"))  # an observer link does not make a member
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invitation_invalid"
    joined = await http.post(f"/api/studios/{sid}/join", json={"token": link["token"], "role": "observer"},
                             headers=as_(people, "outsider"))
    assert joined.json() == {"role": "observer", "status": "active"}
    other = await found(http, people, name="另一个工作室")
    wrong = await http.post(f"/api/studios/{other['id']}/join", json={"token": link["token"], "role": "observer"},
                            headers=as_(people, "member"))
    assert wrong.status_code == 400


def docx_bytes() -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return b.getvalue()


async def test_the_library_checks_content_not_names(http, people, database_url):
    sid = people["studio"]
    up = lambda who, name, data, **form: http.post(  # noqa: E731
        f"/api/studios/{sid}/resources", headers=as_(people, who),
        files={"file": (name, data)}, data={"title": form.get("title", name), "kind": form.get("kind", "lesson_plan"),
                                            "tags": form.get("tags", "")})
    docx = docx_bytes()  # once: a zip carries the time it was made
    r = await up("member", "函数教案.docx", docx, tags="函数, 八年级", title="函数的概念 教案")
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["media_type"].endswith("wordprocessingml.document") and plan["tags"] == ["函数", "八年级"]
    r = await up("member", "课件.pdf", b"%PDF-1.7\n" + b"x" * 1000, kind="slides", tags="函数")
    assert r.status_code == 201
    # an executable renamed .pdf, a text file named .pdf, something unknown, too large, an empty file
    assert (await up("member", "evil.pdf", b"MZ\x90\x00" + b"\x00" * 200)).json()["error"]["code"] == "unsupported_type"
    mismatch = await up("member", "notes.pdf", "这是纯文本".encode())
    assert mismatch.status_code == 415 and mismatch.json()["error"]["code"] == "type_mismatch"
    assert (await up("member", "big.txt", b"a" * 250_000)).status_code == 413
    assert (await up("member", "empty.txt", b"")).status_code == 400
    assert (await up("observer", "x.txt", b"hello")).status_code == 403
    assert (await up("outsider", "x.txt", b"hello")).status_code == 403
    # search by title, by tag, by kind; observers read, outsiders do not
    q = lambda who, qs: http.get(f"/api/studios/{sid}/resources?{qs}", headers=as_(people, who))  # noqa: E731
    assert [x["title"] for x in (await q("observer", "q=教案")).json()["resources"]] == ["函数的概念 教案"]
    assert len((await q("observer", "tag=函数")).json()["resources"]) == 2
    assert [x["kind"] for x in (await q("observer", "kind=slides")).json()["resources"]] == ["slides"]
    assert (await q("outsider", "")).status_code == 403
    got = await http.get(plan["download"], headers=as_(people, "observer"))
    assert got.status_code == 200 and got.content == docx
    assert got.headers["x-content-type-options"] == "nosniff" and "attachment" in got.headers["content-disposition"]
    assert (await http.get(plan["download"], headers=as_(people, "outsider"))).status_code == 403
    # the uploader or those who run the studio delete; another member does not
    assert (await http.delete(f"/api/resources/{plan['id']}", headers=as_(people, "observer"))).status_code == 403
    assert (await http.delete(f"/api/resources/{plan['id']}", headers=as_(people, "co_leader"))).status_code == 204
    assert (await http.get(plan["download"], headers=as_(people, "member"))).status_code == 404


async def test_documents_versions_comments_and_exports(http, people):
    sid = people["studio"]
    r = await http.post(f"/api/studios/{sid}/docs", json={"title": "一次函数 <教案>"}, headers=as_(people, "member"))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (await http.post(f"/api/studios/{sid}/docs", json={"title": "x"}, headers=as_(people, "observer"))).status_code == 403
    listed = (await http.get(f"/api/studios/{sid}/docs", headers=as_(people, "observer"))).json()["documents"]
    assert doc["id"] in [d["id"] for d in listed]
    md = (await http.get(f"/api/docs/{doc['id']}/export.md", headers=as_(people, "observer"))).text
    assert md.startswith("# 一次函数 \\<教案\\>") and "## 教学目标 (Objectives)" in md and "## 教学反思 (Reflection)" in md
    html = (await http.get(f"/api/docs/{doc['id']}/export.html", headers=as_(people, "observer"))).text
    assert "<h1>一次函数 &lt;教案&gt;</h1>" in html and "<script" not in html
    assert (await http.get(f"/api/docs/{doc['id']}/export.md", headers=as_(people, "outsider"))).status_code == 403
    # what the editor page offers: editing to members, deleting anyone's comments to those who run the studio
    mine = {who: (await http.get(f"/api/docs/{doc['id']}", headers=as_(people, who))).json()["me"]
            for who in ("co_leader", "member", "observer")}
    assert mine["co_leader"] == {"may_edit": True, "may_delete": True, "may_manage": True}
    assert mine["member"] == {"may_edit": True, "may_delete": True, "may_manage": False}  # its creator
    assert mine["observer"] == {"may_edit": False, "may_delete": False, "may_manage": False}

    v1 = (await http.post(f"/api/docs/{doc['id']}/versions", json={"name": "初稿"}, headers=as_(people, "member"))).json()
    assert (await http.post(f"/api/docs/{doc['id']}/versions", json={"name": "x"},
                            headers=as_(people, "observer"))).status_code == 403
    # a comment on "教学目标" (UTF-16 positions, as a Yjs client counts them)
    view = (await http.get(f"/api/docs/{doc['id']}/versions/{v1['id']}", headers=as_(people, "observer"))).json()
    start = view["text"].index("教学目标")
    c = await http.post(f"/api/docs/{doc['id']}/comments", json={"start": start, "end": start + 4, "body": "目标要可测"},
                        headers=as_(people, "member"))
    assert c.status_code == 201, c.text
    assert c.json()["quote"] == "教学目标"
    reply = await http.post(f"/api/docs/{doc['id']}/comments", json={"parent_id": c.json()["id"], "body": "同意"},
                            headers=as_(people, "co_leader"))
    assert reply.status_code == 201
    assert (await http.post(f"/api/docs/{doc['id']}/comments", json={"start": 0, "end": 1, "body": "x"},
                            headers=as_(people, "observer"))).status_code == 403
    bad = await http.post(f"/api/docs/{doc['id']}/comments", json={"start": 5, "end": 5, "body": "x"},
                          headers=as_(people, "member"))
    assert bad.status_code == 400
    [thread] = (await http.get(f"/api/docs/{doc['id']}/comments", headers=as_(people, "observer"))).json()["threads"]
    assert thread["range"] == {"start": start, "end": start + 4} and [x["body"] for x in thread["replies"]] == ["同意"]
    r = await http.post(f"/api/docs/{doc['id']}/comments/{thread['id']}/resolve", json={"resolved": True},
                        headers=as_(people, "member"))
    assert r.json() == {"id": thread["id"], "resolved": True}
    # the comment mark is not formatting: the export is unchanged by it
    assert (await http.get(f"/api/docs/{doc['id']}/export.md", headers=as_(people, "observer"))).text == md
    versions = (await http.get(f"/api/docs/{doc['id']}/versions", headers=as_(people, "observer"))).json()["versions"]
    assert [v["name"] for v in versions] == ["初稿"]
    r = await http.post(f"/api/docs/{doc['id']}/versions/{v1['id']}/restore", headers=as_(people, "member"))
    assert r.status_code == 200
    assert (await http.delete(f"/api/docs/{doc['id']}/comments/{thread['id']}", headers=as_(people, "observer"))).status_code == 403
    assert (await http.delete(f"/api/docs/{doc['id']}/comments/{thread['id']}", headers=as_(people, "member"))).status_code == 204


async def test_a_studio_schedules_its_own_activity_and_its_members_attend(http, people):
    sid = people["studio"]
    body = {"title": "工作室教研活动", "starts_at": "2027-04-01T14:00:00+08:00", "ends_at": "2027-04-01T15:00:00+08:00",
            "visibility": "invited", "studio_id": sid, "agenda": [{"kind": "discussion", "minutes": 30}]}
    assert (await http.post("/api/activities", json=body, headers=as_(people, "member"))).status_code == 403
    r = await http.post("/api/activities", json=body, headers=as_(people, "co_leader"))  # a teacher, not an organizer
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    assert r.json()["studio_id"] == sid
    seen = await http.get(f"/api/activities/{aid}", headers=as_(people, "observer"))
    assert seen.status_code == 200 and seen.json()["me"]["registration"] == "approved"
    assert (await http.get(f"/api/activities/{aid}", headers=as_(people, "outsider"))).status_code == 403
    listed = (await http.get(f"/api/activities?studio_id={sid}", headers=as_(people, "member"))).json()["activities"]
    assert [a["id"] for a in listed] == [aid]
    assert listed[0]["me"]["registration"] == "approved"  # a member attends as registered, the listing says so
