"""Sessions that end when they should (issue 15, points 1 and 2), on two server processes sharing real
Redis and PostgreSQL: a socket closes when its token expires (4005) on `/ws` and `/ws/docs`; signing
out, an admin ending a user's sessions, a role change, disabling, a password change on node A end the
user's sockets on node B (4006) within 2 s and make the token useless over HTTP; `refresh` keeps a
socket past its first token's expiry without resubscribing and without losing an event; refused
refreshes; the sessions list; a node started later knows what was revoked before it."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import httpx
import pytest

import harness
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import User
from studio_seed import new_doc, seed_studio
from yclient import YClient

pytestmark = pytest.mark.usefixtures("validate_pushes")
validate_pushes = harness.validate_pushes

REVOKED_WITHIN = 2.0  # seconds: the bound for a revocation to reach every node's sockets


@pytest.fixture(scope="module")
async def world(redis_url):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    seed = await seed_studio(url)
    engine = make_engine(url)
    people = {}
    async with make_sessionmaker(engine)() as db:
        for name, role in (("admin", "admin"), ("org", "organizer"), ("t1", "teacher"), ("t2", "teacher"),
                           ("t3", "teacher"), ("t4", "teacher"), ("t5", "teacher"), ("t6", "organizer"), ("t7", "teacher")):
            u = await create_user(db, username=f"life_{name}", password=f"password-{name}", display_name=name,
                                  role=role)
            people[name] = u.id
        await db.commit()
    await engine.dispose()
    a = harness.Server(url, redis_url, name="life-a").start(wait=False)
    b = harness.Server(url, redis_url, name="life-b").start(wait=False)
    for n in (a, b):
        n.wait()
    yield {"url": url, "redis": redis_url, "a": a, "b": b, "people": people, **seed}
    for n in (a, b):
        n.cleanup()
    await harness.drop_pg_database(url)


async def sign_in(node, name: str, agent: str = "pytest", password: str | None = None) -> str:
    async with httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post("/api/auth/login", json={"username": f"life_{name}", "password": password or f"password-{name}"},
                            headers={"User-Agent": agent})
    assert r.status_code == 200, r.text
    return r.json()["token"]


async def api(node, method: str, path: str, token: str | None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=node.url) as http:
        return await http.request(method, path, headers=headers, **kw)


async def ws(node, token: str) -> tuple[harness.WsClient, dict]:
    c = await harness.WsClient(node.ws_url).open()
    r = await c.call("connect", token=token)
    assert "ok" in r, r
    return c, r["ok"]


async def ended_within(c: harness.WsClient, started: float) -> int | None:
    """The socket's close code, awaited until REVOKED_WITHIN seconds after `started`."""
    code = await c.wait_closed(timeout=max(REVOKED_WITHIN - (time.monotonic() - started), 0.05))
    return code


def error_codes(c: harness.WsClient) -> list[str]:
    return [m["error"]["code"] for m in c.errors_without_id]


# -- expiry ---------------------------------------------------------------------------------------


async def test_a_ws_socket_closes_with_4005_when_its_token_expires(world):
    token = harness.token_for(world["people"]["t1"], ttl=3)
    c, hello = await ws(world["a"], token)
    assert 0 < hello["expires_in"] <= 3 and hello["refresh_in"] < hello["expires_in"]
    assert (await c.ok("subscribe", channel="announce:all"))["channel"] == "announce:all"
    assert await c.wait_closed(timeout=10) == 4005
    assert error_codes(c) == ["token_expired"]  # said on a line before the close


