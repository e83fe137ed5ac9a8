"""Every command and every API route, as every kind of caller, against a real node: the answer each
gets is the one docs/permissions.md documents. The policy module's rules have their own unit matrix
(tests/unit/test_policy.py); this one shows that every door of the server asks them, and that the
documentation says who may pass.

A cell is `✓` (the policy let the caller through: the answer is a success, or a refusal for another
reason, such as an argument or the activity's state), `401` (sign in first: `unauthenticated` over
HTTP, `not_connected` over `/ws` with no token), `403` (`forbidden`), or `404` (`not_found`: the
caller may not know it exists). Rows that change or end what they act on (ending an activity, deleting
a document) act on a record made afresh after each caller who passed, so one caller's success does not
change what the next one meets (a refused caller changed nothing). Every command the node serves and
every operation /api/openapi.json describes must have a row: a new door without a documented answer
fails here.

`COLLAB_MATRIX_PRINT=1` prints the observed table in the document's form."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

import harness
from collab.auth.accounts import create_user
from collab.store.db import make_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "permissions.md"
WHO = ("anonymous", "outsider", "registered", "member", "lead", "expert", "organizer", "admin", "service")
PEOPLE = [("outsider", "teacher"), ("registered", "teacher"), ("member", "teacher"), ("lead", "teacher"),
          ("expert", "expert"), ("organizer", "organizer"), ("admin", "admin"), ("presenter", "teacher")]
POSTERS = 10
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
REFUSALS = {"unauthenticated": "401", "not_connected": "401", "forbidden": "403", "not_found": "404",
            "not_in_group": "403",
            "key_not_allowed": "403", "key_scope": "403"}
SCOPES = ["attendance:read", "activities:read", "registrations:read"]  # the service key holds every scope


@dataclass
class World:
    server: harness.Server
    people: dict[str, tuple[int, str]]
    ids: dict[str, int] = field(default_factory=dict)
    http: httpx.AsyncClient | None = None
    sockets: dict[str, harness.WsClient] = field(default_factory=dict)
    posters: list = field(default_factory=list)  # [(socket, when it last posted)]

    def auth(self, who: str) -> dict[str, str]:
        return {} if who == "anonymous" else {"Authorization": f"Bearer {self.people[who][1]}"}

    async def endpoint(self) -> int:
        r = await self.api("admin", "POST", "/api/webhooks", json={"url": "https://receiver.example/hook",
                                                                 "event_types": ["activity.ended"]})
        assert r.status_code == 201, r.text
        return r.json()["endpoint"]["id"]

    async def key(self) -> int:
        r = await self.api("admin", "POST", "/api/keys", json={"name": "省平台", "scopes": SCOPES})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def api(self, who: str, method: str, path: str, **kw) -> httpx.Response:
        return await self.http.request(method, path, headers=self.auth(who), **kw)

    async def activity(self, live: bool = True, **extra) -> int:
        """A registration-only activity of the organizer's, with the expert on its staff and the
        registered teacher approved; live unless told otherwise."""
        r = await self.api("organizer", "POST", "/api/activities", json={
            "title": "权限矩阵", "starts_at": "2027-06-01T09:00:00+08:00", "ends_at": "2027-06-01T11:00:00+08:00",
            "visibility": "registered", "agenda": [{"kind": "online_interaction", "minutes": 30},
                                                   {"kind": "expert_guidance", "minutes": 30}],
            "experts": [self.people["expert"][0]], "presenters": [self.people["presenter"][0]], **extra})
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        await self.api("registered", "POST", f"/api/activities/{aid}/register")
        r = await self.api("organizer", "POST", f"/api/activities/{aid}/registrations/{self.people['registered'][0]}",
                           json={"approve": True})
        assert r.status_code == 200, r.text
        if live:
            await self.sockets["organizer"].ok("activity.start", activity_id=aid)
        return aid

    async def poster(self) -> harness.WsClient:
        """A registered teacher who has not posted for a second (one post a second each)."""
        while True:
            sock, last = self.posters[0]
            self.posters.append(self.posters.pop(0))
            if time.monotonic() - last > 1.05:
                self.posters[-1] = (sock, time.monotonic())
                return sock
            await asyncio.sleep(0.1)

    async def message(self, aid: int) -> int:
        r = await (await self.poster()).ok("chat.post", activity_id=aid, body="一条消息")
        return r["message"]["id"]

    async def question(self, aid: int) -> int:
        r = await (await self.poster()).ok("qa.ask", activity_id=aid, body="一个问题？")
        return r["question"]["id"]

    async def poll(self, aid: int) -> int:
        r = await self.sockets["organizer"].ok("poll.create", activity_id=aid, question="选哪个？", options=["甲", "乙"])
        return r["poll"]["id"]

    async def member_back(self) -> None:
        """The member left (a row's caller did): they apply again and the lead takes them back."""
        sid, uid = self.ids["studio"], self.people["member"][0]
        await self.api("member", "POST", f"/api/studios/{sid}/apply", json={"note": ""})
        r = await self.api("lead", "POST", f"/api/studios/{sid}/members/{uid}", json={"approve": True})
        assert r.status_code == 200, r.text

    async def sign_in(self, who: str) -> str:
        r = await self.http.post("/api/auth/login", json={"username": "pm_" + who, "password": "password-" + who})
        assert r.status_code == 200, r.text
        return r.json()["token"]

    async def newcomer(self) -> tuple[int, str]:
        """A new teacher account (made by the admin) and its token."""
        name = next(NAMES)
        r = await self.api("admin", "POST", "/api/users", json={"username": name, "password": "password-" + name,
                                                               "display_name": name, "role": "teacher"})
        assert r.status_code == 201, r.text
        r = await self.http.post("/api/auth/login", json={"username": name, "password": "password-" + name})
        return r.json()["user"]["id"], r.json()["token"]

    async def applicant(self) -> int:
        uid, token = await self.newcomer()
        r = await self.http.post(f"/api/studios/{self.ids['studio']}/apply", json={"note": ""},
                                 headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (200, 201), r.text
        return uid

    async def studio_member(self) -> int:
        uid = await self.applicant()
        r = await self.api("lead", "POST", f"/api/studios/{self.ids['studio']}/members/{uid}", json={"approve": True})
        assert r.status_code == 200, r.text
        return uid

    async def resource(self) -> int:
        r = await self.http.post(f"/api/studios/{self.ids['studio']}/resources", headers=self.auth("lead"),
                                 files={"file": ("板书.png", PNG, "image/png")}, data={"title": "板书"})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def comment(self) -> int:
        r = await self.api("lead", "POST", f"/api/docs/{self.ids['doc']}/comments", json={"body": "看这里", "start": 0, "end": 1})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def group_activity(self) -> tuple[int, int]:
        """A live activity in a group-discussion phase, the registered teacher in the room when it
        started and so in a group: (the activity, the teacher's group)."""
        aid = await self.activity(live=False, agenda=[{"kind": "group_discussion", "minutes": 30, "groups": {"size": 8}},
                                                      {"kind": "discussion", "minutes": 30}])
        teacher = self.sockets["registered"]
        snap = await teacher.ok("activity.snapshot", activity_id=aid)
        await teacher.ok("subscribe", channel=snap["channel"])
        await asyncio.sleep(1.5)  # attendance is written within a second: groups are formed from it
        await self.sockets["organizer"].ok("activity.start", activity_id=aid)
        return aid, (await teacher.ok("group.mine", activity_id=aid))["group"]["id"]

    async def gmessage(self, aid: int) -> int:
        r = await self.sockets["organizer"].ok("group.post", activity_id=aid, group_id=self.ids["group"], body="组内消息")
        return r["message"]["id"]

    async def doc(self) -> int:
        r = await self.api("lead", "POST", f"/api/studios/{self.ids['studio']}/docs", json={"title": "教案"})
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]


@pytest.fixture(scope="module")
async def world(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("who may pass does not depend on the database; one kind is enough")
    engine = make_engine(database_url)
    people = {}
    async with make_sessionmaker(engine)() as db:
        for name, role in PEOPLE + [(f"poster{i}", "teacher") for i in range(POSTERS)]:
            u = await create_user(db, username="pm_" + name, password="password-" + name, display_name=name, role=role)
            people[name] = (u.id, harness.token_for(u.id, role, name))
        await db.commit()
    await engine.dispose()
    server = harness.Server(database_url, name="policy-matrix", command_rate=10000, command_burst=10000).start()
    w = World(server, people)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        w.http = http
        for who in WHO[1:-1]:
            w.sockets[who] = await harness.WsClient(server.ws_url).open(people[who][1])
        r = await w.api("admin", "POST", "/api/keys", json={"name": "教师管理系统", "scopes": SCOPES})
        assert r.status_code == 201, r.text
        people["service"] = (0, r.json()["secret"])
        w.ids["endpoint"] = await w.endpoint()
        # the studio: lead leads it, member is a member
        r = await w.api("lead", "POST", "/api/studios", json={"name": "矩阵工作室", "subject": "数学", "grade": "八年级",
                                                             "region": "浙江", "description": ""})
        assert r.status_code == 201, r.text
        w.ids["studio"] = sid = r.json()["id"]
        await w.api("member", "POST", f"/api/studios/{sid}/apply", json={"note": ""})
        r = await w.api("lead", "POST", f"/api/studios/{sid}/members/{people['member'][0]}", json={"approve": True})
        assert r.status_code == 200, r.text
        w.ids["doc"] = await w.doc()
        w.ids["resource"] = await w.resource()
        w.ids["comment"] = await w.comment()
        r = await w.api("lead", "POST", f"/api/docs/{w.ids['doc']}/versions", json={"name": "初稿"})
        assert r.status_code == 201, r.text
        w.ids["version"] = r.json()["id"]
        w.ids["activity"] = aid = await w.activity()
        for i in range(POSTERS):  # teachers of the activity who post what moderation rows act on
            who = f"poster{i}"
            await w.api(who, "POST", f"/api/activities/{aid}/register")
            await w.api("organizer", "POST", f"/api/activities/{aid}/registrations/{people[who][0]}", json={"approve": True})
            w.posters.append((await harness.WsClient(server.ws_url).open(people[who][1]), 0.0))
        w.ids["scheduled"] = await w.activity(live=False)
        w.ids["gactivity"], w.ids["group"] = await w.group_activity()
        yield w
        for s in [*w.sockets.values(), *(p for p, _ in w.posters)]:
            await s.close()
    server.cleanup()


# -- the rows ----------------------------------------------------------------------------------------

Make = Callable[[World], Any]  # (world) -> awaitable of the ids a row needs


@dataclass(frozen=True)
class Command:
    name: str
    args: Callable[[dict], dict]
    fresh: str | None = None  # "activity": a live activity made for each caller; "message", ...: a record in it


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {activity}, {doc}, {studio}, ... from the world's ids
    body: dict | None = None
    fresh: str | None = None
    then: str | None = None  # a World method that puts back what the row's success changed
    session: bool = False  # asked with a token of a new sign-in of the caller ({session}: another one of theirs)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def A(**extra) -> Callable[[dict], dict]:
    return lambda ids: {"activity_id": ids["activity"], **extra}


def G(group: bool = False, **extra) -> Callable[[dict], dict]:
    """The group activity, and with `group` the registered teacher's group in it."""
    return lambda ids: {"activity_id": ids["gactivity"], **({"group_id": ids["group"]} if group else {}), **extra}


COMMANDS = [
    Command("connect", lambda ids: {"token": "x"}),
    Command("ping", lambda ids: {}),
    Command("refresh", lambda ids: {"token": ids["token"]}),  # the caller's own token, again
    Command("subscribe", lambda ids: {"channel": f"activity:{ids['activity']}"}),
    Command("unsubscribe", lambda ids: {"channel": f"activity:{ids['activity']}"}),
    Command("presence", lambda ids: {"channel": f"activity:{ids['activity']}"}),
    Command("announce.post", lambda ids: {"channel": "announce:all", "body": "通知"}),
    Command("studio.post", lambda ids: {"studio_id": ids["studio"], "body": "大家好"}),
    Command("activity.snapshot", A()),
    Command("activity.open_lobby", lambda ids: {"activity_id": ids["scheduled"]}),
    Command("activity.start", A()),
    Command("activity.next_phase", A(), fresh="activity"),
    Command("activity.goto_phase", A(index=1), fresh="activity"),
    Command("activity.extend_phase", A(minutes=1)),
    Command("activity.end", A(), fresh="activity"),
    Command("activity.archive", A(), fresh="activity"),
    Command("activity.remove", lambda ids: {"activity_id": ids["activity"], "user_id": ids["presenter"]}),
    Command("activity.readmit", lambda ids: {"activity_id": ids["activity"], "user_id": ids["presenter"]}),
    Command("chat.post", A(body="你好")),
    Command("chat.held", A()),
    Command("chat.hide", lambda ids: {"activity_id": ids["activity"], "message_id": ids["message"]}, fresh="message"),
    Command("chat.delete", lambda ids: {"activity_id": ids["activity"], "message_id": ids["message"]}, fresh="message"),
    Command("chat.approve", lambda ids: {"activity_id": ids["activity"], "message_id": ids["message"]}, fresh="message"),
    Command("chat.pin", lambda ids: {"activity_id": ids["activity"], "message_id": ids["message"]}, fresh="message"),
    Command("chat.unpin", lambda ids: {"activity_id": ids["activity"], "message_id": ids["message"]}, fresh="message"),
    Command("chat.slow_mode", A(seconds=0)),
    Command("chat.premoderation", A(on=False)),
    Command("chat.mute", lambda ids: {"activity_id": ids["activity"], "user_id": ids["presenter"], "minutes": 1}),
    Command("chat.unmute", lambda ids: {"activity_id": ids["activity"], "user_id": ids["presenter"]}),
    Command("hand.raise", A()),
    Command("hand.lower", A()),
    Command("hand.call", lambda ids: {"activity_id": ids["activity"], "user_id": ids["presenter"]}),
    Command("hand.queue", A()),
    Command("qa.ask", A(body="为什么？")),
    Command("qa.vote", lambda ids: {"activity_id": ids["activity"], "question_id": ids["question"]}, fresh="question"),
    Command("qa.list", A()),
    Command("qa.answer", lambda ids: {"activity_id": ids["activity"], "question_id": ids["question"], "text": "因为"},
            fresh="question"),
    Command("qa.spotlight", lambda ids: {"activity_id": ids["activity"], "question_id": ids["question"]}, fresh="question"),
    Command("qa.spotlight_off", lambda ids: {"activity_id": ids["activity"], "question_id": ids["question"]}, fresh="question"),
    Command("qa.dismiss", lambda ids: {"activity_id": ids["activity"], "question_id": ids["question"]}, fresh="question"),
    Command("qa.approve", lambda ids: {"activity_id": ids["activity"], "question_id": ids["question"]}, fresh="question"),
    Command("qa.approval", A(on=False)),
    Command("poll.create", A(question="选哪个？", options=["甲", "乙"])),
    Command("poll.answer", lambda ids: {"activity_id": ids["activity"], "poll_id": ids["poll"], "choices": [0]}, fresh="poll"),
    Command("poll.results", lambda ids: {"activity_id": ids["activity"], "poll_id": ids["poll"]}, fresh="poll"),
    Command("poll.close", lambda ids: {"activity_id": ids["activity"], "poll_id": ids["poll"]}, fresh="poll"),
    Command("poll.show_results", lambda ids: {"activity_id": ids["activity"], "poll_id": ids["poll"]}, fresh="poll"),
    Command("react", A(kind="clap")),
    Command("program.watch", A()),
    Command("stage.state", A()),
    Command("stage.publish", A(offer={"type": "offer", "sdp": "v=0"})),
    Command("stage.watch", lambda ids: {"activity_id": ids["activity"], "publisher_id": ids["presenter"],
                                        "offer": {"type": "offer", "sdp": "v=0"}}),
    Command("stage.unwatch", lambda ids: {"activity_id": ids["activity"], "view_id": "none"}),
    Command("stage.leave", A()),
    Command("stage.accept", A()),
    Command("stage.remove", lambda ids: {"activity_id": ids["activity"], "user_id": ids["presenter"]}),
    Command("stage.video", A(action="stop")),
    Command("group.mine", G()),
    Command("group.choose", G(group=True)),
    Command("group.list", G()),
    Command("group.members", G(group=True)),
    Command("group.post", G(group=True, body="组内发言")),
    Command("group.history", G(group=True)),
    Command("group.hide", lambda ids: {"activity_id": ids["gactivity"], "message_id": ids["gmessage"]}, fresh="gmessage"),
    Command("group.move", lambda ids: {"activity_id": ids["gactivity"], "group_id": ids["group"],
                                       "user_id": ids["registered"]}),
    Command("group.broadcast", G(body="请各组准备汇报")),
    Command("group.rapporteur", lambda ids: {"activity_id": ids["gactivity"], "group_id": ids["group"],
                                             "user_id": ids["registered"]}),
    Command("group.notes", G(group=True)),
    Command("group.report", G(group=True)),
    Command("group.stage.publish", G(group=True, offer={"type": "offer", "sdp": "v=0"})),
    Command("group.stage.watch", G(group=True, publisher_id=1, offer={"type": "offer", "sdp": "v=0"})),
    Command("group.stage.unwatch", G(group=True, watch_id="none")),
    Command("group.stage.leave", G(group=True)),
    Command("group.stage.state", G(group=True)),
]

ROUTES = [
    Route("POST", "/api/auth/login", {"username": "pm_outsider", "password": "password-outsider"}),
    Route("GET", "/api/me"),
    Route("GET", "/api/users"),
    Route("POST", "/api/users", {"username": "pm_new", "password": "password-new-1", "display_name": "新人"}, fresh="name"),
    Route("GET", "/api/users/{presenter}"),
    Route("POST", "/api/announcements", {"channel": "announce:all", "body": "通知"}),
    Route("GET", "/api/announcements"),
    Route("GET", "/api/channels/activity:{activity}/presence"),
    Route("POST", "/api/studios", {"name": "新工作室"}),
    Route("GET", "/api/studios"),
    Route("GET", "/api/studios/{studio}"),
    Route("PATCH", "/api/studios/{studio}", {"description": "改过"}),
    Route("POST", "/api/studios/{studio}/apply", {"note": ""}),
    Route("GET", "/api/studios/{studio}/members"),
    Route("POST", "/api/studios/{studio}/members/{presenter}", {"approve": True}, fresh="applicant"),
    Route("DELETE", "/api/studios/{studio}/members/{presenter}", fresh="studio_member"),
    Route("POST", "/api/studios/{studio}/leave", then="member_back"),
    Route("POST", "/api/studios/{studio}/invitations", {"role": "member"}),
    Route("POST", "/api/studios/{studio}/join", {}),
    Route("GET", "/api/studios/{studio}/posts"),
    Route("POST", "/api/studios/{studio}/resources"),
    Route("GET", "/api/studios/{studio}/resources"),
    Route("GET", "/api/resources/{resource}/download"),
    Route("DELETE", "/api/resources/{resource}", fresh="resource"),
    Route("POST", "/api/studios/{studio}/docs", {"title": "新教案"}),
    Route("GET", "/api/studios/{studio}/docs"),
    Route("GET", "/api/docs/{doc}"),
    Route("DELETE", "/api/docs/{doc}", fresh="doc"),
    Route("POST", "/api/docs/{doc}/ticket"),
    Route("GET", "/api/docs/{doc}/export.md"),
    Route("POST", "/api/docs/{doc}/versions", {"name": "定稿"}),
    Route("GET", "/api/docs/{doc}/versions"),
    Route("GET", "/api/docs/{doc}/versions/{version}"),
    Route("POST", "/api/docs/{doc}/versions/{version}/restore"),
    Route("GET", "/api/docs/{doc}/comments"),
    Route("POST", "/api/docs/{doc}/comments", {"body": "好", "start": 0, "end": 1}),
    Route("POST", "/api/docs/{doc}/comments/{comment}/resolve"),
    Route("DELETE", "/api/docs/{doc}/comments/{comment}", fresh="comment"),
    Route("POST", "/api/activities", {}),
    Route("GET", "/api/activities"),
    Route("GET", "/api/activities/{activity}"),
    Route("PATCH", "/api/activities/{scheduled}", {}),
    Route("POST", "/api/activities/{activity}/cancel", fresh="scheduled"),
    Route("POST", "/api/activities/{activity}/register"),
    Route("GET", "/api/activities/{activity}/registrations"),
    Route("POST", "/api/activities/{activity}/invitations", {}),
    Route("POST", "/api/activities/{activity}/join", {}),
    Route("POST", "/api/activities/{activity}/registrations/{presenter}", {"approve": True}),
    Route("GET", "/api/activities/{activity}/calendar.ics"),
    Route("GET", "/api/activities/{activity}/timeline"),
    Route("GET", "/api/activities/{activity}/replay"),
    Route("GET", "/api/activities/{activity}/recordings/999999"),
    Route("GET", "/api/activities/{activity}/attendance"),
    Route("GET", "/api/activities/{activity}/attendance.csv"),
    Route("GET", "/api/activities/{activity}/groups"),
    Route("GET", "/api/activities/{activity}/groups.csv"),
    Route("GET", "/api/activities/{activity}/groups/999999/messages"),
    Route("GET", "/api/me/learning"),
    Route("GET", "/api/me/calendar"),
    Route("GET", "/api/users/{presenter}/calendar.ics"),
    Route("POST", "/api/activities/{activity}/lesson-videos"),
    Route("GET", "/api/activities/{activity}/lesson-videos"),
    Route("PUT", "/api/activities/{scheduled}/phases/0/roster"),  # phase 0 is no group phase: 400 once let through
    Route("GET", "/api/activities/{activity}/phases/0/roster"),
    Route("GET", "/live/{activity}/k/forged/check"),
    Route("GET", "/api/users/{registered}/learning"),
    Route("POST", "/api/keys", {"name": "区平台", "scopes": ["attendance:read"]}),
    Route("GET", "/api/keys"),
    Route("POST", "/api/keys/{key}/revoke", fresh="key"),
    Route("GET", "/api/audit"),
    Route("GET", "/api/audit/export?format=csv"),
    Route("GET", "/api/webhooks"),
    Route("POST", "/api/webhooks", {"url": "https://receiver.example/other", "event_types": ["activity.started"]}),
    Route("GET", "/api/webhooks/{endpoint}"),
    Route("PATCH", "/api/webhooks/{endpoint}", {"description": "省平台"}),
    Route("POST", "/api/webhooks/{endpoint}/rotate-secret", {}),
    Route("GET", "/api/webhooks/{endpoint}/deliveries"),
    Route("POST", "/api/webhooks/{endpoint}/replay", {"event": "msg_none"}),
    # sign-in sessions: each caller signs in afresh for these (`session`), and the rows that end other
    # sessions come last (they void the caller's older tokens, the ones the rows above used)
    Route("POST", "/api/token/refresh", session=True),
    Route("GET", "/api/me/sessions", session=True),
    Route("DELETE", "/api/me/sessions/{session}", session=True),
    Route("POST", "/api/signout", session=True),
    Route("POST", "/api/users/{presenter}/sessions/end-all"),
    Route("PATCH", "/api/users/{presenter}", {"role": "teacher"}),
    Route("POST", "/api/me/sessions/end-others", session=True),
    Route("POST", "/api/me/password", {"old_password": "{password}", "new_password": "{password}"}, session=True),
]


def cell(status_or_code: int | str | None) -> str:
    """An answer as a matrix cell."""
    if isinstance(status_or_code, int):
        return {401: "401", 403: "403", 404: "404"}.get(status_or_code, "✓")
    return REFUSALS.get(status_or_code or "", "✓")


async def fresh_ids(w: World, kind: str | None) -> dict:
    ids = {**w.ids, "presenter": w.people["presenter"][0], "registered": w.people["registered"][0],
           "name": next(NAMES)}
    if kind == "activity":
        ids["activity"] = await w.activity()
    elif kind == "scheduled":
        ids["activity"] = await w.activity(live=False)
    elif kind in ("message", "question", "poll"):
        ids[kind] = await getattr(w, kind)(ids["activity"])
    elif kind == "gmessage":
        ids[kind] = await w.gmessage(ids["gactivity"])
    elif kind == "doc":
        ids["doc"] = await w.doc()
    elif kind in ("resource", "comment", "endpoint", "key"):
        ids[kind] = await getattr(w, kind)()
    elif kind in ("applicant", "studio_member"):
        ids["presenter"] = await getattr(w, kind)()
    return ids


NAMES = (f"pm_new_{i}" for i in itertools.count())


async def as_command(w: World, row: Command, who: str, ids: dict) -> str:
    args = row.args({**ids, "token": w.people[who][1] if who in w.people else ""})
    if who in ("anonymous", "service"):  # a service key may not open a socket: it is refused at connect
        other = await harness.WsClient(w.server.ws_url).open()
        try:
            reply = await (other.call("connect", token=w.people[who][1]) if who == "service"
                           else other.call(row.name, **args))
        finally:
            await other.close()
    else:
        reply = await w.sockets[who].call(row.name, **args)
        if row.name == "subscribe" and "ok" in reply:
            await w.sockets[who].ok("unsubscribe", channel=args["channel"])
    return cell(reply.get("error", {}).get("code"))


async def as_route(w: World, row: Route, who: str, ids: dict) -> str:
    headers = w.auth(who)
    if row.session and who not in ("anonymous", "service"):
        headers = {"Authorization": f"Bearer {await w.sign_in(who)}"}
        if "{session}" in row.path:  # another session of the caller's own
            other = await w.sign_in(who)
            mine = (await w.http.get("/api/me/sessions", headers={"Authorization": f"Bearer {other}"})).json()
            ids = {**ids, "session": next(x["id"] for x in mine["sessions"] if x["current"])}
    path = row.path.format(**{"session": 0, **ids})
    body = {k: (ids["name"] if k == "username" and row.fresh == "name"
                else f"password-{who}" if v == "{password}" else v) for k, v in row.body.items()} \
        if row.body is not None else None
    r = await w.http.request(row.method, path, headers=headers, **({"json": body} if body is not None else {}))
    assert r.status_code < 500, (row.key, who, r.status_code, r.text)
    if row.then and r.status_code < 400:
        await getattr(w, row.then)()
    return cell(r.status_code)


def documented() -> dict[str, list[str]]:
    """docs/permissions.md's rows: `name` -> its cells, in WHO's order."""
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\| `([^`]+)` \|(.+)\|\s*$", line)
        if m:
            rows[m[1]] = [c.strip() for c in m[2].split("|")][: len(WHO)]
    return rows


async def test_every_command_and_route_answers_every_caller_as_documented(world):
    observed: dict[str, list[str]] = {}
    for row in [*COMMANDS, *ROUTES]:
        ids, cells = await fresh_ids(world, row.fresh), []
        for who in WHO:
            ask = as_command if isinstance(row, Command) else as_route
            cells.append(await ask(world, row, who, ids))
            if cells[-1] == "✓" and row.fresh:  # it may have changed what it acted on: the next caller gets anew
                ids = await fresh_ids(world, row.fresh)
        observed[row.name if isinstance(row, Command) else row.key] = cells
    if os.environ.get("COLLAB_MATRIX_PRINT"):
        out = io.StringIO()
        for name, cells in observed.items():
            out.write(f"| `{name}` | " + " | ".join(cells) + " |\n")
        print("\n" + out.getvalue())
    doc = documented()
    wrong = [f"{name}: documented {doc.get(name)}, answered {cells}" for name, cells in observed.items()
             if doc.get(name) != cells]
    assert not wrong, "\n".join(wrong)


async def test_every_door_of_the_node_has_a_row(world):
    """Every command the node serves and every described operation is in the matrix (and the doc)."""
    from collab.settings import Settings
    from server.app import create_app

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", secret="x" * 32))
    commands = set(app.state.services.registry._handlers)
    assert commands == {row.name for row in COMMANDS}, commands ^ {row.name for row in COMMANDS}
    spec = (await world.http.get("/api/openapi.json")).json()
    described = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops}
    rows = {re.sub(r"\{(\w+)\}", "{x}", re.sub(r"/\d+", "/{x}", row.key.split("?")[0])) for row in ROUTES}
    rows = {re.sub(r"activity:\{x\}", "{x}", r).replace("export.md", "export.{x}").replace("/forged/", "/{x}/")
            for r in rows}
    missing = {d for d in described if re.sub(r"\{(\w+)\}", "{x}", d) not in rows}
    assert not missing, f"no row for: {sorted(missing)}"
    assert set(documented()) == {row.name for row in COMMANDS} | {row.key for row in ROUTES}
