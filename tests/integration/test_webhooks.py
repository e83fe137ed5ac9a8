"""Webhooks as the teacher-management system receives them, from two real server processes sharing
PostgreSQL and Redis, at a real HTTP receiver started here (and the Node example receiver of
docs/integration.md): every lifecycle event arrives signed and verifies with the `standardwebhooks`
library in Python and in Node; attendance.finalized carries each teacher's minutes and credit, paged,
exactly once; a receiver that fails or hangs is retried with backoff under the same webhook-id; one that
keeps failing is disabled and the admin sees why; replay; admin-only routes; both secrets sign during a
rotation; and a node SIGKILLed mid-delivery hands the outbox to the other, which delivers it all."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError

import harness
from nodetests import JS

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

PEOPLE = [("admin", "admin"), ("org", "organizer"), ("t1", "teacher"), ("t2", "teacher"), ("t3", "teacher")]
TIMEOUT = 3.0  # --webhook-timeout: a receiver that hangs longer is a failed attempt
NODE_SETTINGS = dict(
    webhook_allow_private="true",  # the receivers listen on loopback
    webhook_poll_interval=0.2, webhook_timeout=TIMEOUT,
    webhook_retry_schedule=",".join(["0.5"] + ["1"] * 30),
    webhook_disable_after=8, webhook_page_size=2, attendance_settle_seconds=2,
    credit_ratio=0.001,  # of the scheduled hour: 3.6 s present while live earns credit
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    answered: int | None = None  # the status the receiver answered with, once it has

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A receiving HTTP server (uvicorn, in the test's loop). Each path answers as `answers[path]` says:
    a list consumed one request at a time of status codes or ("hang", seconds); 204 when empty."""

    def __init__(self) -> None:
        self.port = harness.free_port()
        self.got: list[Received] = []
        self.answers: dict[str, list] = {}
        self.stopping = asyncio.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        received = Received(scope["path"], headers, body)
        self.got.append(received)
        plan = self.answers.get(scope["path"]) or []
        answer = plan.pop(0) if plan else 204
        if isinstance(answer, tuple):
            try:
                await asyncio.wait_for(self.stopping.wait(), answer[1])
            except TimeoutError:
                pass
            answer = 204
        await send({"type": "http.response.start", "status": answer, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"" if answer == 204 else f"answer {answer}".encode()})
        received.answered = answer

    def at(self, path: str) -> list[Received]:
        return [r for r in self.got if r.path == path]

    async def start(self) -> "Receiver":
        self.server = uvicorn.Server(uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", timeout_graceful_shutdown=1))
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.05)
        return self

    async def stop(self) -> None:
        self.stopping.set()
        self.server.should_exit = True
        await asyncio.gather(self.task, return_exceptions=True)


class NodeReceiver:
    """tests/js/webhooks/receiver.mjs, docs/integration.md's Node example, as a process: the JSON lines
    it prints, one per delivery it was sent."""

    def __init__(self) -> None:
        self.secret = ""
        self.port = harness.free_port()
        self.lines: list[dict] = []

    async def start(self) -> "NodeReceiver":
        node = shutil.which("node")
        if node is None:
            pytest.skip("node is not installed (scripts/test installs nodejs)")
        self.proc = await asyncio.create_subprocess_exec(
            node, "webhooks/receiver.mjs", str(self.port), cwd=JS, env={"WEBHOOK_SECRET": self.secret, "PATH": ""},
            stdout=asyncio.subprocess.PIPE)
        first = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 15))
        assert first == {"listening": True}
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while line := await self.proc.stdout.readline():
            self.lines.append(json.loads(line))

    async def stop(self) -> None:
        self.proc.kill()
        await self.proc.wait()
        await asyncio.gather(self.reader, return_exceptions=True)


@pytest.fixture(scope="module")
async def people():
    url, users = await harness.pg_database_with(PEOPLE, "wh_")
    yield url, users
    await harness.drop_pg_database(url)


