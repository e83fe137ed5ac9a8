"""The permission matrix of a live activity, walked over a real server: every role × every kind of
action, and the answer each gets (ok or forbidden / unauthenticated)."""

from __future__ import annotations


import httpx
import pytest

import harness
from collab.auth.accounts import create_user
from collab.store.db import make_engine, make_sessionmaker

ROLES = ["organizer", "host", "expert", "presenter", "registered", "unregistered", "anonymous"]


@pytest.fixture(scope="module")
async def world(database_url):
    engine = make_engine(database_url)
    people = {}
    async with make_sessionmaker(engine)() as db:
        for name, platform_role in [("organizer", "organizer"), ("host", "teacher"), ("expert", "expert"),
                                    ("presenter", "teacher"), ("registered", "teacher"), ("unregistered", "teacher")]:
            u = await create_user(db, username="pm_" + name, password="password-" + name, display_name=name,
                                  role=platform_role)
            people[name] = (u.id, harness.token_for(u.id, platform_role, name))
        await db.commit()
    await engine.dispose()
    server = harness.Server(database_url, name="matrix", command_rate=1000, command_burst=1000).start()
    auth = lambda who: {"Authorization": f"Bearer {people[who][1]}"}  # noqa: E731
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/activities", headers=auth("organizer"), json={
            "title": "matrix", "starts_at": "2027-06-01T09:00:00+08:00", "ends_at": "2027-06-01T11:00:00+08:00",
            "agenda": [{"kind": "discussion", "minutes": 30}, {"kind": "online_interaction", "minutes": 30}],
            "hosts": [people["host"][0]], "experts": [people["expert"][0]], "presenters": [people["presenter"][0]]})
        aid = r.json()["id"]
        await http.post(f"/api/activities/{aid}/register", headers=auth("registered"))
        r = await http.post("/api/activities", headers=auth("organizer"), json={  # one not yet started
            "title": "matrix later", "starts_at": "2027-07-01T09:00:00+08:00",
            "ends_at": "2027-07-01T11:00:00+08:00", "hosts": [people["host"][0]]})
        later = r.json()["id"]
    org = await harness.WsClient(server.ws_url).open(people["organizer"][1])
    await org.ok("activity.start", activity_id=aid)
    clients = {who: await harness.WsClient(server.ws_url).open(people[who][1]) for who in people}
    yield server, people, aid, clients, later
    for c in [org, *clients.values()]:
        await c.close()
    server.cleanup()


# action -> the roles that may do it
WS_MATRIX = {
    "snapshot": {"organizer", "host", "expert", "presenter", "registered"},
    "subscribe_room": {"organizer", "host", "expert", "presenter", "registered"},
    "subscribe_desk": {"organizer", "host", "expert"},
    "run (extend phase)": {"organizer", "host"},
    "moderate (slow mode)": {"organizer", "host", "expert"},
    "hand queue": {"organizer", "host", "expert"},
    "questions list": {"organizer", "host", "expert", "presenter", "registered"},
    "react": {"organizer", "host", "expert", "presenter", "registered"},
}


def ws_action(name, aid):
    return {
        "snapshot": ("activity.snapshot", {"activity_id": aid}),
        "subscribe_room": ("subscribe", {"channel": f"activity:{aid}"}),
        "subscribe_desk": ("subscribe", {"channel": f"activity:{aid}:mod"}),
        "run (extend phase)": ("activity.extend_phase", {"activity_id": aid, "minutes": 1}),
        "moderate (slow mode)": ("chat.slow_mode", {"activity_id": aid, "seconds": 0}),
        "hand queue": ("hand.queue", {"activity_id": aid}),
        "questions list": ("qa.list", {"activity_id": aid}),
        "react": ("react", {"activity_id": aid, "kind": "clap"}),
    }[name]


@pytest.mark.parametrize("action", list(WS_MATRIX))
async def test_ws_matrix(world, action):
    server, people, aid, clients, _ = world
    cmd, args = ws_action(action, aid)
    for role in ROLES:
        if role == "anonymous":
            anon = await harness.WsClient(server.ws_url).open()
            assert (await anon.call(cmd, **args))["error"]["code"] == "not_connected"
            await anon.close()
            continue
        reply = await clients[role].call(cmd, **args)
        if role in WS_MATRIX[action]:
            assert "ok" in reply, (role, action, reply)
            if cmd == "subscribe":
                await clients[role].ok("unsubscribe", channel=args["channel"])
        else:
            assert reply.get("error", {}).get("code") == "forbidden", (role, action, reply)


API_MATRIX = {
    ("GET", "/api/activities/{aid}"): {"organizer", "host", "expert", "presenter", "registered", "unregistered"},
    ("PATCH", "/api/activities/{later}"): {"organizer"},  # before it starts; nobody edits a live one
    ("GET", "/api/activities/{aid}/registrations"): {"organizer"},
    ("GET", "/api/activities/{aid}/attendance"): {"organizer"},
    ("GET", "/api/activities/{aid}/timeline"): {"organizer", "host", "expert", "presenter", "registered",
                                                "unregistered"},
    ("POST", "/api/activities/{aid}/register"): {"registered", "unregistered"},
}


@pytest.mark.parametrize("method,path", list(API_MATRIX))
async def test_api_matrix(world, method, path):
    server, people, aid, _, later = world
    async with httpx.AsyncClient(base_url=server.url) as http:
        for role in ROLES:
            headers = {} if role == "anonymous" else {"Authorization": f"Bearer {people[role][1]}"}
            kwargs = {"json": {"description": "edited"}} if method == "PATCH" else {}
            r = await http.request(method, path.format(aid=aid, later=later), headers=headers, **kwargs)
            if role in API_MATRIX[(method, path)]:
                assert r.status_code == 200, (role, method, path, r.text)
            else:
                expected = 401 if role == "anonymous" else 403
                assert r.status_code == expected, (role, method, path, r.status_code)