async def test_a_document_socket_closes_with_4005_when_the_token_of_its_ticket_expires(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    short = harness.token_for(world["users"]["member"][0], ttl=3)
    y = await YClient(f"ws://127.0.0.1:{world['b'].port}/ws/docs/{doc_id}", short).open()
    assert y.content  # synced, editing
    assert await y.closed(timeout=10) == 4005 and y.close_reason == "token_expired"


# -- refresh --------------------------------------------------------------------------------------


async def test_refresh_keeps_the_socket_past_the_old_expiry_without_resubscribing_or_losing_an_event(world):
    teacher = world["people"]["t1"]
    c, hello = await ws(world["a"], harness.token_for(teacher, ttl=4))
    sub = await c.ok("subscribe", channel="announce:refresh")
    org_token = await sign_in(world["b"], "org")
    posted: list[int] = []

    async def post_for(seconds: float) -> None:  # on the other node, all the while, across the refresh
        end = time.monotonic() + seconds
        i = 0
        async with httpx.AsyncClient(base_url=world["b"].url, headers={"Authorization": f"Bearer {org_token}"}) as http:
            while time.monotonic() < end:
                r = await http.post("/api/announcements", json={"channel": "announce:refresh", "body": f"n{i}"})
                assert r.status_code == 201, r.text
                posted.append(r.json()["offset"])
                i += 1
                await asyncio.sleep(0.05)

    poster = asyncio.create_task(post_for(7.0))  # the first token lives 4 s
    await asyncio.sleep(1.0)
    renewed = await c.ok("refresh", token=harness.token_for(teacher, ttl=3600))
    assert renewed["expires_in"] > 3000 and renewed["refresh_in"] < renewed["expires_in"]
    await poster
    assert not c.closed.is_set()
    got = await c.pushes_until(len(posted), timeout=10)
    offsets = [p["o"] for p in got]
    assert offsets == posted == list(range(sub["offset"] + 1, sub["offset"] + 1 + len(posted)))  # none lost
    assert [p["e"]["body"] for p in got] == [f"n{i}" for i in range(len(posted))]
    assert (await c.ok("ping"))["t"] > 0  # still served after the first token's expiry
    await c.close()


async def test_refused_refreshes_leave_the_socket_as_it_was(world):
    people = world["people"]
    c, _ = await ws(world["b"], harness.token_for(people["t2"], ttl=3600))
    other = await c.call("refresh", token=harness.token_for(people["t3"], ttl=3600))
    assert other["error"]["code"] == "token_mismatch"
    promoted = await c.call("refresh", token=harness.token_for(people["t2"], role="organizer", ttl=3600))
    assert promoted["error"]["code"] == "token_mismatch"  # another role reconnects instead
    expired = await c.call("refresh", token=harness.token_for(people["t2"], ttl=-5))
    assert expired["error"]["code"] == "token_expired"
    signed_out = await sign_in(world["a"], "t2")
    assert (await api(world["a"], "POST", "/api/signout", signed_out)).status_code == 204
    revoked = await c.call("refresh", token=signed_out)
    assert revoked["error"]["code"] == "token_revoked"
    garbage = await c.call("refresh", token="not-a-token")
    assert garbage["error"]["code"] == "token_invalid"
    assert (await c.ok("ping"))["t"] > 0 and not c.closed.is_set()
    await c.close()


async def test_the_renewal_route_gives_a_new_token_of_the_same_session(world):
    token = await sign_in(world["a"], "t3", agent="renewing browser")
    r = await api(world["b"], "POST", "/api/token/refresh", token)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    renewed = r.json()["token"]
    assert renewed != token and r.json()["refresh_in"] < r.json()["expires_in"]
    mine = (await api(world["a"], "GET", "/api/me/sessions", renewed)).json()["sessions"]
    current = [s for s in mine if s["current"]]
    assert len(current) == 1 and current[0]["user_agent"] == "renewing browser"
    # a socket refreshed with it stays; signing out with the new token ends the session of both
    c, _ = await ws(world["b"], token)
    assert "ok" in await c.call("refresh", token=renewed)
    started = time.monotonic()
    assert (await api(world["a"], "POST", "/api/signout", renewed)).status_code == 204
    assert await ended_within(c, started) == 4006
    for t in (token, renewed):
        r = await api(world["b"], "POST", "/api/token/refresh", t)
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    # a token without a session (an external provider's, or issued before sessions) is not renewed here
    r = await api(world["a"], "POST", "/api/token/refresh", harness.token_for(world["people"]["t3"]))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_not_renewable"


# -- revocation reaches the other node ------------------------------------------------------------


async def test_signing_out_on_one_node_ends_the_sockets_on_the_other_and_the_token_over_http(world):
    token = await sign_in(world["a"], "t4")
    c, _ = await ws(world["b"], token)
    await c.ok("subscribe", channel="announce:all")
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    other = await sign_in(world["b"], "t4")  # the same teacher on another device stays signed in
    c2, _ = await ws(world["b"], other)
    started = time.monotonic()
    r = await api(world["a"], "POST", "/api/signout", token)
    assert r.status_code == 204
    assert await ended_within(c, started) == 4006
    assert error_codes(c) == ["token_revoked"]
    for node in (world["a"], world["b"]):
        r = await api(node, "GET", "/api/me", token)
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
        r = await api(node, "POST", f"/api/docs/{doc_id}/ticket", token)
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    again = await harness.WsClient(world["a"].ws_url).open()
    assert (await again.call("connect", token=token))["error"]["code"] == "token_revoked"
    assert await again.wait_closed() == 4001
    assert (await c2.ok("ping"))["t"] > 0 and (await api(world["a"], "GET", "/api/me", other)).status_code == 200
    await c2.close()


async def test_a_document_socket_ends_on_the_other_node_when_its_session_ends(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    seed_user = world["users"]["member"][0]
    # the seeded member signs in with a password: username member_<tag>
    engine = make_engine(world["url"])
    async with make_sessionmaker(engine)() as db:
        username = (await db.get(User, seed_user)).username
    await engine.dispose()
    async with httpx.AsyncClient(base_url=world["a"].url) as http:
        token = (await http.post("/api/auth/login", json={"username": username, "password": "password-member"})).json()["token"]
    y = await YClient(f"ws://127.0.0.1:{world['b'].port}/ws/docs/{doc_id}", token).open()
    started = time.monotonic()
    assert (await api(world["a"], "POST", "/api/signout", token)).status_code == 204
    assert await y.closed(timeout=REVOKED_WITHIN - (time.monotonic() - started)) == 4006
    assert y.close_reason == "token_revoked"


async def test_an_admin_ending_all_sessions_closes_every_socket_of_the_user_on_every_node(world):
    admin = await sign_in(world["a"], "admin")
    t5 = world["people"]["t5"]
    phone, laptop = await sign_in(world["a"], "t5", "phone"), await sign_in(world["b"], "t5", "laptop")
    sockets = [(await ws(world["b"], phone))[0], (await ws(world["a"], laptop))[0],
               (await ws(world["b"], harness.token_for(t5)))[0]]  # and a token from before sessions
    bystander, _ = await ws(world["b"], await sign_in(world["b"], "t1"))
    teacher_try = await api(world["a"], "POST", f"/api/users/{t5}/sessions/end-all", phone)
    assert teacher_try.status_code == 403  # the policy: admins only
    started = time.monotonic()
    r = await api(world["a"], "POST", f"/api/users/{t5}/sessions/end-all", admin)
    assert r.status_code == 200 and r.json()["ended"] >= 2
    for s in sockets:
        assert await ended_within(s, started) == 4006
    assert (await bystander.ok("ping"))["t"] > 0  # nobody else's socket
    fresh = await sign_in(world["b"], "t5")  # signing in again works, with a new session
    listed = (await api(world["a"], "GET", "/api/me/sessions", fresh)).json()["sessions"]
    assert [s["current"] for s in listed] == [True]
    await bystander.close()


async def test_a_role_change_by_an_admin_ends_the_users_sessions_and_the_next_sign_in_has_the_new_role(world):
    admin = await sign_in(world["b"], "admin")
    uid = world["people"]["t6"]
    token = await sign_in(world["a"], "t6")
    c, hello = await ws(world["b"], token)
    assert hello["user"]["role"] == "organizer"
    started = time.monotonic()
    r = await api(world["a"], "PATCH", f"/api/users/{uid}", admin, json={"role": "teacher"})
    assert r.status_code == 200 and r.json()["role"] == "teacher"
    assert await ended_within(c, started) == 4006
    r = await api(world["b"], "POST", "/api/activities", token, json={"title": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    _, hello = await ws(world["a"], await sign_in(world["a"], "t6"))
    assert hello["user"]["role"] == "teacher"


async def test_a_disabled_account_is_signed_out_everywhere_and_cannot_sign_in_until_enabled(world):
    admin = await sign_in(world["b"], "admin")
    uid = world["people"]["t4"]
    token = await sign_in(world["a"], "t4")
    c, _ = await ws(world["b"], token)
    started = time.monotonic()
    assert (await api(world["a"], "PATCH", f"/api/users/{uid}", admin, json={"disabled": True})).json()["disabled"]
    assert await ended_within(c, started) == 4006
    async with httpx.AsyncClient(base_url=world["b"].url) as http:
        r = await http.post("/api/auth/login", json={"username": "life_t4", "password": "password-t4"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "account_disabled"
        wrong = await http.post("/api/auth/login", json={"username": "life_t4", "password": "wrong-password"})
        assert wrong.status_code == 401  # a wrong password says nothing of the account
    # tokens issued while disabled (here: signed with the secret, as an external provider's would be) fail too
    r = await api(world["b"], "GET", "/api/me", harness.token_for(uid))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    assert (await api(world["a"], "PATCH", f"/api/users/{uid}", admin, json={"disabled": False})).json()["disabled"] is False
    again = await sign_in(world["b"], "t4")
    assert (await api(world["a"], "GET", "/api/me", again)).status_code == 200
    assert (await api(world["a"], "GET", "/api/me", token)).status_code == 401  # the old one stays void
    assert (await api(world["a"], "PATCH", f"/api/users/{uid}", again, json={"disabled": True})).status_code == 403


async def test_a_password_change_ends_the_other_sessions_but_not_this_one(world):
    here = await sign_in(world["a"], "t7", "here")
    there = await sign_in(world["b"], "t7", "there")
    c_here, _ = await ws(world["b"], here)
    c_there, _ = await ws(world["a"], there)
    wrong = await api(world["a"], "POST", "/api/me/password", here,
                      json={"old_password": "not-it-at-all", "new_password": "a-new-password"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_credentials"
    weak = await api(world["a"], "POST", "/api/me/password", here, json={"old_password": "password-t7", "new_password": "short"})
    assert weak.json()["error"]["code"] == "weak_password"
    started = time.monotonic()
    r = await api(world["a"], "POST", "/api/me/password", here,
                  json={"old_password": "password-t7", "new_password": "a-new-password"})
    assert r.status_code == 204
    assert await ended_within(c_there, started) == 4006
    assert (await c_here.ok("ping"))["t"] > 0
    assert (await api(world["b"], "GET", "/api/me", here)).status_code == 200
    assert (await api(world["b"], "GET", "/api/me", there)).status_code == 401
    async with httpx.AsyncClient(base_url=world["b"].url) as http:
        old = await http.post("/api/auth/login", json={"username": "life_t7", "password": "password-t7"})
        assert old.status_code == 401
    await sign_in(world["b"], "t7", password="a-new-password")
    await c_here.close()


# -- the sessions list ----------------------------------------------------------------------------


async def test_my_sessions_are_listed_and_i_can_end_one_or_all_the_others(world):
    tokens = [await sign_in(world["a" if i % 2 else "b"], "t2", f"device {i}") for i in range(3)]
    me = tokens[0]
    mine = (await api(world["a"], "GET", "/api/me/sessions", me)).json()["sessions"]
    devices = {s["user_agent"]: s for s in mine}
    assert {"device 0", "device 1", "device 2"} <= set(devices)
    assert [s["user_agent"] for s in mine if s["current"]] == ["device 0"]
    assert all(s["client_address"] == "127.0.0.1" and s["last_seen_at"] for s in mine)
    # end one: its token stops working at once on both nodes
    one = devices["device 1"]["id"]
    assert (await api(world["b"], "DELETE", f"/api/me/sessions/{one}", me)).status_code == 204
    assert (await api(world["a"], "GET", "/api/me", tokens[1])).status_code == 401
    assert (await api(world["b"], "DELETE", f"/api/me/sessions/{one}", me)).status_code == 404  # already ended
    # someone else's session is not mine to end
    stranger = await sign_in(world["a"], "t1")
    assert (await api(world["a"], "DELETE", f"/api/me/sessions/{devices['device 2']['id']}", stranger)).status_code == 404
    # end all the others
    c, _ = await ws(world["a"], tokens[2])
    started = time.monotonic()
    r = await api(world["b"], "POST", "/api/me/sessions/end-others", me)
    assert r.status_code == 200 and r.json()["ended"] >= 1
    assert await ended_within(c, started) == 4006
    left = (await api(world["a"], "GET", "/api/me/sessions", me)).json()["sessions"]
    assert [(s["user_agent"], s["current"]) for s in left] == [("device 0", True)]
    assert (await api(world["a"], "GET", "/api/me/sessions", None)).status_code == 401


async def test_a_node_started_after_a_revocation_refuses_the_revoked_token(world):
    token = await sign_in(world["a"], "t1")
    assert (await api(world["a"], "POST", "/api/signout", token)).status_code == 204
    late = harness.Server(world["url"], world["redis"], name="life-late").start()
    try:
        r = await api(late, "GET", "/api/me", token)
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
        c = await harness.WsClient(late.ws_url).open()
        assert (await c.call("connect", token=token))["error"]["code"] == "token_revoked"
        # "last seen" is written coarsely (once a minute, and when a node stops)
        used = await sign_in(world["a"], "t1", "used on the late node")
        await asyncio.sleep(1.1)
        assert (await api(late, "GET", "/api/me", used)).status_code == 200
    finally:
        late.cleanup()
    listed = (await api(world["a"], "GET", "/api/me/sessions", used)).json()["sessions"]
    seen = next(s for s in listed if s["current"])
    assert datetime.fromisoformat(seen["last_seen_at"]) > datetime.fromisoformat(seen["created_at"])


# -- removal takes access away from open sockets ----------------------------------------------------


async def ended_subscriptions(c: harness.WsClient, started: float) -> dict[str, str]:
    """The `unsubscribed` pushes `c` gets until REVOKED_WITHIN seconds after `started`: {channel: reason}."""
    ended: dict[str, str] = {}
    while (left := REVOKED_WITHIN - (time.monotonic() - started)) > 0:
        try:
            push = await c.push(timeout=left)
        except asyncio.TimeoutError:
            break
        if "unsubscribed" in push:
            ended[push["ch"]] = push["unsubscribed"]["reason"]
    return ended


async def test_removal_from_a_studio_closes_its_documents_and_channels_on_every_node(world):
    studio = await seed_studio(world["url"])  # a studio of its own: its member is removed for good
    sid, (member, member_token), leader_token = studio["studio"], studio["users"]["member"], studio["users"]["leader"][1]
    doc_id = await new_doc(world["url"], sid, studio["users"]["leader"][0])
    y = await YClient(f"ws://127.0.0.1:{world['b'].port}/ws/docs/{doc_id}", member_token).open()
    stays = await YClient(f"ws://127.0.0.1:{world['b'].port}/ws/docs/{doc_id}", studio["users"]["co_leader"][1]).open()
    c, _ = await ws(world["b"], member_token)
    for channel in (f"studio:{sid}", f"doc:{doc_id}", "announce:all"):
        await c.ok("subscribe", channel=channel)
    started = time.monotonic()
    r = await api(world["a"], "DELETE", f"/api/studios/{sid}/members/{member}", leader_token)
    assert r.status_code in (200, 204), r.text
    assert await y.closed(timeout=REVOKED_WITHIN - (time.monotonic() - started)) == 4003
    assert y.close_reason == "removed_from_studio"
    assert await ended_subscriptions(c, started) == {f"studio:{sid}": "removed from the studio",
                                                     f"doc:{doc_id}": "removed from the studio"}
    assert (await c.call("subscribe", channel=f"doc:{doc_id}"))["error"]["code"] == "forbidden"
    assert not c.closed.is_set() and (await c.ok("ping"))["t"] > 0  # the rest of the connection goes on
    await stays.insert(0, "still here ")  # the others keep editing
    assert "still here" in stays.content and stays.close_code is None
    await c.close()
    await stays.close()


async def test_a_withdrawn_registration_takes_the_teacher_out_of_the_room_on_every_node(world):
    org = await sign_in(world["a"], "org")
    teacher = world["people"]["t5"]
    async with httpx.AsyncClient(base_url=world["a"].url, headers={"Authorization": f"Bearer {org}"}) as http:
        r = await http.post("/api/activities", json={
            "title": "removal", "starts_at": "2027-06-01T09:00:00+08:00", "ends_at": "2027-06-01T11:00:00+08:00",
            "agenda": [{"kind": "discussion", "minutes": 60}]})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
    t = harness.token_for(teacher, ttl=3600)
    assert (await api(world["b"], "POST", f"/api/activities/{aid}/register", t)).status_code in (200, 201)
    host, _ = await ws(world["a"], org)
    await host.ok("activity.start", activity_id=aid)
    c, _ = await ws(world["b"], t)
    await c.ok("subscribe", channel=f"activity:{aid}")
    started = time.monotonic()
    r = await api(world["a"], "POST", f"/api/activities/{aid}/registrations/{teacher}", org, json={"approve": False})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert await ended_subscriptions(c, started) == {f"activity:{aid}": "registration withdrawn"}
    assert (await c.call("subscribe", channel=f"activity:{aid}"))["error"]["code"] == "forbidden"
    await c.close()
    await host.close()