@pytest.fixture(scope="module")
async def nodes(people, redis_url):
    url, _ = people
    a = harness.Server(url, redis_url, name="wh-a", **NODE_SETTINGS).start()
    b = harness.Server(url, redis_url, name="wh-b", **NODE_SETTINGS).start()
    yield [a, b]
    a.cleanup()
    b.cleanup()


@pytest.fixture(scope="module")
async def receiver():
    r = await Receiver().start()
    yield r
    await r.stop()


def auth(users, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users[who][1]}"}


def schedule(title: str = "函数的概念 课例研讨", **extra) -> dict:
    start = datetime.now(timezone.utc) + timedelta(minutes=5)
    return {"title": title, "visibility": "registered", "registration": "open", "level": "province",
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "agenda": [{"kind": "lesson_display", "title": "课例展示", "minutes": 20},
                       {"kind": "discussion", "title": "研讨", "minutes": 20},
                       {"kind": "expert_guidance", "title": "专家点评", "minutes": 20}], **extra}


async def call(node, users, who, method: str, path: str, **kw) -> httpx.Response:
    async with httpx.AsyncClient(base_url=node.url, timeout=15) as http:
        return await http.request(method, path, headers=auth(users, who) if who else {}, **kw)


async def endpoint(node, users, url: str, types: list[str]) -> tuple[int, str]:
    r = await call(node, users, "admin", "POST", "/api/webhooks", json={"url": url, "event_types": types})
    assert r.status_code == 201, r.text
    return r.json()["endpoint"]["id"], r.json()["secret"]


async def new_activity(node, users, title: str = "函数的概念 课例研讨") -> int:
    r = await call(node, users, "org", "POST", "/api/activities", json=schedule(title))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def until(check, timeout: float = 45.0, what: str = "the deliveries"):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come within {timeout} s")
        await asyncio.sleep(0.1)


def verified(received: Received, secret: str) -> dict:
    return Webhook(secret).verify(received.body, received.headers)


async def join(node, users, who: str, aid: int) -> harness.WsClient:
    ws = await harness.WsClient(node.ws_url).open(users[who][1])
    snap = await ws.ok("activity.snapshot", activity_id=aid)
    await ws.ok("subscribe", channel=snap["channel"], since=snap["since"])
    return ws


# -- the whole life of an activity -------------------------------------------------------------------


