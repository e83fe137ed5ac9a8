"""Scheduling activities through the API of a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

import harness


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def as_(users, who):
    return {"Authorization": f"Bearer {users[who][1]}"}


def plan(**change):
    body = {
        "title": "初中数学“函数的概念”同课异构", "description": "两位老师同课异构, 专家点评",
        "subject": "math", "grade": "8", "level": "national", "region": "全国",
        "starts_at": "2027-03-01T14:00:00+08:00", "ends_at": "2027-03-01T16:30:00+08:00",
        "capacity": 3, "visibility": "registered", "registration": "open",
        "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 45},
                   {"kind": "discussion", "title": "分组研讨", "minutes": 40},
                   {"kind": "expert_guidance", "title": "专家引领", "minutes": 30},
                   {"kind": "online_interaction", "title": "互动答疑", "minutes": 20}],
    }
    body.update(change)
    return body


async def schedule(http, users, **change):
    r = await http.post("/api/activities", json=plan(**change), headers=as_(users, "org1"))
    assert r.status_code == 201, r.text
    return r.json()


async def test_organizer_schedules_an_activity_with_agenda_and_staff(http, users):
    expert_id = users["expert1"][0]
    a = await schedule(http, users, experts=[expert_id], hosts=[users["org1"][0]])
    assert a["state"] == "scheduled" and a["organizer_id"] == users["org1"][0]
    assert [p["kind"] for p in a["agenda"]] == ["lesson_display", "discussion", "expert_guidance",
                                                "online_interaction"]
    assert a["agenda"][0]["chat"] is False and a["agenda"][1]["chat"] is True
    assert a["planned_minutes"] == 135 and a["experts"] == [expert_id]
    assert a["starts_at"].startswith("2027-03-01T06:00:00")  # stored in UTC
    seen = await http.get(f"/api/activities/{a['id']}", headers=as_(users, "expert1"))
    assert seen.json()["me"] == {"roles": ["expert"], "registration": None, "organizer": False}


async def test_teachers_cannot_schedule_and_nobody_can_without_signing_in(http, users):
    r = await http.post("/api/activities", json=plan(), headers=as_(users, "teacher1"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await http.post("/api/activities", json=plan())
    assert r.status_code == 401


@pytest.mark.parametrize("change,field", [
    ({"title": ""}, "title"), ({"ends_at": "2027-03-01T13:00:00+08:00"}, "ends_at"),
    ({"agenda": [{"kind": "nap"}]}, "kind"), ({"experts": [999999]}, "staff"), ({"level": "x"}, "level"),
])
async def test_bad_schedules_are_refused_with_the_field_named(http, users, change, field):
    before = (await http.get("/api/activities", headers=as_(users, "org1"))).json()["activities"]
    r = await http.post("/api/activities", json=plan(**change), headers=as_(users, "org1"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
    assert r.json()["error"]["message"].startswith(field)
    after = (await http.get("/api/activities", headers=as_(users, "org1"))).json()["activities"]
    assert len(after) == len(before)  # nothing half-stored


async def test_edit_and_cancel_by_the_organizer_only(http, users):
    a = await schedule(http, users)
    r = await http.patch(f"/api/activities/{a['id']}", json={"title": "x"}, headers=as_(users, "teacher1"))
    assert r.status_code == 403
    r = await http.patch(f"/api/activities/{a['id']}", json={"title": "改期后的教研", "agenda": [
        {"kind": "discussion", "minutes": 60}]}, headers=as_(users, "org1"))
    assert r.status_code == 200
    assert r.json()["title"] == "改期后的教研" and len(r.json()["agenda"]) == 1
    assert r.json()["starts_at"] == a["starts_at"]  # untouched fields stay
    r = await http.post(f"/api/activities/{a['id']}/cancel", headers=as_(users, "org1"))
    assert r.json()["state"] == "cancelled"
    r = await http.patch(f"/api/activities/{a['id']}", json={"title": "y"}, headers=as_(users, "org1"))
    assert r.status_code == 403  # a cancelled activity is no longer edited
    cancelled = (await http.get("/api/activities?status=cancelled", headers=as_(users, "org1"))).json()
    assert a["id"] in [x["id"] for x in cancelled["activities"]]
    upcoming = (await http.get("/api/activities", headers=as_(users, "org1"))).json()
    assert a["id"] not in [x["id"] for x in upcoming["activities"]]


async def test_listing_filters_and_visibility(http, users):
    pub = await schedule(http, users, visibility="public", subject="chinese", grade="3", region="四川")
    reg = await schedule(http, users, visibility="registered", subject="chinese", grade="3", region="四川")
    inv = await schedule(http, users, visibility="invited", subject="chinese", grade="3", region="四川",
                         experts=[users["expert1"][0]])
    q = "/api/activities?subject=chinese&grade=3&region=四川"
    anon = [x["id"] for x in (await http.get(q)).json()["activities"]]
    teacher = [x["id"] for x in (await http.get(q, headers=as_(users, "teacher1"))).json()["activities"]]
    expert = [x["id"] for x in (await http.get(q, headers=as_(users, "expert1"))).json()["activities"]]
    assert anon == [pub["id"]]
    assert teacher == [pub["id"], reg["id"]]
    assert expert == [pub["id"], reg["id"], inv["id"]]
    assert (await http.get(f"/api/activities/{inv['id']}", headers=as_(users, "teacher1"))).status_code == 403
    assert (await http.get(f"/api/activities/{reg['id']}")).status_code == 401
    by_name = (await http.get("/api/activities?subject=语文&grade=三年级&region=四川", headers=as_(users, "teacher1"))).json()
    assert [x["id"] for x in by_name["activities"]] == teacher  # 语文 and 三年级 find what is stored as codes
    other = (await http.get("/api/activities?subject=chinese&grade=4", headers=as_(users, "org1"))).json()
    assert other["activities"] == []
    assert (await http.get("/api/activities?status=someday")).status_code == 400


async def test_registration_open_approval_and_capacity(http, users):
    a = await schedule(http, users, capacity=1)
    r = await http.post(f"/api/activities/{a['id']}/register", headers=as_(users, "teacher1"))
    assert r.json()["status"] == "approved"
    again = await http.post(f"/api/activities/{a['id']}/register", headers=as_(users, "teacher1"))
    assert again.json()["status"] == "approved"  # registering twice changes nothing
    full = await http.post(f"/api/activities/{a['id']}/register", headers=as_(users, "teacher2"))
    assert full.status_code == 400 and "full" in full.json()["error"]["message"]

    b = await schedule(http, users, registration="approval", capacity=1)
    assert (await http.post(f"/api/activities/{b['id']}/register", headers=as_(users, "teacher1"))).json()[
        "status"] == "pending"
    await http.post(f"/api/activities/{b['id']}/register", headers=as_(users, "teacher2"))
    listed = await http.get(f"/api/activities/{b['id']}/registrations", headers=as_(users, "teacher1"))
    assert listed.status_code == 403
    listed = (await http.get(f"/api/activities/{b['id']}/registrations", headers=as_(users, "org1"))).json()
    assert [r["status"] for r in listed["registrations"]] == ["pending", "pending"]
    t1, t2 = users["teacher1"][0], users["teacher2"][0]
    ok = await http.post(f"/api/activities/{b['id']}/registrations/{t1}", json={"approve": True},
                         headers=as_(users, "org1"))
    assert ok.json()["status"] == "approved"
    over = await http.post(f"/api/activities/{b['id']}/registrations/{t2}", json={"approve": True},
                           headers=as_(users, "org1"))
    assert over.status_code == 400  # capacity 1
    no = await http.post(f"/api/activities/{b['id']}/registrations/{t2}", json={"approve": False},
                         headers=as_(users, "org1"))
    assert no.json()["status"] == "rejected"
    staff = await schedule(http, users, experts=[users["expert1"][0]])
    r = await http.post(f"/api/activities/{staff['id']}/register", headers=as_(users, "expert1"))
    assert r.status_code == 403  # staff do not register for their own activity


async def test_calendar_export_and_teacher_feed(http, users):
    a = await schedule(http, users, title="Lesson; study, \"group\"\nsecond line " + "长" * 40)
    ics = await http.get(f"/api/activities/{a['id']}/calendar.ics", headers=as_(users, "teacher1"))
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    text = ics.text
    assert "BEGIN:VEVENT" in text and f"UID:activity-{a['id']}@collab" in text
    assert "DTSTART:20270301T060000Z" in text and "DTEND:20270301T083000Z" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))  # folded per RFC 5545
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:Lesson\\; study\\, \"group\"\\nsecond line " in unfolded

    await http.post(f"/api/activities/{a['id']}/register", headers=as_(users, "teacher2"))
    url = (await http.get("/api/me/calendar", headers=as_(users, "teacher2"))).json()["url"]
    feed = await http.get(url.replace(str(http.base_url).rstrip("/"), ""))
    assert feed.status_code == 200 and f"UID:activity-{a['id']}@collab" in feed.text
    forged = url.rsplit("key=", 1)[0] + "key=" + "0" * 32
    assert (await http.get(forged.replace(str(http.base_url).rstrip("/"), ""))).status_code == 403
    # a key pasted with a non-ASCII character is refused like any wrong key, not a server error
    pasted = url.rsplit("key=", 1)[0] + "key=" + "钥" * 32
    r = await http.get(pasted.replace(str(http.base_url).rstrip("/"), ""))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


async def test_unknown_activity(http, users):
    assert (await http.get("/api/activities/999999", headers=as_(users, "org1"))).status_code == 404
    assert (await http.get("/api/activities/abc", headers=as_(users, "org1"))).status_code == 404


async def test_invitation_links_admit_to_an_invited_only_activity(http, users):
    a = await schedule(http, users, visibility="invited", capacity=5)
    assert (await http.post(f"/api/activities/{a['id']}/register", headers=as_(users, "teacher2"))).status_code == 403
    denied = await http.post(f"/api/activities/{a['id']}/invitations", json={}, headers=as_(users, "teacher1"))
    assert denied.status_code == 403
    link = (await http.post(f"/api/activities/{a['id']}/invitations", json={"hours": 24},
                            headers=as_(users, "org1"))).json()
    assert f"/activities/{a['id']}?invite=" in link["url"]
    joined = await http.post(f"/api/activities/{a['id']}/join", json={"token": link["token"]},
                             headers=as_(users, "teacher2"))
    assert joined.status_code == 200 and joined.json()["status"] == "approved"
    seen = await http.get(f"/api/activities/{a['id']}", headers=as_(users, "teacher2"))
    assert seen.status_code == 200 and seen.json()["me"]["registration"] == "approved"
    # the listing says the same of every entry, without a request per activity
    listed = {x["id"]: x["me"] for x in (await http.get("/api/activities", headers=as_(users, "teacher2"))).json()["activities"]}
    assert listed[a["id"]] == {"roles": [], "registration": "approved", "organizer": False}
    by_org = {x["id"]: x["me"] for x in (await http.get("/api/activities", headers=as_(users, "org1"))).json()["activities"]}
    assert by_org[a["id"]]["organizer"] is True and by_org[a["id"]]["registration"] is None
    forged = await http.post(f"/api/activities/{a['id']}/join", json={"token": link["token"][:-3] + "abc"},
                             headers=as_(users, "teacher1"))
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invitation_invalid"
    other = await schedule(http, users, visibility="invited")
    wrong = await http.post(f"/api/activities/{other['id']}/join", json={"token": link["token"]},
                            headers=as_(users, "teacher1"))
    assert wrong.status_code == 400  # a link is for its own activity only
    anon = await http.post(f"/api/activities/{a['id']}/join", json={"token": link["token"]})
    assert anon.status_code == 401
