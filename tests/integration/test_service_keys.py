"""Service API keys as an integrator and an admin meet them, on SQLite and PostgreSQL with a real
server and the real `collab keys` command: the secret is printed once and kept nowhere; a key works
within its scopes and is refused with key_scope (403) outside them, on /ws and on a person's own
routes; its last use is written at most once a minute; a revoked or expired key answers 401 with its
own code; every call made with a key is in the audit log."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select, update

import harness
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import ServiceKey

SHAPE = re.compile(r"\bcollab_sk_[0-9A-Za-z]{43}\b")
MACHINE_HEADER = "user_id,name,school,region,first_join,last_leave,minutes,rejoins,credited,role"


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    """The real command line, as an operator runs it on a server's shell."""
    env = dict(os.environ, COLLAB_DATA_DIR=str(harness.ARTIFACTS / "cli-data"), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "server.cli", "keys", *args, "--database-url", database_url,
                           "--secret", harness.SECRET], cwd=harness.ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def create_key(database_url: str, name: str, *scopes: str) -> tuple[int, str, str]:
    """(id, secret, everything the command printed)."""
    args = ["create", "--name", name]
    for s in scopes:
        args += ["--scope", s]
    r = cli(database_url, *args)
    assert r.returncode == 0, r.stderr
    [secret] = SHAPE.findall(r.stdout)
    key_id = int(re.search(r"created key (\d+)", r.stdout).group(1))
    return key_id, secret, r.stdout


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def server(database_url, users):
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
async def activities(server, users):
    """An invited-only activity of org1's (a key sees it whatever its visibility) with teacher1
    registered, and one public one."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        ids = []
        for visibility in ("registered", "invited"):
            r = await http.post("/api/activities", headers=bearer(users["org1"][1]), json={
                "title": f"函数的概念（{visibility}）", "visibility": visibility,
                "starts_at": "2027-05-01T14:00:00+08:00", "ends_at": "2027-05-01T15:00:00+08:00",
                "agenda": [{"kind": "discussion", "title": "研讨", "minutes": 60}]})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        r = await http.post(f"/api/activities/{ids[0]}/register", headers=bearer(users["teacher1"][1]))
        assert r.json()["status"] == "approved"
    return ids


async def test_the_secret_is_printed_once_and_only_its_hash_is_kept(database_url, server, users):
    key_id, secret, printed = create_key(database_url, "省平台", "attendance:read", "activities:read")
    assert "省平台" in printed and "shown this once" in printed
    listed = cli(database_url, "list")
    assert listed.returncode == 0 and secret not in listed.stdout
    assert secret[:16] in listed.stdout  # the visible prefix tells the admin which key it is
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        body = (await http.get("/api/keys", headers=bearer(users["admin1"][1]))).json()
    [mine] = [k for k in body["keys"] if k["id"] == key_id]
    assert mine["prefix"] == secret[:16] and mine["scopes"] == ["activities:read", "attendance:read"]
    assert mine["state"] == "active" and mine["created_by"] is None
    assert secret not in str(body) and "hash" not in str(body)
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as db:
        row = await db.get(ServiceKey, key_id)
        stored = [str(getattr(row, c.key)) for c in ServiceKey.__table__.columns]
    await engine.dispose()
    assert not any(secret in value for value in stored)  # the database could leak; the key is not in it
    assert row.secret_hash == __import__("hashlib").sha256(secret.encode()).hexdigest()


async def test_a_key_reads_within_its_scopes_and_is_refused_outside_them(database_url, server, users, activities):
    aid, invited = activities
    _, reader, _ = create_key(database_url, "教师管理系统", "attendance:read")
    _, lister, _ = create_key(database_url, "市平台", "activities:read", "registrations:read")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.get(f"/api/activities/{aid}/attendance", headers=bearer(reader))
        assert r.status_code == 200 and r.json()["activity_id"] == aid
        r = await http.get(f"/api/activities/{aid}/attendance.csv?format=machine", headers=bearer(reader))
        assert r.status_code == 200 and r.text.lstrip("\ufeff").splitlines()[0] == MACHINE_HEADER
        r = await http.get(f"/api/users/{users['teacher1'][0]}/learning", headers=bearer(reader))
        assert r.status_code == 200 and r.json()["user_id"] == users["teacher1"][0]
        # the same key, outside attendance:read
        for method, path in [("GET", f"/api/activities/{aid}"), ("GET", "/api/activities"),
                             ("GET", f"/api/activities/{aid}/registrations"), ("POST", "/api/activities"),
                             ("POST", f"/api/activities/{aid}/register"), ("GET", "/api/me"),
                             ("GET", "/api/me/learning"), ("GET", "/api/audit"), ("GET", "/api/keys"),
                             ("POST", "/api/docs/1/ticket"), ("POST", "/api/studios")]:
            r = await http.request(method, path, headers=bearer(reader), json={"title": "x"} if method == "POST" else None)
            assert r.status_code == 403 and r.json()["error"]["code"] == "key_scope", (method, path, r.text)
        # activities:read sees every activity, invited-only ones too; registrations:read who registered
        listed = (await http.get("/api/activities", headers=bearer(lister))).json()["activities"]
        assert {aid, invited} <= {a["id"] for a in listed}
        r = await http.get(f"/api/activities/{invited}", headers=bearer(lister))
        assert r.status_code == 200 and r.json()["agenda"][0]["title"] == "研讨"  # the agenda
        regs = (await http.get(f"/api/activities/{aid}/registrations", headers=bearer(lister))).json()
        assert [x["user_id"] for x in regs["registrations"]] == [users["teacher1"][0]]
        r = await http.get(f"/api/activities/{aid}/attendance", headers=bearer(lister))
        assert r.status_code == 403 and r.json()["error"]["code"] == "key_scope"
        r = await http.post(f"/api/activities/{aid}/registrations/{users['teacher1'][0]}", headers=bearer(lister),
                            json={"approve": False})  # reading registrations is not deciding them
        assert r.status_code == 403 and r.json()["error"]["code"] == "key_scope"
        # a key is not a person: no sockets
    ws = await harness.WsClient(server.ws_url).open()
    r = await ws.call("connect", token=lister)
    assert r["error"]["code"] == "key_not_allowed"
    await ws.close()


async def test_last_use_is_written_at_most_once_a_minute(database_url, server, users, activities):
    aid, _ = activities
    key_id, secret, _ = create_key(database_url, "区平台", "activities:read")

    async def last_used() -> str | None:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            keys = (await http.get("/api/keys", headers=bearer(users["admin1"][1]))).json()["keys"]
        return next(k["last_used_at"] for k in keys if k["id"] == key_id)

    assert await last_used() is None
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get(f"/api/activities/{aid}", headers=bearer(secret))).status_code == 200
        first = await last_used()
        assert first is not None
        assert datetime.now(timezone.utc) - datetime.fromisoformat(first) < timedelta(minutes=1)
        for _ in range(3):
            assert (await http.get(f"/api/activities/{aid}", headers=bearer(secret))).status_code == 200
    assert await last_used() == first  # not rewritten on every call


async def test_revoked_and_expired_keys_answer_401_with_their_own_code(database_url, server, users, activities):
    aid, _ = activities
    revoked_id, revoked, _ = create_key(database_url, "旧平台", "activities:read")
    expired_id, expired, _ = create_key(database_url, "试用平台", "activities:read")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get(f"/api/activities/{aid}", headers=bearer(revoked))).status_code == 200
        r = cli(database_url, "revoke", str(revoked_id))
        assert r.returncode == 0 and "revoked key" in r.stdout
        engine = make_engine(database_url)  # its expiry reached, as time would reach it
        async with make_sessionmaker(engine)() as db:
            await db.execute(update(ServiceKey).where(ServiceKey.id == expired_id)
                             .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
            await db.commit()
        await engine.dispose()
        codes = {}
        for _ in range(50):  # the node's cache holds a key for two seconds at most
            codes = {}
            for name, secret in (("revoked", revoked), ("expired", expired)):
                r = await http.get(f"/api/activities/{aid}", headers=bearer(secret))
                codes[name] = (r.status_code, r.json().get("error", {}).get("code"))
            if codes == {"revoked": (401, "key_revoked"), "expired": (401, "key_expired")}:
                break
            await asyncio.sleep(0.2)
        assert codes == {"revoked": (401, "key_revoked"), "expired": (401, "key_expired")}
        bad = "collab_sk_" + "A" * 43
        r = await http.get(f"/api/activities/{aid}", headers=bearer(bad))
        assert r.status_code == 401 and r.json()["error"]["code"] == "key_invalid"
        keys = (await http.get("/api/keys", headers=bearer(users["admin1"][1]))).json()["keys"]
        states = {k["id"]: k["state"] for k in keys}
        assert states[revoked_id] == "revoked" and states[expired_id] == "expired"
        log = (await http.get(f"/api/audit?action=key.revoke&target_id={revoked_id}",
                              headers=bearer(users["admin1"][1]))).json()["events"]
        assert len(log) == 1 and log[0]["actor"]["name"] == "命令行（CLI）" and log[0]["address"] == "local"
        # a revoked key still in use is seen in the log, under its id
        calls = (await http.get(f"/api/audit?key={revoked_id}&action=api.call",
                                headers=bearer(users["admin1"][1]))).json()["events"]
        assert 401 in {c["detail"]["status"] for c in calls}


async def test_admins_make_and_revoke_keys_through_the_api(server, users, activities):
    aid, _ = activities
    admin = bearer(users["admin1"][1])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        r = await http.post("/api/keys", headers=bearer(users["org1"][1]), json={"name": "x", "scopes": ["activities:read"]})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = await http.post("/api/keys", headers=admin, json={"name": "省平台", "scopes": ["grades:write"]})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_scope"
        r = await http.post("/api/keys", headers=admin, json={"name": "省平台", "scopes": ["activities:read"],
                                                               "expires_in_days": 90})
        assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
        made = r.json()
        assert SHAPE.fullmatch(made["secret"]) and made["created_by"] == users["admin1"][0]
        assert datetime.fromisoformat(made["expires_at"]) > datetime.now(timezone.utc) + timedelta(days=89)
        assert all("secret" not in k for k in (await http.get("/api/keys", headers=admin)).json()["keys"])
        assert (await http.get(f"/api/activities/{aid}", headers=bearer(made["secret"]))).status_code == 200
        r = await http.post(f"/api/keys/{made['id']}/revoke", headers=admin)
        assert r.status_code == 200 and r.json()["state"] == "revoked"
        r = await http.get(f"/api/activities/{aid}", headers=bearer(made["secret"]))  # this node: at once
        assert r.status_code == 401 and r.json()["error"]["code"] == "key_revoked"
        made_log = (await http.get(f"/api/audit?action=key.*&target_id={made['id']}", headers=admin)).json()["events"]
        assert [e["action"] for e in made_log] == ["key.revoke", "key.create"]
        assert all(e["actor"]["user_id"] == users["admin1"][0] and e["address"] == "127.0.0.1" for e in made_log)
        assert made["secret"] not in str(made_log)


async def test_every_call_with_a_key_is_in_the_audit_log(database_url, server, users, activities):
    aid, _ = activities
    key_id, secret, _ = create_key(database_url, "审计测试", "attendance:read")
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers={"User-Agent": "province-sync/2.1"}) as http:
        assert (await http.get(f"/api/activities/{aid}/attendance.csv?format=machine",
                               headers=bearer(secret))).status_code == 200
        assert (await http.get(f"/api/activities/{aid}", headers=bearer(secret))).status_code == 403
        events = (await http.get(f"/api/audit?key={key_id}", headers=bearer(users["admin1"][1]))).json()["events"]
    calls = [e for e in events if e["action"] == "api.call"]
    assert [(c["detail"]["method"], c["detail"]["path"], c["detail"]["status"]) for c in reversed(calls)] == [
        ("GET", f"/api/activities/{aid}/attendance.csv", 200), ("GET", f"/api/activities/{aid}", 403)]
    assert all(c["actor"] == {"user_id": None, "key_id": key_id, "name": "审计测试"} for c in calls)
    assert all(c["address"] == "127.0.0.1" and c["user_agent"] == "province-sync/2.1" for c in calls)
    assert calls[-1]["detail"]["query"] == "format=machine"
    [export] = [e for e in events if e["action"] == "attendance.export"]  # the export itself, by the key
    assert export["target"] == {"type": "activity", "id": str(aid)} and export["detail"]["format"] == "machine"