async def test_an_activity_is_told_from_schedule_to_attendance_signed_and_verified_in_python_and_node(
        nodes, people, receiver):
    _, users = people
    a, b = nodes
    _, secret = await endpoint(a, users, receiver.url("/hooks/main"), ["*"])
    js = NodeReceiver()
    js_endpoint, js.secret = await endpoint(b, users, f"http://127.0.0.1:{js.port}/collab", ["*"])
    await js.start()
    try:
        aid = await new_activity(b, users)
        r = await call(a, users, "org", "PATCH", f"/api/activities/{aid}", json={"title": "函数的概念（修订）"})
        assert r.status_code == 200, r.text
        for who in ("t1", "t2", "t3"):
            r = await call(b, users, who, "POST", f"/api/activities/{aid}/register")
            assert r.json()["status"] == "approved"

        host_a = await harness.WsClient(a.ws_url).open(users["org"][1])
        host_b = await harness.WsClient(b.ws_url).open(users["org"][1])
        await host_a.ok("activity.open_lobby", activity_id=aid)
        await host_a.ok("activity.start", activity_id=aid)
        snap = await host_a.ok("activity.snapshot", activity_id=aid)
        await host_a.ok("subscribe", channel=snap["channel"], since=snap["since"])  # the organizer sits in
        t1, t2, t3 = await join(a, users, "t1", aid), await join(b, users, "t2", aid), await join(b, users, "t3", aid)
        # Two hosts press "next" at once on two nodes: an event is told for each change that was stored,
        # none for the one refused as a conflict (its transaction rolled back).
        moves = await asyncio.gather(host_a.call("activity.next_phase", activity_id=aid),
                                     host_b.call("activity.next_phase", activity_id=aid))
        stored = [m for m in moves if "ok" in m]
        assert stored and all("ok" in m or m["error"]["code"] == "conflict" for m in moves), moves
        await asyncio.sleep(0.5)
        await t2.close()  # well before the 3.6 s that earn credit
        await asyncio.sleep(5)
        await t1.close()
        await t3.close()
        await asyncio.sleep(2)  # their leaving is stored (each node flushes within a second)
        await host_b.ok("activity.end", activity_id=aid)
        for ws in (host_a, host_b):
            await ws.close()

        def finalized():
            pages = {r.id: r for r in receiver.at("/hooks/main") if r.event["type"] == "attendance.finalized"
                     and r.event["data"]["activity"]["id"] == aid}
            return list(pages.values()) if len(pages) >= 2 else None

        pages = await until(finalized, what="attendance.finalized")
        mine = [r for r in receiver.at("/hooks/main") if r.event["data"].get("activity_id", r.event["data"].get(
            "id", (r.event["data"].get("activity") or {}).get("id"))) == aid]
        for r in mine:  # every delivery verifies with the endpoint's secret, and carries the spec's shape
            assert verified(r, secret) == r.event
            assert set(r.event) == {"type", "timestamp", "data"}
            assert r.headers["content-type"] == "application/json"
        with pytest.raises(WebhookVerificationError):
            verified(mine[0], "whsec_" + "B" * 32)  # and not with another
        types = [r.event["type"] for r in {r.id: r for r in mine}.values()]
        assert types.count("activity.scheduled") == types.count("activity.changed") == 1
        assert types.count("activity.started") == types.count("activity.ended") == 1
        assert types.count("activity.phase_changed") == len(stored)
        assert types.count("registration.decided") == 3

        scheduled = next(r.event["data"] for r in mine if r.event["type"] == "activity.scheduled")
        assert scheduled["title"] == "函数的概念 课例研讨" and scheduled["state"] == "scheduled"
        assert [p["title"] for p in scheduled["agenda"]] == ["课例展示", "研讨", "专家点评"]
        changed = next(r.event["data"] for r in mine if r.event["type"] == "activity.changed")
        assert changed["title"] == "函数的概念（修订）"
        decisions = [r.event["data"] for r in mine if r.event["type"] == "registration.decided"]
        assert {(d["user_id"], d["status"], d["decided_by"]) for d in decisions} == {
            (users[w][0], "approved", "open_registration") for w in ("t1", "t2", "t3")}
        started = next(r.event["data"] for r in mine if r.event["type"] == "activity.started")
        assert started["phase"] == {"index": 0, "kind": "lesson_display", "title": "课例展示", "minutes": 20}
        moved = next(r.event["data"] for r in mine if r.event["type"] == "activity.phase_changed")
        assert moved["from_phase"] == 0 and moved["phase"]["index"] == 1
        ended = next(r.event["data"] for r in mine if r.event["type"] == "activity.ended")
        assert ended["state"] == "ended" and ended["ended_at"]

        # attendance.finalized: the teachers in pages of two, with the minutes and credit the report has
        pages.sort(key=lambda r: r.event["data"]["page"])
        assert [(p.event["data"]["page"], p.event["data"]["pages"]) for p in pages] == [(1, 2), (2, 2)]
        told = {t["user_id"]: t for p in pages for t in p.event["data"]["attendees"]}
        report = (await call(a, users, "org", "GET", f"/api/activities/{aid}/attendance")).json()
        assert {u: (t["minutes"], t["seconds"], t["credited"]) for u, t in told.items()} == {
            t["user_id"]: (t["minutes"], t["seconds"], t["credited"]) for t in report["attendees"]}
        assert told[users["t1"][0]]["credited"] is True and told[users["t3"][0]]["credited"] is True
        assert told[users["t2"][0]]["credited"] is False
        first = pages[0].event["data"]
        assert first["teachers"] == 3 and first["credited"] == 2 and first["needed_minutes"] == 0.1
        assert first["activity"]["title"] == "函数的概念（修订）"
        assert [s["role"] for s in first["staff"]] == ["organizer"] and pages[1].event["data"]["staff"] == []

        # Exactly once per activity: the finalizer looks every 2 s; nothing more comes.
        await asyncio.sleep(5)
        assert len({r.id for r in receiver.at("/hooks/main") if r.event["type"] == "attendance.finalized"
                    and r.event["data"]["activity"]["id"] == aid}) == 2

        # The Node receiver (docs/integration.md) verified every one of the same events, by the same ids.
        ids = {r.id for r in mine}
        await until(lambda: ids <= {line.get("id") for line in js.lines}, what="the Node receiver's deliveries")
        assert not [line for line in js.lines if "error" in line]
    finally:
        await call(a, users, "admin", "PATCH", f"/api/webhooks/{js_endpoint}", json={"enabled": False})
        await js.stop()


