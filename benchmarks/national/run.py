"""The orchestrator of the national activity: servers, users, activity, then the scenario.

    database + users (one INSERT) -> nodes -> activity (POST /api/activities) -> host + expert connect
    -> the lobby opens (with video: the presenter publishes) -> join storm (teachers paced over
    --join-seconds) -> activity.start -> late joiners (snapshot latency) (with video: the program's
    parts reach nginx, the viewers start, every teacher's program.watch is answered) -> discussion:
    chat at --chat-rate -> expert_guidance: questions, upvotes, a few teachers drop and rejoin on the
    other node -> online_interaction: a poll everyone answers, show_results, final tally on every
    client -> activity.end -> everyone leaves -> attendance vs client presence.

`--groups` puts a group_discussion phase between the discussion and expert_guidance
(group_phase.py): assignment, chat inside groups, memory per group and per open notes document.

`--video` runs the scenario twice, on a fresh database, fresh nodes and a flushed Redis each time:
without video, then with it (video.py), so the table sets each row's two values side by side.
Everything started is stopped in `finally`; the database is dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil

from benchmarks.fanout import servers
from benchmarks.fanout.measure import MachineCpu, percentiles_ms
from benchmarks.fanout.run import Child
from benchmarks.fanout.tokens import mint
from benchmarks.national import group_phase
from benchmarks.national.teachers import Teacher, WorkerSpec, worker_main
from benchmarks.national.video import Video, VideoConfig

HOST = "127.0.0.1"


@dataclass
class Config:
    teachers: int = 10_000
    nodes: int = 2
    late: int = 300
    join_seconds: float = 30.0
    chat_rate: float = 100.0
    chat_seconds: float = 30.0
    questions: int = 20
    vote_seconds: float = 10.0
    poll_seconds: float = 10.0
    rejoiners: int = 10
    rejoin_gap: float = 3.0
    client_procs: int = 4
    latency_clients: int = 100
    attendance_sample: int = 0  # 0: every teacher
    fast_limits: bool = False  # --command-rate 1000 --command-burst 2000 on every node
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    redis_url: str = "redis://127.0.0.1:6379/12"
    # video (video.py): --video runs without, then with; --video-only the second run alone
    video: bool = False
    video_only: bool = False
    front_row: int = 0  # the activity's front row (real-time seats besides the stage)
    viewers: int = 500  # simulated LL-HLS viewers through nginx (--quick: 200)
    video_rungs: str = "360p"  # the rungs they play, comma-separated, spread evenly
    video_procs: int = 2  # their worker processes
    people_nice: int = 10  # nice increment of the presenter's process and the viewers' (people's computers)
    presenter_picture: str = "camera"  # benchmarks/audience/peers.py: camera (moving gradient) or card
    program_timeout: float = 40.0  # s from activity.start for the program's parts to reach nginx
    # The program is made on a media node of its own (the teachers' nodes run with --makes-programs no),
    # as a deployment keeps encoding off the nodes holding sockets; --program-on-node0: node 0 makes it.
    program_on_node0: bool = False
    media_nice: int = 0  # nice increment of the media node (it stands for a machine of its own)
    quiet_wait: float = 300.0  # s to wait, before each run, for other work on the machine to calm down
    # the group phase (group_phase.py), after the discussion's chat
    groups: bool = False
    group_size: int = 8
    group_chat_every: int = 4  # one group in this many chats
    group_chat_interval: float = 2.0  # s between two messages of a chatting group (its members take turns)
    group_chat_seconds: float = 20.0
    group_docs: int = 100  # groups whose notes are opened


async def insert_users(database_url: str, n: int) -> tuple[int, int, int, list[int]]:
    """Organizer, expert, presenter and n teachers in one statement each (no password: tokens are minted)."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        org = await conn.fetchval("INSERT INTO users (username, display_name, role, school, region, created_at) "
                                  "VALUES ('bench_org', 'Bench Organizer', 'organizer', '', '', now()) RETURNING id")
        expert = await conn.fetchval("INSERT INTO users (username, display_name, role, school, region, created_at) "
                                     "VALUES ('bench_expert', 'Bench Expert', 'teacher', '', '', now()) RETURNING id")
        presenter = await conn.fetchval("INSERT INTO users (username, display_name, role, school, region, created_at) "
                                        "VALUES ('bench_presenter', '王老师', 'teacher', '', '', now()) RETURNING id")
        rows = await conn.fetch(
            "INSERT INTO users (username, display_name, role, school, region, created_at) "
            "SELECT 'bench_t' || g, 'Teacher ' || g, 'teacher', 'School ' || (g % 500), 'Region ' || (g % 34), now() "
            "FROM generate_series(1, $1) AS g RETURNING id", n)
        return org, expert, presenter, sorted(r["id"] for r in rows)
    finally:
        await conn.close()


