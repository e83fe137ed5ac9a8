"""The world the pages are opened in, on one `collab serve` with a fresh SQLite database:

- users: an organizer, an expert, `teachers` teachers (plus the seeded studio's members);
- `live`: a public activity with 4 phases, live in its 2nd (discussion), with `chat` messages and
  `questions` questions (some upvoted), posted over /ws by many teachers (1 post/s/teacher);
- `ended`: the same kind of activity, attended (snapshot + subscribe) by the teachers, chatted in, run
  through its 4 phases and ended: for the replay and the attendance report;
- `upcoming`: a few scheduled activities, so /activities (its default tab) lists something;
- a studio (tests/studio_seed.py) with a lesson-plan document and `studio_posts` posts.

Everything goes through the server's API and /ws except users, the studio and its posts (written to
the database, as tests/studio_seed.py does)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import httpx

import harness  # tests/ is on sys.path (benchmarks/pages/__main__.py)
from studio_seed import new_doc, seed_studio
from collab.auth.accounts import create_user
from collab.store.db import make_engine, make_sessionmaker
from collab.studios.records import StudioPost

AGENDA = [{"kind": "lesson_display", "title": "课例展示", "minutes": 40},
          {"kind": "discussion", "title": "互动研讨", "minutes": 30},
          {"kind": "expert_guidance", "title": "专家点评", "minutes": 20},
          {"kind": "online_interaction", "title": "在线互动", "minutes": 20}]
POST_GAP = 1.1  # the server allows one chat post a second per teacher


async def make_users(url: str, teachers: int) -> dict:
    engine = make_engine(url)
    out: dict = {"teachers": []}
    async with make_sessionmaker(engine)() as db:
        for username, role in [("org1", "organizer"), ("expert1", "expert")]:
            u = await create_user(db, username=username, password="password-" + username,
                                  display_name=username.title(), role=role)
            out[role] = (u.id, harness.token_for(u.id, role, u.display_name))
        for i in range(teachers):
            u = await create_user(db, username=f"teacher{i}", password=f"password-teacher{i}",
                                  display_name=f"教师 {i} Teacher", role="teacher", school=f"第{i}中学",
                                  region="浙江")
            out["teachers"].append((u.id, harness.token_for(u.id, "teacher", u.display_name)))
        await db.commit()
    await engine.dispose()
    return out


async def studio_posts(url: str, studio_id: int, authors: list[int], n: int) -> None:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        for i in range(n):
            db.add(StudioPost(studio_id=studio_id, user_id=authors[i % len(authors)],
                              kind="announcement" if i % 10 == 0 else "discussion",
                              body=f"第 {i} 条: 本周集体备课《一次函数》, 请大家准备导入环节的设计。"))
        await db.commit()
    await engine.dispose()


async def create_activity(http: httpx.AsyncClient, org_token: str, expert_id: int, title: str,
                          starts_in: timedelta) -> int:
    start = datetime.now(timezone.utc) + starts_in
    r = await http.post("/api/activities", headers={"Authorization": f"Bearer {org_token}"}, json={
        "title": title, "visibility": "public", "level": "national", "subject": "math", "grade": "8",
        "region": "全国", "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": 10_000, "experts": [expert_id], "agenda": AGENDA})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def seed(server: harness.Server, url: str, *, teachers: int = 50, chat: int = 200, questions: int = 30,
               upcoming: int = 8, studio_posts_n: int = 30, log=print) -> dict:
    t0 = time.monotonic()
    users = await make_users(url, teachers)
    st = await seed_studio(url)
    leader_id = st["users"]["leader"][0]
    doc_id = await new_doc(url, st["studio"], leader_id, title="一次函数 教案")
    await studio_posts(url, st["studio"], [st["users"][r][0] for r in ("leader", "co_leader", "member")],
                       studio_posts_n)
    log(f"  users and studio written ({time.monotonic() - t0:.1f} s)")

    org_token, expert_id = users["organizer"][1], users["expert"][0]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        live = await create_activity(http, org_token, expert_id, "《背影》课例研讨 (live)", timedelta(minutes=5))
        ended = await create_activity(http, org_token, expert_id, "《函数的概念》同课异构 (ended)",
                                      timedelta(minutes=5))
        for i in range(upcoming):
            await create_activity(http, org_token, expert_id, f"初中数学教研 第 {i + 1} 期", timedelta(days=i + 1))

    host = await harness.WsClient(server.ws_url).open(org_token)
    for aid in (live, ended):
        await host.ok("activity.open_lobby", activity_id=aid)
        await host.ok("activity.start", activity_id=aid)
        await host.ok("activity.next_phase", activity_id=aid)  # discussion: chat open
    # teachers: in the ended activity they attend (snapshot + subscribe: attendance is recorded)
    clients = [await harness.WsClient(server.ws_url).open(tok) for _, tok in users["teachers"]]
    for c in clients:
        snap = await c.ok("activity.snapshot", activity_id=ended)
        await c.ok("subscribe", channel=snap["channel"], since=snap["since"])
    log(f"  {len(clients)} teachers connected ({time.monotonic() - t0:.1f} s)")

    async def round_of(n: int, cmd: str, make_args) -> list:
        return await asyncio.gather(*(clients[i].call(cmd, **make_args(i)) for i in range(n)))

    failures: list = []
    posted = {live: 0, ended: 0}
    k = 0
    while posted[live] < chat:
        n = min(len(clients), chat - posted[live])
        for aid in (live, ended):
            for r in await round_of(n, "chat.post", lambda i, aid=aid: {
                    "activity_id": aid, "body": f"第 {k * len(clients) + i} 条讨论: 这一环节的情境导入贴近学生生活, "
                                                f"建议再给学生留一点思考时间。"}):
                if "ok" in r:
                    posted[aid] += 1
                else:
                    failures.append(r)
        k += 1
        await asyncio.sleep(POST_GAP)
    asked = {live: [], ended: []}
    for aid in (live, ended):
        n = min(len(clients), questions)
        for r in await round_of(n, "qa.ask", lambda i, aid=aid: {
                "activity_id": aid, "body": f"问题 {i}: 如何引导学生体会朴实语言中的深情?"}):
            if "ok" in r:
                asked[aid].append(r["ok"]["question"]["id"])
            else:
                failures.append(r)
        # upvotes: question j gets j % 7 votes, from teachers other than its author
        votes = [clients[(j + v + 1) % len(clients)].call("qa.vote", activity_id=aid, question_id=q)
                 for j, q in enumerate(asked[aid]) for v in range(j % 7)]
        for r in await asyncio.gather(*votes):
            if "ok" not in r:
                failures.append(r)
    log(f"  chat and questions posted ({time.monotonic() - t0:.1f} s)")

    # the ended activity: a third of the teachers leave early, the rest stay to the end
    for c in clients[: len(clients) // 3]:
        await c.close()
    for _ in range(2):
        await host.ok("activity.next_phase", activity_id=ended)
    await asyncio.sleep(1.0)
    await host.ok("activity.end", activity_id=ended)
    for c in clients[len(clients) // 3:]:
        await c.close()
    # the live room: its snapshot, to know how much chat a page shows
    snap = await host.ok("activity.snapshot", activity_id=live)
    await host.close()

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        hdr = {"Authorization": f"Bearer {org_token}"}
        deadline = time.monotonic() + 15
        while True:  # the node writes attendance intervals within a second or so
            report = (await http.get(f"/api/activities/{ended}/attendance", headers=hdr)).json()
            if (report.get("attendees") and all(r["last_leave"] for r in report["attendees"])) \
                    or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        replay = (await http.get(f"/api/activities/{ended}/replay", headers=hdr)).json()
    log(f"  seeded in {time.monotonic() - t0:.1f} s")
    return {
        "users": users, "studio": st["studio"], "studio_users": st["users"], "doc": doc_id,
        "live": live, "ended": ended, "upcoming": upcoming,
        "live_chat_in_snapshot": len(snap["chat"]["recent"]), "live_questions_in_snapshot": len(snap["questions"]),
        "chat_posted": {"live": posted[live], "ended": posted[ended]},
        "questions_asked": {"live": len(asked[live]), "ended": len(asked[ended])},
        "replay_chat": len(replay.get("chat", [])), "replay_questions": len(replay.get("questions", [])),
        "attendance_rows": len(report.get("attendees", [])), "failures": failures[:5],
        "failures_n": len(failures), "seconds": round(time.monotonic() - t0, 1),
    }