# -- failures, retries, disabling, replay --------------------------------------------------------------


async def test_a_receiver_that_fails_or_hangs_is_retried_with_backoff_under_the_same_id(nodes, people, receiver):
    _, users = people
    a, b = nodes
    eid, secret = await endpoint(a, users, receiver.url("/hooks/flaky"), ["activity.cancelled"])
    receiver.answers["/hooks/flaky"] = [500, ("hang", TIMEOUT + 2)]  # then 204
    aid = await new_activity(a, users, "将被取消的活动")
    assert (await call(b, users, "org", "POST", f"/api/activities/{aid}/cancel")).status_code == 200
    got = await until(lambda: len(receiver.at("/hooks/flaky")) >= 3 and receiver.at("/hooks/flaky"))
    assert len({r.id for r in got}) == 1  # one webhook-id across every attempt
    for r in got:
        assert verified(r, secret)["data"]["id"] == aid  # each attempt signed anew (its own timestamp)
    assert got[1].at - got[0].at >= 0.4  # the first step of the schedule, 0.5 s less its jitter
    log = (await call(b, users, "admin", "GET", f"/api/webhooks/{eid}/deliveries")).json()["deliveries"]
    assert len(log) == 1 and log[0]["status"] == "succeeded" and log[0]["event"]["id"] == got[0].id
    tries = log[0]["attempts"]
    assert [t["status_code"] for t in tries] == [500, None, 204]
    assert "no answer" in tries[1]["error"] and tries[0]["response"] == "answer 500"
    assert all(t["duration_ms"] >= 0 and t["node"] in ("wh-a", "wh-b") for t in tries)


