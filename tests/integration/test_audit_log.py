"""The audit log as an admin reads it, on SQLite and PostgreSQL with a real server: an expert's
moderation and stage calls over /ws, an organizer's staff changes and attendance exports, a studio
leader's membership decisions and an admin's account creation are each there with who did it, to what,
when and from which address; only admins read it; its filters and paging work; it exports as CSV
(Chinese or English headers) and JSON lines; and nothing in the API edits or deletes an entry."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import httpx
import orjson
import pytest

import harness

state: dict = {}


def bearer(users, who: str) -> dict:
    return {"Authorization": f"Bearer {users[who][1]}", "User-Agent": f"browser-of-{who}"}


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
async def acted(server, users):
    """Staff act on a live activity and a studio; returns what they acted on."""
    t1, t2, expert = users["teacher1"][0], users["teacher2"][0], users["expert1"][0]
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/activities", headers=bearer(users, "org1"), json={
            "title": "课例研讨", "visibility": "public", "starts_at": "2027-05-01T14:00:00+08:00",
            "ends_at": "2027-05-01T15:00:00+08:00", "agenda": [{"kind": "discussion", "title": "研讨", "minutes": 60}]})
        aid = r.json()["id"]
        r = await http.patch(f"/api/activities/{aid}", headers=bearer(users, "org1"), json={"experts": [expert]})
        assert r.status_code == 200, r.text
        await http.post(f"/api/activities/{aid}/register", headers=bearer(users, "teacher2"))
        r = await http.post(f"/api/activities/{aid}/registrations/{t2}", headers=bearer(users, "org1"),
                            json={"approve": False})  # the organizer turns a registration down
        assert r.json()["status"] == "rejected"
    host = await harness.WsClient(server.ws_url).open(users["org1"][1])
    await host.ok("activity.start", activity_id=aid)
    mod = await harness.WsClient(server.ws_url).open(users["expert1"][1])
    teacher1 = await harness.WsClient(server.ws_url).open(users["teacher1"][1])
    teacher2 = await harness.WsClient(server.ws_url).open(users["teacher2"][1])
    posted = await teacher1.ok("chat.post", activity_id=aid, body="广告：加微信")
    message_id = posted["message"]["id"]
    await mod.ok("chat.hide", activity_id=aid, message_id=message_id)
    await mod.ok("chat.mute", activity_id=aid, user_id=t1, minutes=10)
    await mod.ok("chat.slow_mode", activity_id=aid, seconds=30)
    await teacher2.ok("hand.raise", activity_id=aid)
    await mod.ok("hand.call", activity_id=aid, user_id=t2)
    await mod.ok("stage.remove", activity_id=aid, user_id=t2)
    await mod.ok("activity.remove", activity_id=aid, user_id=t1)
    await teacher2.ok("chat.post", activity_id=aid, body="谢谢老师")  # a teacher's own act: not audited
    for ws in (host, mod, teacher1, teacher2):
        await ws.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.get(f"/api/activities/{aid}/attendance.csv?lang=en", headers=bearer(users, "org1"))
        assert r.status_code == 200
        # a studio: teacher2 leads it, teacher1 applies and is let in, made an observer, then removed
        r = await http.post("/api/studios", headers=bearer(users, "teacher2"), json={"name": "张老师数学工作室"})
        sid = r.json()["id"]
        assert (await http.post(f"/api/studios/{sid}/apply", headers=bearer(users, "teacher1"))).status_code == 200
        for body in ({"approve": True}, {"role": "observer"}):
            r = await http.post(f"/api/studios/{sid}/members/{t1}", headers=bearer(users, "teacher2"), json=body)
            assert r.status_code == 200, r.text
        assert (await http.delete(f"/api/studios/{sid}/members/{t1}", headers=bearer(users, "teacher2"))).status_code == 204
        r = await http.post("/api/users", headers=bearer(users, "admin1"), json={
            "username": "expert9", "password": "password-expert9", "display_name": "王专家", "role": "expert"})
        new_user = r.json()["id"]
    return {"aid": aid, "sid": sid, "message_id": message_id, "started": started, "new_user": new_user}


async def log(server, users, query: str = "", who: str = "admin1") -> list[dict]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.get(f"/api/audit{query}", headers=bearer(users, who))
    assert r.status_code == 200, r.text
    return r.json()["events"]


async def test_moderation_and_stage_calls_are_logged_with_actor_target_and_address(server, users, acted):
    aid = acted["aid"]
    t1, t2, expert = users["teacher1"][0], users["teacher2"][0], users["expert1"][0]
    events = await log(server, users, f"?activity_id={aid}&actor={expert}")
    seen = [(e["action"], e["target"]["type"], e["target"]["id"]) for e in reversed(events)]
    assert seen == [("chat.hide", "chat_message", str(acted["message_id"])), ("chat.mute", "user", str(t1)),
                    ("chat.slow_mode", "activity", str(aid)), ("stage.call", "user", str(t2)),
                    ("stage.remove", "user", str(t2)), ("activity.remove", "user", str(t1))]
    for e in events:
        assert e["actor"] == {"user_id": expert, "key_id": None, "name": "Expert1"}
        assert e["address"] == "127.0.0.1" and e["activity_id"] == aid
        assert acted["started"] <= datetime.fromisoformat(e["at"]) <= datetime.now(timezone.utc)
    by_action = {e["action"]: e for e in events}
    assert by_action["chat.mute"]["detail"]["until"] and by_action["chat.slow_mode"]["detail"]["seconds"] == 30
    everything = await log(server, users, f"?activity_id={aid}")
    assert not any(e["actor"]["user_id"] == t2 for e in everything)  # a teacher's own posts are not staff acts


async def test_staff_membership_accounts_and_exports_are_logged(server, users, acted):
    aid, sid = acted["aid"], acted["sid"]
    org, t1 = users["org1"][0], users["teacher1"][0]
    [staff] = await log(server, users, f"?action=activity.staff&target_id={aid}")
    assert staff["actor"]["user_id"] == org and staff["detail"] == {
        "added": [{"user_id": users["expert1"][0], "role": "expert"}], "removed": []}
    assert staff["user_agent"] == "browser-of-org1" and staff["address"] == "127.0.0.1"
    [rejected] = await log(server, users, f"?action=activity.registration&activity_id={aid}")
    assert rejected["actor"]["user_id"] == org and rejected["target"] == {"type": "user", "id": str(users["teacher2"][0])}
    assert rejected["detail"] == {"from": "approved", "approved": False}
    [export] = await log(server, users, f"?action=attendance.export&activity_id={aid}")
    assert export["actor"]["user_id"] == org and export["detail"]["format"] == "human"
    studio = await log(server, users, f"?studio_id={sid}")
    assert [(e["action"], e["detail"]) for e in reversed(studio)] == [
        ("studio.application", {"approved": True}), ("studio.role", {"from": "member", "to": "observer"}),
        ("studio.remove", {"role": "observer", "status": "active"})]
    assert all(e["actor"]["user_id"] == users["teacher2"][0] and e["target"] == {"type": "user", "id": str(t1)}
               for e in studio)
    [made] = await log(server, users, f"?action=user.create&target_id={acted['new_user']}")
    assert made["detail"] == {"username": "expert9", "role": "expert"}


async def test_webhook_endpoint_changes_are_logged_without_their_secret(server, users, acted):
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/webhooks", headers=bearer(users, "admin1"), json={
            "url": "https://receiver.example/hook", "event_types": ["attendance.finalized"]})
        assert r.status_code == 201, r.text
        eid, first = r.json()["endpoint"]["id"], r.json()["secret"]
        r = await http.patch(f"/api/webhooks/{eid}", headers=bearer(users, "admin1"), json={"enabled": False})
        assert r.status_code == 200, r.text
        r = await http.post(f"/api/webhooks/{eid}/rotate-secret", headers=bearer(users, "admin1"), json={})
        assert r.status_code == 200, r.text
        second = r.json()["secret"]
    entries = await log(server, users, f"?action=webhook.*&target_id={eid}")
    assert [e["action"] for e in reversed(entries)] == ["webhook.create", "webhook.change", "webhook.rotate_secret"]
    assert all(e["actor"]["user_id"] == users["admin1"][0] and e["address"] == "127.0.0.1" for e in entries)
    assert entries[-1]["detail"] == {"url": "https://receiver.example/hook", "event_types": ["attendance.finalized"]}
    assert entries[1]["detail"] == {"enabled": False}
    assert first not in str(entries) and second not in str(entries)  # a secret never goes in the log


async def test_role_changes_disabling_and_ended_sessions_are_logged(server, users, acted):
    uid = acted["new_user"]  # made in this module for this: changing a role ends the user's sessions
    async with httpx.AsyncClient(base_url=server.url) as http:
        for body in ({"role": "teacher"}, {"disabled": True}, {"disabled": False}):
            r = await http.patch(f"/api/users/{uid}", headers=bearer(users, "admin1"), json=body)
            assert r.status_code == 200, r.text
        r = await http.post(f"/api/users/{uid}/sessions/end-all", headers=bearer(users, "admin1"))
        assert r.status_code == 200, r.text
    entries = list(reversed(await log(server, users, f"?action=user.*&target_id={uid}")))
    assert [(e["action"], e["detail"]) for e in entries][-4:] == [
        ("user.role", {"from": "expert", "to": "teacher"}), ("user.disable", {}), ("user.enable", {}),
        ("user.sessions_ended", {"sessions": 0})]
    assert all(e["actor"]["user_id"] == users["admin1"][0] for e in entries[-4:])


async def test_only_admins_read_the_log(server, users, acted):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for who in ("org1", "expert1", "teacher1"):
            for path in ("/api/audit", "/api/audit/export"):
                r = await http.get(path, headers=bearer(users, who))
                assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (who, path)
        r = await http.get("/api/audit")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


async def test_filters_and_paging(server, users, acted):
    aid = acted["aid"]
    family = await log(server, users, f"?action=chat.*&activity_id={aid}")
    assert sorted(e["action"] for e in family) == ["chat.hide", "chat.mute", "chat.slow_mode"]
    everything = await log(server, users, "?limit=1000")
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 12
    # paging back by id, three at a time, meets every entry once
    paged, query = [], "?limit=3"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        while query:
            body = (await http.get(f"/api/audit{query}", headers=bearer(users, "admin1"))).json()
            paged += [e["id"] for e in body["events"]]
            query = f"?limit=3&before={body['next']['before']}" if body["next"] else ""
        forward = (await http.get(f"/api/audit?after={ids[3]}&limit=1000", headers=bearer(users, "admin1"))).json()
        r = await http.get("/api/audit?since=yesterday", headers=bearer(users, "admin1"))
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
    assert paged[:len(ids)] == ids
    assert [e["id"] for e in forward["events"]] == sorted(ids[:3])
    # a time range: nothing before the actions began, everything since
    assert await log(server, users, "?until=" + quote(acted["started"].isoformat())) == []
    since = await log(server, users, "?limit=1000&since=" + quote(acted["started"].isoformat()))
    assert {e["id"] for e in since} >= set(ids[len(ids) - 12:])
    target = await log(server, users, f"?target_type=user&target_id={users['teacher2'][0]}&activity_id={aid}")
    assert [e["action"] for e in target] == ["stage.remove", "stage.call", "activity.registration"]


async def test_the_log_exports_as_csv_and_json_lines(server, users, acted):
    aid = acted["aid"]
    admin = bearer(users, "admin1")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        zh = await http.get(f"/api/audit/export?activity_id={aid}&action=chat.*", headers=admin)
        en = await http.get(f"/api/audit/export?activity_id={aid}&action=chat.*&lang=en&tz=Europe/Paris",
                            headers=admin)
        lines = await http.get(f"/api/audit/export?format=jsonl&activity_id={aid}", headers=admin)
        api = (await http.get(f"/api/audit?activity_id={aid}&limit=1000", headers=admin)).json()["events"]
        bad = await http.get("/api/audit/export?tz=Mars/Olympus", headers=admin)
    assert zh.status_code == 200 and zh.headers["content-language"] == "zh-CN"
    rows = list(csv.reader(io.StringIO(zh.text.lstrip("\ufeff"))))
    assert rows[0][:6] == ["编号", "时间（Asia/Shanghai）", "操作者用户编号", "服务密钥编号", "操作者", "操作"]
    assert [r[5] for r in rows[1:]] == ["chat.hide", "chat.mute", "chat.slow_mode"]  # oldest first
    first = next(e for e in api if e["action"] == "chat.hide")
    shanghai = datetime.fromisoformat(first["at"]).astimezone(timezone(timedelta(hours=8)))
    assert rows[1][1] == shanghai.strftime("%Y-%m-%d %H:%M:%S")  # on the zone's clock, to the second
    en_rows = list(csv.reader(io.StringIO(en.text.lstrip("\ufeff"))))
    assert en_rows[0][:2] == ["ID", "Time (Europe/Paris)"] and en.headers["content-language"] == "en"
    parsed = [orjson.loads(line) for line in lines.text.splitlines()]
    assert lines.headers["content-type"].startswith("application/jsonl")
    assert parsed == sorted(api, key=lambda e: e["id"])  # the same entries as the API, oldest first
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_time_zone"
    exports = await log(server, users, "?action=audit.export")
    assert len(exports) >= 3 and exports[0]["actor"]["user_id"] == users["admin1"][0]


async def test_nothing_in_the_api_edits_or_deletes_an_entry(server, users, acted):
    admin = bearer(users, "admin1")
    before = await log(server, users, "?limit=1000")
    some = before[0]["id"]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            for path in ("/api/audit", f"/api/audit/{some}", "/api/audit/export"):
                r = await http.request(method, path, headers=admin, json={"action": "nothing.happened"})
                assert r.status_code in (404, 405), (method, path, r.status_code)
        spec = (await http.get("/api/openapi.json")).json()["paths"]
    audit_paths = {p: set(ops) for p, ops in spec.items() if p.startswith("/api/audit")}
    assert audit_paths == {"/api/audit": {"get"}, "/api/audit/export": {"get"}}
    after = await log(server, users, "?limit=1000")
    assert [e for e in after if e["id"] <= before[0]["id"]] == before  # every entry as it was