def http(method: str, port: int, path: str, token: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def create_activity(port: int, token: str, org: int, expert: int, presenter: int, front_row: int,
                    group_size: int = 0) -> int:
    """group_size: with a group phase of groups that size after the discussion (0: none)."""
    now = datetime.now(timezone.utc)
    agenda = [{"kind": k, "minutes": 20} for k in ("lesson_display", "discussion", "expert_guidance", "online_interaction")]
    if group_size:
        agenda.insert(2, group_phase.plan(group_size))
    body = {"title": "National activity benchmark", "level": "national", "visibility": "public",
            "capacity": 100_000, "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=3)).isoformat(),
            "agenda": agenda,
            "hosts": [org], "experts": [expert], "presenters": [presenter], "front_row": front_row}
    return http("POST", port, "/api/activities", token, body)["id"]


class Servers:
    def __init__(self, nodes: list[servers.Node]) -> None:
        self.nodes = nodes

    def cpu(self) -> list[float]:
        return [n.cpu() for n in self.nodes]


class Window:
    """CPU of servers, Redis, PostgreSQL and the machine between start() and stop(); with video, what
    the video side measured too (`video`: Video.window_stop)."""

    def __init__(self, nodes, redis_url: str, video: Video | None = None, own=lambda: []) -> None:
        self.nodes, self.redis_url, self.video, self.own = nodes, redis_url, video, own

    def _own_cpu(self) -> float:
        """CPU seconds of this run's processes (orchestrator, teacher workers, nodes, the video's)."""
        total = 0.0
        for pid in self.own():
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    @staticmethod
    def _pg() -> dict[int, float]:
        """CPU per PostgreSQL process now. Backends come and go with the servers' pools: a delta is
        taken per pid (new ones from 0); CPU of backends that exited within the window is missed."""
        out = {}
        for p in psutil.process_iter(["name", "cpu_times"]):
            if (p.info["name"] or "").startswith("postgres") and p.info["cpu_times"]:
                out[p.pid] = p.info["cpu_times"].user + p.info["cpu_times"].system
        return out

    def _pg_delta(self) -> float:
        return sum(c - self.pg0.get(pid, 0.0) for pid, c in self._pg().items())

    def start(self) -> None:
        self.t0 = time.time()
        self.cpu0 = [n.cpu() for n in self.nodes]
        self.redis0 = servers.redis_cpu(self.redis_url)
        self.pg0 = self._pg()
        self.machine = MachineCpu()
        self.load = round(psutil.getloadavg()[0], 2)
        self.own0 = self._own_cpu()
        if self.video:
            self.video.window_start()

    def stop(self) -> dict:
        wall = time.time() - self.t0
        cpu = [n.cpu() - c for n, c in zip(self.nodes, self.cpu0)]
        out = {"wall": wall, "server_cpu_s": cpu, "server_cpu_pct": [round(100 * c / wall, 1) for c in cpu],
               "redis_cpu_pct": round(100 * (servers.redis_cpu(self.redis_url) - self.redis0) / wall, 1),
               "postgres_cpu_pct": round(100 * self._pg_delta() / wall, 1),
               "machine_busy_pct": round(100 * self.machine.busy(), 1), "load_before": self.load}
        # the machine is shared: what ran besides this run (Redis and PostgreSQL count as the run's)
        ours = (self._own_cpu() - self.own0) / wall + (out["redis_cpu_pct"] + out["postgres_cpu_pct"]) / 100
        out["outside_cores"] = round(max(0.0, out["machine_busy_pct"] / 100 * psutil.cpu_count() - ours), 2)
        if self.video:
            out["video"] = self.video.window_stop()
        return out


async def call_all(workers: list[Child], cmd: str, args: list | None = None, timeout: float = 600.0) -> list:
    args = args if args is not None else [None] * len(workers)
    out = await asyncio.gather(*(asyncio.to_thread(w.call, cmd, a, timeout) for w, a in zip(workers, args)))
    for o in out:
        if isinstance(o, dict) and "worker_error" in o:
            raise RuntimeError(f"worker failed on {cmd}: {o['worker_error']}")
    return out


async def drain(workers: list[Child], key: str, target: int | None, limit: float) -> None:
    """Wait until the workers' `key` count reaches target, or stops moving for 2 s, or `limit` s pass."""
    deadline, last, still = time.monotonic() + limit, -1, 0.0
    while time.monotonic() < deadline:
        now = sum(p[key] for p in await call_all(workers, "progress"))
        if target is not None and now >= target:
            return
        still = still + 0.5 if now == last else 0.0
        if still >= 2.0:
            return
        last = now
        await asyncio.sleep(0.5)


def client_pct(reports: list[dict]) -> list[float]:
    return [round(100 * r["cpu"] / r["wall"], 1) if r["wall"] else 0.0 for r in reports]


async def scenario(cfg: Config, nodes, workers: list[Child], secret: str, aid: int, org: int, expert: int,
                   teacher_ids: list[int], video: Video | None = None) -> dict:
    res: dict = {}
    ports = [n.port for n in nodes]
    nw = len(workers)
    on_time, late = teacher_ids[: len(teacher_ids) - cfg.late], teacher_ids[len(teacher_ids) - cfg.late:]
    node_of = {uid: k % len(ports) for k, uid in enumerate(teacher_ids)}
    worker_of = {uid: k % nw for k, uid in enumerate(teacher_ids)}
    sample_every = max(1, len(teacher_ids) // cfg.latency_clients)
    sampled = {uid for k, uid in enumerate(teacher_ids) if k % sample_every == 0}

    def by_worker(uids):
        out = [[] for _ in range(nw)]
        for u in uids:
            out[worker_of[u]].append((u, ports[node_of[u]], u in sampled))
        return out

    host = Teacher(ports[0], org, mint(secret, org, "organizer", "Bench Organizer"), False)
    exp = Teacher(ports[-1], expert, mint(secret, expert, "teacher", "Bench Expert"), False)
    await host.join(aid)
    await exp.join(aid)
    await exp.call("subscribe", {"channel": f"activity:{aid}:mod"})
    await host.call("activity.open_lobby", {"activity_id": aid})
    if video:  # on stage before anyone comes: the program is made as soon as the activity is live
        res["video"] = await video.publish(host)
    win = Window(nodes, cfg.redis_url, video, lambda: [os.getpid(), *(w.proc.pid for w in workers),
                                                       *(n.proc.pid for n in nodes),
                                                       *(video.own_pids() if video else [])])

    # 1. join storm, before the start
    await call_all(workers, "mark")
    win.start()
    joins = await call_all(workers, "join", [{"teachers": t, "seconds": cfg.join_seconds} for t in by_worker(on_time)])
    w = win.stop()
    cpu = sum(w["server_cpu_s"])
    ok = sum(j["ok"] for j in joins)
    span = max(j["end"] for j in joins) - min(j["start"] for j in joins)
    res["join"] = {"ok": ok, "offered": len(on_time), "failed": _merge(j["failed"] for j in joins),
                   "seconds": round(span, 2), "per_second": round(ok / span, 1) if span else None,
                   "latency_ms": percentiles_ms([x for j in joins for x in j["join_ns"]]),
                   "snapshot_ms": percentiles_ms([x for j in joins for x in j["snapshot_ns"]]),
                   "server_cpu_us_per_join": round(1e6 * cpu / ok, 0) if ok else None, **w,
                   "client_cpu_pct": [round(100 * j["cpu"] / (j["end"] - j["start"]), 1) for j in joins]}

    # 2. start; late joiners (with video: the program starts, every teacher asks program.watch)
    if video:
        video.before_start()
    win.start()
    start_ok = await host.call("activity.start", {"activity_id": aid})
    start_ns = time.time_ns()
    res["start_offset"] = start_ok.get("offset")
    late_j = await call_all(workers, "join", [{"teachers": t, "seconds": 5.0} for t in by_worker(late)])
    res["late"] = {"ok": sum(j["ok"] for j in late_j), "offered": len(late),
                   "failed": _merge(j["failed"] for j in late_j),
                   "snapshot_ms": percentiles_ms([x for j in late_j for x in j["snapshot_ns"]]),
                   "join_ms": percentiles_ms([x for j in late_j for x in j["join_ns"]])}
    if video:  # the program's parts through nginx, the viewers, every teacher's program.watch answered
        await video.watch(start_ns / 1e9)
        t_watch = time.monotonic()
        while time.monotonic() - t_watch < 30:
            got = await call_all(workers, "watching")
            if sum(g["heard_on"] for g in got) and not sum(g["pending"] for g in got):
                break  # the program-on push came, and no teacher waits for an answer
            await asyncio.sleep(0.5)
        res["video"]["answers_settled_s"] = round(time.monotonic() - t_watch, 1)
    res["late"]["start_window"] = win.stop()

    # 3. discussion: chat
    await host.call("activity.next_phase", {"activity_id": aid})
    await asyncio.sleep(1.0)
    posters = teacher_ids[: max(1, int(cfg.chat_rate * 2))]  # each posts every 2 s: under 1 post/s each
    period = len(posters) / cfg.chat_rate
    rounds = max(1, int(cfg.chat_seconds / period))
    tasks = [[] for _ in range(nw)]
    for r in range(rounds):
        for k, uid in enumerate(posters):
            tasks[worker_of[uid]].append((r * period + k / cfg.chat_rate, uid, "chat.post",
                                          {"activity_id": aid, "body": "@stamp"}))
    live = sum(m["live"] for m in await call_all(workers, "mark"))
    win.start()
    posted = await call_all(workers, "do", [{"tasks": t} for t in tasks])
    sent_ok = sum(p["ok"] for p in posted)
    await drain(workers, "chat", sent_ok * live, 20.0)
    w = win.stop()
    reps = await call_all(workers, "report")
    delivered = sum(r["received"] for r in reps)
    chat_delivered = sum(int(n) * c for r in reps for n, c in r["chat_counts"].items())
    res["chat"] = {"posted_ok": sent_ok, "post_errors": _merge(p["errors"] for p in posted), "live": live,
                   "offered_rate": cfg.chat_rate, "achieved_rate": round(sent_ok / cfg.chat_seconds, 1),
                   "max_send_lag_ms": max(p["max_lag_ms"] for p in posted),
                   "expected_deliveries": sent_ok * live, "chat_delivered": chat_delivered,
                   "delivered_all_events": delivered,
                   "latency_ms": percentiles_ms([x for r in reps for x in r["latencies_ns"]]),
                   "server_cpu_us_per_event": round(1e6 * sum(w["server_cpu_s"]) / delivered, 2) if delivered else None,
                   "client_cpu_pct": client_pct(reps), "closed": _merge(r["closed"] for r in reps), **w}

    # 3b. with --groups: the group phase (the next phase below leaves it)
    if cfg.groups:
        res["groups"] = await group_phase.run(cfg, nodes, workers, host, aid, secret, call_all,
                                              lambda: Window(nodes, cfg.redis_url, None, win.own))

    # 4. expert guidance: questions, votes, rejoins on the other node
    await host.call("activity.next_phase", {"activity_id": aid})
    askers = teacher_ids[-cfg.questions - cfg.late: -cfg.late] if cfg.late else teacher_ids[-cfg.questions:]
    tasks = [[] for _ in range(nw)]
    for k, uid in enumerate(askers):
        tasks[worker_of[uid]].append((k * 0.05, uid, "qa.ask", {"activity_id": aid, "body": f"question {k}?"}))
    asked = await call_all(workers, "do", [{"tasks": t, "keep": True} for t in tasks])
    qids = sorted(q["question"]["id"] for a in asked for q in a["kept"])
    rejoiners = [u for u in on_time if node_of[u] == 0][: cfg.rejoiners]
    rj_by_worker = [[u for u in rejoiners if worker_of[u] == i] for i in range(nw)]
    tasks = [[] for _ in range(nw)]
    expected_votes: dict[str, int] = {}
    voters = [u for u in teacher_ids if u not in set(rejoiners)]
    for k, uid in enumerate(voters):
        q = qids[k % len(qids)] if qids else 0
        tasks[worker_of[uid]].append((k * cfg.vote_seconds / len(voters), uid, "qa.vote",
                                      {"activity_id": aid, "question_id": q}))
    await call_all(workers, "mark")
    win.start()
    t_votes = time.time()
    voted = await call_all(workers, "do", [  # the rejoins run in the same worker command, alongside
        {"tasks": t, "keep": True, "rejoin": {"uids": u, "port": ports[1 % len(ports)], "gap": cfg.rejoin_gap}}
        for t, u in zip(tasks, rj_by_worker)])
    rejoined = [v["rejoin"] for v in voted]
    vote_ok = sum(v["ok"] for v in voted)
    for v in voted:  # each reply carries the count after its own commit: the largest is the final total
        for ok in v["kept"]:
            q = str(ok["question_id"])
            expected_votes[q] = max(expected_votes.get(q, 0), ok["votes"])
    await asyncio.sleep(2.5)  # totals leave each node at most once a second
    w = win.stop()
    reps = await call_all(workers, "report")
    seen = [v for vs in await call_all(workers, "qa") for u, v in vs if u not in set(rejoiners)]  # away meanwhile
    vote_errors = _merge(v["errors"] for v in voted)
    res["qa"] = {"questions": len(qids), "ask_errors": _merge(a["errors"] for a in asked), "votes_ok": vote_ok,
                 "vote_errors": vote_errors, "max_send_lag_ms": max(v["max_lag_ms"] for v in voted),
                 "last_vote_reply_s": round(max(v["last_reply"] for v in voted) - t_votes, 2),
                 "sampled_clients": len(seen),
                 "sampled_with_final_totals": sum(1 for v in seen if all(v.get(q) == n for q, n in expected_votes.items())),
                 "delivered": sum(r["received"] for r in reps),
                 "server_cpu_us_per_event": round(1e6 * sum(w["server_cpu_s"]) / max(1, sum(r["received"] for r in reps)), 2),
                 "client_cpu_pct": client_pct(reps), **w}
    res["rejoin"] = {"teachers": len(rejoiners), "ok": sum(r["ok"] for r in rejoined),
                     "failed": _merge(r["failed"] for r in rejoined)}

    # 5. online interaction: a poll everyone answers in --poll-seconds
    await host.call("activity.next_phase", {"activity_id": aid})
    poll = await exp.call("poll.create", {"activity_id": aid, "question": "Which approach?",
                                          "options": ["A", "B", "C", "D"]})
    poll_id = poll["poll"]["id"]
    await asyncio.sleep(1.0)
    tasks = [[] for _ in range(nw)]
    for k, uid in enumerate(teacher_ids):
        tasks[worker_of[uid]].append((k * cfg.poll_seconds / len(teacher_ids), uid, "poll.answer",
                                      {"activity_id": aid, "poll_id": poll_id, "choices": [k % 4]}))
    await call_all(workers, "mark")
    win.start()
    t_answers = time.time()
    answered = await call_all(workers, "do", [{"tasks": t} for t in tasks])
    answers_ok = sum(a["ok"] for a in answered)
    last_answer = max(a["last_reply"] for a in answered)
    await call_all(workers, "expect_tally", [answers_ok] * nw)
    t_show = time.time()
    await exp.call("poll.show_results", {"activity_id": aid, "poll_id": poll_id})
    show_reply = time.time()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        tallies = await call_all(workers, "tally")
        if sum(t["missing"] for t in tallies) == 0:
            break
        await asyncio.sleep(0.25)
    w = win.stop()
    reps = await call_all(workers, "report")
    last_seen = max(t["last_ns"] for t in tallies) / 1e9
    res["poll"] = {"answers_ok": answers_ok, "answer_errors": _merge(a["errors"] for a in answered),
                   "answer_window_s": cfg.poll_seconds, "last_answer_reply_s": round(last_answer - t_answers, 2), "max_send_lag_ms": max(a["max_lag_ms"] for a in answered),
                   "clients_seen_final": sum(t["seen"] for t in tallies),
                   "clients_missing_final": sum(t["missing"] for t in tallies),
                   "show_results_after_last_answer_ms": round(1000 * (t_show - last_answer), 1),
                   "show_results_reply_ms": round(1000 * (show_reply - t_show), 1),
                   "last_answer_to_final_tally_everywhere_ms":
                       round(1000 * (last_seen - last_answer), 1) if last_seen else None,
                   "show_results_to_first_client_ms":
                       round(1000 * (min(t["first_ns"] for t in tallies if t["first_ns"]) / 1e9 - t_show), 1)
                       if any(t["first_ns"] for t in tallies) else None,
                   "delivered": sum(r["received"] for r in reps), "client_cpu_pct": client_pct(reps), **w}

    # 6. end; everyone leaves; attendance
    if video:
        windows = {k: (res[k]["video"]["t0"], res[k]["video"]["t1"]) for k in ("chat", "qa", "poll")}
        res["video"].update(await video.finish(await call_all(workers, "watching"), windows))
    await host.call("activity.end", {"activity_id": aid})
    end_ns = time.time_ns()
    await asyncio.sleep(1.0)
    presence: dict[int, list] = {}
    for part in await call_all(workers, "leave_all"):
        presence.update({int(k): v for k, v in part.items()})
    host.leave()
    exp.leave()
    left = time.time()
    await asyncio.sleep(3.0)  # each node writes its intervals within about a second

    async def attendance() -> dict:
        rows = {r["user_id"]: r for r in (await asyncio.to_thread(
            http, "GET", ports[0], f"/api/activities/{aid}/attendance", host.token))["attendees"]}
        return compare_attendance(presence, rows, start_ns, end_ns, set(rejoiners), cfg.attendance_sample)

    res["attendance"] = first = await attendance()  # the number reported: 3 s after everyone left
    later = first
    while later["match_within_1s"] < later["compared"] and time.time() - left < 45:
        await asyncio.sleep(2.0)  # a node still writing leaves: how long until the report is right?
        later = await attendance()
    first["settled_after_s"] = round(time.time() - left, 1) if later["match_within_1s"] == later["compared"] else None
    first["match_when_settled"] = later["match_within_1s"]
    first["rejoiners_ok_when_settled"] = later["rejoiners_ok"]
    return res


def _live_seconds(intervals, start_ns: int, end_ns: int) -> float:
    return sum(max(0, min(b, end_ns) - max(a, start_ns)) for a, b in intervals) / 1e9


def compare_attendance(presence, rows, start_ns, end_ns, rejoiners: set[int], sample: int) -> dict:
    uids = sorted(presence)
    if sample:
        uids = uids[:: max(1, len(uids) // sample)]
    diffs, match, missing, worst = [], 0, 0, []
    for uid in uids:
        client = _live_seconds(presence[uid], start_ns, end_ns)
        row = rows.get(uid)
        if row is None:
            missing += 1
            continue
        d = row["seconds"] - client
        diffs.append(abs(d))
        if abs(d) <= 1.0:
            match += 1
        else:
            worst.append((round(d, 2), uid))
    rj = []
    for uid in sorted(rejoiners):
        row = rows.get(uid) or {}
        client = _live_seconds(presence.get(uid, []), start_ns, end_ns)
        rj.append({"user_id": uid, "client_sessions": len(presence.get(uid, [])), "rejoins": row.get("rejoins"),
                   "seconds": row.get("seconds"), "client_seconds": round(client, 2),
                   "ok": row.get("rejoins") == len(presence.get(uid, [])) - 1 and row.get("seconds") is not None
                   and abs(row["seconds"] - client) <= 1.0})
    diffs.sort()
    return {"compared": len(uids), "match_within_1s": match, "missing_rows": missing,
            "abs_diff_s": {"p50": _pct(diffs, 50), "p99": _pct(diffs, 99), "max": diffs[-1] if diffs else None},
            "worst": sorted(worst)[:5] + sorted(worst)[-5:] if worst else [],
            "rejoiners": rj, "rejoiners_ok": sum(1 for r in rj if r["ok"])}


def _pct(xs, p):
    return round(xs[min(len(xs) - 1, int(len(xs) * p / 100))], 2) if xs else None


def _merge(dicts) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def run(cfg: Config) -> dict:
    """The scenario once; with --video twice (without, then with video) as {"runs": {...}}."""
    if not (cfg.video or cfg.video_only):
        return run_once(cfg, False)
    runs = {}
    if not cfg.video_only:
        runs["without"] = run_once(cfg, False)
        time.sleep(5)  # the first run's database is dropped, its processes gone: the machine settles
    runs["with"] = run_once(cfg, True)
    return {"runs": runs}


def quiet(limit: float, busy_max: float = 25.0) -> dict:
    """Wait (at most `limit` s) until the shared machine is quiet: busy under `busy_max` % over 3 s."""
    t0 = time.monotonic()
    while True:
        m = MachineCpu()
        time.sleep(3)
        busy = round(100 * m.busy(), 1)
        if busy < busy_max or time.monotonic() - t0 >= limit:
            return {"busy_pct": busy, "waited_s": round(time.monotonic() - t0, 1)}
        print(f"the machine is {busy}% busy (other work): waiting", flush=True)
        time.sleep(7)


def run_once(cfg: Config, with_video: bool) -> dict:
    calm = quiet(cfg.quiet_wait)
    secret = secrets.token_urlsafe(32)
    logdir = Path(tempfile.mkdtemp(prefix="collab-national-"))
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"{'with' if with_video else 'without'} video: server logs in {logdir}; load average {load}", flush=True)
    servers.flush_redis(cfg.redis_url)
    nodes: list[servers.Node] = []
    workers: list[Child] = []
    video: Video | None = None
    media: servers.Node | None = None
    database_url = None
    try:
        database_url = servers.run(servers.create_database(cfg.pg_url))
        servers.migrate(database_url)
        org, expert, presenter, teacher_ids = servers.run(insert_users(database_url, cfg.teachers))
        extra = ["--command-rate", "1000", "--command-burst", "2000"] if cfg.fast_limits else []
        extra += ["--log-level", "info"]  # the program's start and stop are logged at info (requests are not)
        edge = ["--makes-programs", "no"] if with_video and not cfg.program_on_node0 else []
        for i in range(cfg.nodes):
            nodes.append(servers.start_collab(i, database_url, cfg.redis_url, secret, logdir, extra + edge))
        if edge:
            nice = ["nice", "-n", str(cfg.media_nice)] if cfg.media_nice else []
            media = servers.start_collab("media", database_url, cfg.redis_url, secret, logdir, extra, prefix=nice)
        for n in nodes + ([media] if media else []):
            n.wait_ready("/readyz")
        aid = create_activity(nodes[0].port, mint(secret, org, "organizer", "Bench Organizer"), org, expert,
                              presenter, cfg.front_row, cfg.group_size if cfg.groups else 0)
        for i in range(cfg.client_procs):  # forked before any event loop or thread exists here
            workers.append(Child(worker_main, WorkerSpec(i, secret, aid, watch=with_video)))
        if with_video:
            vc = VideoConfig(viewers=cfg.viewers, rungs=[r.strip() for r in cfg.video_rungs.split(",") if r.strip()],
                             procs=cfg.video_procs, people_nice=cfg.people_nice, picture=cfg.presenter_picture,
                             program_timeout=cfg.program_timeout)
            video = Video(vc, secret, aid, mint(secret, presenter, "teacher", "王老师"), nodes, logdir, media)
            video.fork()
        res = asyncio.run(scenario(cfg, nodes, workers, secret, aid, org, expert, teacher_ids, video))
        res["load_before"] = load
        res["quiet"] = calm
        res["server_logs"] = str(logdir)
        res["server_errors_logged"] = sum(1 for n in nodes + ([media] if media else [])
                                          for line in open(n.log_path, errors="replace")
                                          if '"level": "error"' in line.lower() or '"level":"error"' in line.lower()
                                          or "Traceback" in line)
        return res
    finally:
        if video is not None:
            video.stop()
        for w in workers:
            w.close()
        for n in nodes + ([media] if media else []):
            n.stop()
        if database_url:
            servers.run(servers.drop_database(cfg.pg_url, database_url))