async def test_an_endpoint_that_keeps_failing_is_disabled_and_the_admin_sees_why(nodes, people, receiver):
    _, users = people
    a, b = nodes
    eid, secret = await endpoint(a, users, receiver.url("/hooks/down"), ["activity.cancelled"])
    receiver.answers["/hooks/down"] = [503] * 1000
    aid = await new_activity(a, users, "接收端一直失败")
    await call(a, users, "org", "POST", f"/api/activities/{aid}/cancel")

    async def disabled():
        return (await call(b, users, "admin", "GET", f"/api/webhooks/{eid}")).json()

    deadline = time.monotonic() + 60
    while (shown := await disabled())["enabled"]:
        assert time.monotonic() < deadline, "the failing endpoint was not disabled"
        await asyncio.sleep(0.5)
    assert shown["disabled_reason"].startswith("every delivery failed since") and shown["disabled_at"]
    listed = (await call(a, users, "admin", "GET", "/api/webhooks")).json()["endpoints"]
    assert next(e for e in listed if e["id"] == eid)["enabled"] is False  # the admins' list says so too
    assert any(f"webhook endpoint {eid} disabled" in n.log() for n in nodes)  # and the operator's log
    tried = len(receiver.at("/hooks/down"))
    await asyncio.sleep(2)
    assert len(receiver.at("/hooks/down")) == tried  # nothing more is sent to it

    # The receiver is mended; the admin enables the endpoint again: its pending delivery goes.
    receiver.answers["/hooks/down"] = []
    r = await call(a, users, "admin", "PATCH", f"/api/webhooks/{eid}", json={"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] and r.json()["disabled_reason"] is None
    await until(lambda: len(receiver.at("/hooks/down")) > tried)

    async def succeeded():
        return (await call(b, users, "admin", "GET", f"/api/webhooks/{eid}/deliveries")).json()["deliveries"]
    deadline = time.monotonic() + 20
    while (log := await succeeded())[0]["status"] != "succeeded":
        assert time.monotonic() < deadline, log
        await asyncio.sleep(0.3)
    assert verified(receiver.at("/hooks/down")[-1], secret)["data"]["id"] == aid


async def test_replay_delivers_an_event_again_under_its_id(nodes, people, receiver):
    _, users = people
    a, b = nodes
    eid, secret = await endpoint(a, users, receiver.url("/hooks/replay"), ["activity.scheduled"])
    aid = await new_activity(b, users, "重放的活动")
    first = (await until(lambda: receiver.at("/hooks/replay")))[0]
    r = await call(b, users, "admin", "POST", f"/api/webhooks/{eid}/replay", json={"event": first.id})
    assert r.status_code == 202, r.text
    again = (await until(lambda: len(receiver.at("/hooks/replay")) >= 2 and receiver.at("/hooks/replay")))[1]
    assert again.id == first.id and again.body == first.body  # the same event, as it was first sent
    assert verified(again, secret)["data"]["id"] == aid
    r = await call(a, users, "admin", "POST", f"/api/webhooks/{eid}/replay", json={"event": "msg_nope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# -- configuration ----------------------------------------------------------------------------------------


async def test_webhook_routes_are_for_admins_only(nodes, people):
    _, users = people
    a, _ = nodes
    eid, _ = await endpoint(a, users, "https://hooks.example.org/collab", ["attendance.finalized"])
    routes = [("GET", "/api/webhooks", None), ("POST", "/api/webhooks", {"url": "https://x.example.org/", "event_types": ["*"]}),
              ("GET", f"/api/webhooks/{eid}", None), ("PATCH", f"/api/webhooks/{eid}", {"enabled": False}),
              ("POST", f"/api/webhooks/{eid}/rotate-secret", {}), ("GET", f"/api/webhooks/{eid}/deliveries", None),
              ("POST", f"/api/webhooks/{eid}/replay", {"event": "msg_x"})]
    for method, path, body in routes:
        for who, status in ((None, 401), ("t1", 403), ("org", 403)):
            r = await call(a, users, who, method, path, json=body)
            assert r.status_code == status, (method, path, who, r.text)
    shown = (await call(a, users, "admin", "GET", f"/api/webhooks/{eid}")).json()
    assert shown["enabled"] and "secret" not in shown  # the secret is shown when made, never again
    for bad, code in (({"url": "ftp://x.example.org/", "event_types": ["*"]}, "webhook_url_refused"),
                      ({"url": "https://x.example.org/", "event_types": ["activity.exploded"]}, "unknown_event_type"),
                      ({"url": "https://x.example.org/", "event_types": []}, "invalid"),
                      ({"url": "https://x.example.org/", "event_types": ["*"], "secret": 12}, "invalid"),
                      ({"url": ["https://x.example.org/"], "event_types": ["*"]}, "webhook_url_refused")):
        r = await call(a, users, "admin", "POST", "/api/webhooks", json=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    for method, path, status in (("GET", f"/api/webhooks/{2**40}", 404), ("GET", "/api/webhooks/x", 404),
                                 ("GET", f"/api/webhooks/{eid}/deliveries?before={2**40}", 400),
                                 ("GET", f"/api/webhooks/{eid}/deliveries?status=lost", 400)):
        r = await call(a, users, "admin", method, path)
        assert r.status_code == status, (path, r.text)  # refused as such, never a fault of ours


async def test_during_a_rotation_the_old_and_the_new_secret_both_sign(nodes, people, receiver):
    _, users = people
    a, b = nodes
    eid, old = await endpoint(a, users, receiver.url("/hooks/rotate"), ["activity.scheduled"])
    await new_activity(a, users, "换密钥之前")
    before = (await until(lambda: receiver.at("/hooks/rotate")))[0]
    assert len(before.headers["webhook-signature"].split(" ")) == 1
    r = await call(b, users, "admin", "POST", f"/api/webhooks/{eid}/rotate-secret")
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != old and r.json()["previous_secret_until"]
    await new_activity(b, users, "换密钥之中")
    during = (await until(lambda: len(receiver.at("/hooks/rotate")) >= 2 and receiver.at("/hooks/rotate")))[1]
    assert [s[:3] for s in during.headers["webhook-signature"].split(" ")] == ["v1,", "v1,"]
    assert verified(during, old) == verified(during, new)  # a receiver with either secret accepts it
    with pytest.raises(WebhookVerificationError):
        verified(before, new)  # what was sent before the rotation carried the old signature only


# -- a node dies mid-delivery ---------------------------------------------------------------------------


async def test_a_node_killed_mid_delivery_hands_the_outbox_to_the_other(nodes, people, receiver, redis_url):
    _, users = people
    eid, secret = await endpoint(nodes[0], users, receiver.url("/hooks/kill"), ["activity.scheduled"])
    receiver.answers["/hooks/kill"] = [("hang", 60)]  # the first delivery never gets an answer
    ids = [await new_activity(nodes[1], users, f"节点故障 {i}") for i in range(4)]
    await until(lambda: receiver.at("/hooks/kill"))
    redis = aioredis.from_url(redis_url)
    holder = (await redis.get("collab:lease:webhooks:outbox")).decode()
    await redis.aclose()
    dying = next(n for n in nodes if n.name == holder)
    survivor = next(n for n in nodes if n is not dying)
    dying.kill()  # SIGKILL while its request hangs
    try:
        def all_there():
            told = {}
            for r in receiver.at("/hooks/kill"):
                told.setdefault(verified(r, secret)["data"]["id"], []).append(r)
            done = {aid for aid, got in told.items() if any(r.answered == 204 for r in got)}
            return told if set(ids) <= done else None

        told = await until(all_there, timeout=60, what="every event after the kill")
        assert all(len({r.id for r in got}) == 1 for got in told.values())  # a duplicate carries the same id
        hung = receiver.at("/hooks/kill")[0]
        assert sum(r.id == hung.id for r in receiver.at("/hooks/kill")) >= 2  # the hung one came again
        # What the dead node sent but had not yet logged, the survivor sends again once its claim runs
        # out: the log ends with every delivery succeeded, by the survivor where the dead node logged none.
        deadline = time.monotonic() + 60
        while True:
            log = (await call(survivor, users, "admin", "GET", f"/api/webhooks/{eid}/deliveries")).json()["deliveries"]
            if {d["status"] for d in log} == {"succeeded"}:
                break
            assert time.monotonic() < deadline, log
            await asyncio.sleep(0.5)
        assert len(log) == 4
        again = next(d for d in log if d["event"]["id"] == hung.id)
        assert [t["node"] for t in again["attempts"]] == [survivor.name]  # the dead node logged nothing
        by_activity = {}
        for r in receiver.at("/hooks/kill"):
            by_activity.setdefault(verified(r, secret)["data"]["id"], set()).add(r.id)
        assert set(by_activity) == set(ids) and all(len(v) == 1 for v in by_activity.values())
    finally:
        dying.start()  # for whatever runs after
