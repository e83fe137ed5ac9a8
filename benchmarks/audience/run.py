"""The orchestrator: two collab nodes over Redis and PostgreSQL, one live activity, its stage and its
program, measured in five steps (benchmarks/README.md, "Audience").

    database, users, nodes, activity (lesson display first) -> the stage: the presenter's stamped card,
    three experts' cameras and the presenter's screen, published through node 0; a WebRTC viewer
    1. program CPU: node 0 with that stage and no program (the lobby), then live with the program
    2. the experts and the screen leave; latency: hls.js in chromium (720p and 360p, from node 1) and
       the WebRTC viewer read the card's stamp; part timing from the rung playlists
    3. origin CPU per HLS viewer: simulated viewers on node 1, none then N, N'...
    4. nginx in front: two instances, both nodes behind each, 1,000 viewers through them
    5. the WebRTC relay's viewers per core at N = 20 (benchmarks/stage, its own processes)

This process runs no event loop: everything that talks is a forked helper process (benchmarks/stage/
procs.py) or a subprocess, and every one is stopped in `finally`. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json
import math
import secrets
import shutil
import statistics
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil

from benchmarks.audience import nginx as nginx_mod
from benchmarks.audience.browser import BrowserSpec, browser_main
from benchmarks.audience.desk import desk_main
from benchmarks.audience.llhls import parse_media, parse_variants
from benchmarks.audience.peers import PeerSpec, publisher_main, viewer_main
from benchmarks.audience.timing import ProberSpec, prober_main
from benchmarks.audience.viewers import WorkerSpec, worker_main
from benchmarks.fanout import servers
from benchmarks.fanout.measure import MachineCpu
from benchmarks.fanout.tokens import mint
from benchmarks.stage.procs import Child, call_all

HOST = "127.0.0.1"


@dataclass
class Config:
    steps: list[str] = field(default_factory=lambda: ["cpu", "latency", "origin", "cdn", "relay"])
    cpu_seconds: float = 15.0  # each program-CPU window (without, with the program)
    latency_seconds: float = 60.0  # the latency window (the brief asks >= 30 s)
    origin_ns: list[int] = field(default_factory=lambda: [100, 300, 600])  # simulated viewers on one node
    origin_seconds: float = 15.0
    origin_rung: str = "360p"
    cdn_viewers: int = 1000
    cdn_seconds: float = 30.0
    cdn_rung: str = "360p"
    nginx: int = 2  # instances
    client_procs: int = 4  # simulated viewers' worker processes
    hls_mode: str = "after"  # "after": as hls.js; "hint": also fetch the preload hint with the reload
    hls_node: int = 1  # the node the HLS viewers of steps 2 and 3 ask (node 0 makes the program)
    # nice increment of the publishers and the simulated HLS viewers: they stand for people's own
    # computers, so the nodes (what is measured) come first on this shared machine; the measuring
    # instruments (chromium, the WebRTC viewer, the prober) keep their priority
    people_nice: int = 10
    hls_sync_rate: float = 1.0  # hls.js maxLiveSyncPlaybackRate (1, its default: never speeds up to catch up)
    py_spy: str = ""  # a directory: profile the origin node with py-spy after the last origin window
    relay_n: int = 20
    relay_seconds: float = 15.0
    program_timeout: float = 40.0  # seconds for the program to start after the activity does
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    redis_url: str = "redis://127.0.0.1:6379/14"


def screen_sharing() -> bool:
    """Whether the server measured (this tree) takes `stage.publish {source: "screen"}`."""
    from sessions.stage import rules

    return hasattr(rules, "screen_of")


def pct(xs, p: float):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def dist(xs, scale: float = 1.0, digits: int = 0) -> dict:
    """n, p50, p95, p99, max of xs (times scale)."""
    if not xs:
        return {"n": 0}
    r = (lambda v: round(v * scale, digits) if digits else round(v * scale))
    return {"n": len(xs), "p50": r(pct(xs, 50)), "p95": r(pct(xs, 95)), "p99": r(pct(xs, 99)), "max": r(max(xs))}


def http_json(method: str, url: str, token: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


PEOPLE = {"org": ("陈主持", "organizer"), "presenter": ("王老师", "teacher"), "e1": ("李专家", "teacher"),
          "e2": ("张专家", "teacher"), "e3": ("赵专家", "teacher")}  # name on the stage (the token's), role


async def insert_users(database_url: str, teachers: int) -> dict[str, int]:
    """The organizer (host), the presenter, three experts and some teachers, one INSERT each."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        out = {}
        for name, (display, role) in PEOPLE.items():
            out[name] = await conn.fetchval(
                "INSERT INTO users (username, display_name, role, school, region, created_at) "
                "VALUES ($1, $2, $3, '', '', now()) RETURNING id", f"bench_{name}", display, role)
        rows = await conn.fetch(
            "INSERT INTO users (username, display_name, role, school, region, created_at) "
            "SELECT 'bench_t' || g, 'Teacher ' || g, 'teacher', '', '', now() FROM generate_series(1, $1) AS g "
            "RETURNING id", teachers)
        for k, r in enumerate(sorted(r["id"] for r in rows)):
            out[f"t{k + 1}"] = r
        return out
    finally:
        await conn.close()


class Run:
    def __init__(self, cfg: Config, log) -> None:
        self.cfg, self.log = cfg, log
        self.secret = "bench-" + secrets.token_hex(24)
        self.logdir = Path(tempfile.mkdtemp(prefix="collab-bench-audience-"))
        self.children: list[Child] = []
        self.nodes: list[servers.Node] = []
        self.nginx: list[nginx_mod.Nginx] = []
        self.database_url = ""
        self.res: dict = {"logdir": str(self.logdir), "steps": {}}
        self.publishers: dict[str, Child] = {}
        self.viewer: Child | None = None
        self.watch: dict | None = None  # program.watch's answer for the teacher on node 1
        self.program_error: str | None = None  # why there is no program, once known

    # -- processes -------------------------------------------------------------------------------
    def child(self, target, spec) -> Child:
        c = Child(target, spec)
        self.children.append(c)
        return c

    def drop(self, c: Child) -> None:
        c.close()
        if c in self.children:
            self.children.remove(c)

    def url(self, i: int) -> str:
        return f"http://{HOST}:{self.nodes[i].port}"

    def ws_url(self, i: int) -> str:
        return f"ws://{HOST}:{self.nodes[i].port}/ws"

    def token(self, who: str) -> str:
        role = "organizer" if who == "org" else "teacher"
        return mint(self.secret, self.users[who], role, PEOPLE.get(who, (who,))[0])

    # -- set-up ----------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.database_url = servers.run(servers.create_database(cfg.pg_url))
        servers.migrate(self.database_url)
        self.users = servers.run(insert_users(self.database_url, 8))
        servers.flush_redis(cfg.redis_url)
        for i in range(2):
            # info: the program's start and stop are logged (requests are not)
            self.nodes.append(servers.start_collab(i, self.database_url, cfg.redis_url, self.secret, self.logdir,
                                                   ["--log-level", "info"]))
        for n in self.nodes:
            n.wait_ready("/readyz")
        now = datetime.now(timezone.utc)
        u = self.users
        body = {"title": "全国教研活动：观众端测量 National audience benchmark", "level": "national",
                "visibility": "public", "capacity": 100_000, "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(hours=3)).isoformat(),
                "agenda": [{"kind": k, "minutes": 30} for k in ("lesson_display", "discussion")],
                "hosts": [u["org"]], "experts": [u["e1"], u["e2"], u["e3"]], "presenters": [u["presenter"]]}
        self.aid = http_json("POST", self.url(0) + "/api/activities", self.token("org"), body)["id"]
        self.desk = self.child(desk_main, None)
        self.desk.call("connect", {"name": "host", "ws_url": self.ws_url(0), "token": self.token("org")})
        self.desk.call("connect", {"name": "teacher", "ws_url": self.ws_url(1), "token": self.token("t2")})
        opened = self.desk.call("call", {"name": "host", "cmd": "activity.open_lobby", "args": {"activity_id": self.aid}})
        if "error" in opened:  # the stage takes publications in the lobby
            raise RuntimeError(f"activity.open_lobby: {opened['error']}")
        self.log(f"activity {self.aid} on nodes {[n.port for n in self.nodes]}; logs in {self.logdir}")

    def publish(self, name: str, who: str, picture: str, source: str = "camera") -> dict:
        """One more publication through node 0; returns once node 0 announces it (its media arrived)."""
        before = len(self.on_stage())
        c = self.child(publisher_main, PeerSpec(self.ws_url(0), self.token(who), self.aid, self.cfg.people_nice))
        try:
            c.call("publish", {"picture": picture, "source": source}, timeout=60)
        except RuntimeError as exc:
            self.drop(c)
            return {"error": str(exc).splitlines()[0][:300]}
        self.publishers[name] = c
        deadline = time.monotonic() + 15
        while len(self.on_stage()) <= before:
            if time.monotonic() > deadline:
                return {"error": "published, but node 0 did not announce it within 15 s"}
            time.sleep(0.2)
        return {"ok": True}

    def on_stage(self) -> list:
        """Publications through node 0 (stage.state's on_stage)."""
        r = self.desk.call("call", {"name": "host", "cmd": "stage.state", "args": {"activity_id": self.aid}})
        return r.get("ok", {}).get("on_stage") or []

    def wait_program(self) -> dict:
        """program.watch from a teacher on node 1 until it says live, then the playlists until they
        list parts on both nodes."""
        deadline = time.monotonic() + self.cfg.program_timeout
        last = None
        while time.monotonic() < deadline:
            last = self.desk.call("call", {"name": "teacher", "cmd": "program.watch", "args": {"activity_id": self.aid}})
            if "ok" in last and last["ok"].get("live") and last["ok"].get("url"):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"the program did not start in {self.cfg.program_timeout:g} s: program.watch said {last}")
        watch = last["ok"]
        watch["live_after_s"] = round(time.monotonic() + self.cfg.program_timeout - deadline, 1)
        while time.monotonic() < deadline:
            ok = True
            for i in sorted({0, self.cfg.hls_node}):
                status, body = http_get(self.url(i) + watch["url"])
                variants = parse_variants(body.decode(errors="replace")) if status == 200 else []
                if not variants:
                    ok = False
                    break
                base = (self.url(i) + watch["url"]).rsplit("/", 1)[0] + "/"
                status, body = http_get(base + variants[-1]["uri"])
                if status != 200 or len(parse_media(body.decode(errors="replace")).parts) < 4:
                    ok = False
                    break
            if ok:
                watch["variants"] = variants
                return watch
            time.sleep(0.5)
        raise RuntimeError(f"the program's playlists had no parts after {self.cfg.program_timeout:g} s ({watch})")

    def rung_names(self) -> list[str]:
        return [v["uri"].split("/", 1)[0] for v in self.watch.get("variants", [])]

    # -- measuring -------------------------------------------------------------------------------
    def window(self, seconds: float, extra_pids: dict[str, int] | None = None) -> dict:
        """CPU of the nodes (and their threads), Redis, the given processes and the machine over `seconds`."""
        pids = {f"node{i}": n.proc.pid for i, n in enumerate(self.nodes)} | (extra_pids or {})
        procs = {k: psutil.Process(p) for k, p in pids.items()}

        def cpu():
            out = {}
            for k, p in procs.items():
                try:
                    t = p.cpu_times()
                    out[k] = t.user + t.system
                except psutil.NoSuchProcess:
                    out[k] = float("nan")
            return out

        threads0 = {t.id: t.user_time + t.system_time for t in procs["node0"].threads()}
        redis0 = servers.redis_cpu(self.cfg.redis_url)
        c0, machine, t0, w0 = cpu(), MachineCpu(), time.monotonic(), time.time()
        load0 = round(psutil.getloadavg()[0], 2)
        time.sleep(seconds)
        c1, busy, wall = cpu(), machine.busy(), time.monotonic() - t0
        threads1 = {t.id: t.user_time + t.system_time for t in procs["node0"].threads()}
        redis1 = servers.redis_cpu(self.cfg.redis_url)
        cores = {k: round((c1[k] - c0[k]) / wall, 3) for k in c0}
        new = {tid: c - threads0.get(tid, 0.0) for tid, c in threads1.items()}
        busiest = sorted(new.items(), key=lambda kv: -kv[1])[:4]
        measured = sum(cores.values()) + (redis1 - redis0) / wall
        return {"wall": round(wall, 2), "cores": cores, "redis_cores": round((redis1 - redis0) / wall, 3),
                "node0_threads": [[tid, round(c / wall, 3), tid in threads0] for tid, c in busiest],
                "node0_main_thread_cores": round(new.get(procs["node0"].pid, 0.0) / wall, 3),
                "machine_busy_pct": round(100 * busy, 1), "load_before": load0,
                "node_events": self.node_events(w0, w0 + wall),
                "other_cores": round(max(0.0, busy * psutil.cpu_count() - measured), 2)}

    def node_events(self, t0: float, t1: float) -> dict:
        """What the nodes logged between t0 and t1 (wall clock): the program falling behind its clock
        (times, frames skipped), starting and stopping, and errors by their last line."""
        out: dict = {}
        for i, n in enumerate(self.nodes):
            behind = skipped = started = stopped = 0
            errors: dict[str, int] = {}
            try:
                lines = n.log_path.read_text(errors="replace").splitlines()
            except OSError:
                lines = []
            for line in lines:
                try:
                    r = json.loads(line)
                    t = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
                except (ValueError, KeyError):
                    continue
                if not t0 <= t <= t1:
                    continue
                msg = r.get("msg", "")
                if msg.startswith("the program fell behind"):
                    behind += 1
                    skipped += int(r.get("frames") or 0)
                elif msg == "making the program":
                    started += 1
                elif msg == "stopped making the program":
                    stopped += 1
                elif r.get("level") in ("error", "critical"):
                    last = (r.get("exc") or msg).strip().splitlines()[-1][:160]
                    errors[last] = errors.get(last, 0) + 1
            out[f"node{i}"] = {"behind": behind, "frames_skipped": skipped, "program_started": started,
                               "program_stopped": stopped, "errors": errors}
        return out

    # -- 1. program CPU ------------------------------------------------------------------------------
    def step_cpu(self, out: dict) -> None:
        cfg = self.cfg
        out["lineup"] = {}
        out["lineup"]["presenter camera (stamped card)"] = self.publish("presenter", "presenter", "card")
        for e in ("e1", "e2", "e3"):
            out["lineup"][f"{e} camera"] = self.publish(e, e, "camera")
        if screen_sharing():
            out["lineup"]["presenter screen (slides, source: screen)"] = self.publish("screen", "presenter", "slides",
                                                                                      source="screen")
        else:  # a second publication under the presenter's id would replace the card: the host shows the slides
            out["lineup"]["host camera showing slides (this server has no screen sharing)"] = self.publish(
                "screen", "org", "slides")
        self.viewer = self.child(viewer_main, PeerSpec(self.ws_url(0), self.token("t1"), self.aid))
        self.viewer.call("watch", {"publisher_id": self.users["presenter"]}, timeout=60)
        deadline = time.monotonic() + 20
        while self.viewer.call("progress")["frames"] < 30 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        out["on_stage"] = len(self.on_stage())
        pub_pids = {f"publisher {k}": c.pid for k, c in self.publishers.items()} | {"webrtc viewer": self.viewer.pid}

        self.log(f"program CPU: {out['on_stage']} on stage, lobby (no program), {cfg.cpu_seconds:g} s")
        self.viewer.call("mark", False)
        out["without"] = self.window(cfg.cpu_seconds, pub_pids)
        out["without"]["webrtc_viewer"] = self.viewer.call("report")

        self.start_activity()
        t0 = time.monotonic()
        self.watch = self.wait_program()
        out["program_start_s"] = round(time.monotonic() - t0, 1)
        out["program_live_s"] = self.watch.get("live_after_s")
        out["rungs"] = self.watch.get("variants")
        time.sleep(5)  # the encoders settle; node 1's copy fills
        self.log(f"program CPU: live, program made on node 0 ({out['program_start_s']} s to start), {cfg.cpu_seconds:g} s")
        prober = self.child(prober_main, ProberSpec(self.secret, 900_000))
        prober.call("start", {"targets": [{"label": f"node 0 {r}", "host": HOST, "port": self.nodes[0].port,
                                           "activity_id": self.aid, "rung": r} for r in self.rung_names()],
                              "seconds": cfg.cpu_seconds, "poll_every": 0.1})
        self.viewer.call("mark", False)
        out["with"] = self.window(cfg.cpu_seconds, pub_pids)
        out["with"]["webrtc_viewer"] = self.viewer.call("report")
        prober.call("wait", timeout=cfg.cpu_seconds + 30)
        out["part_timing"] = part_timing(prober.call("report"))
        self.drop(prober)
        out["publisher_fps"] = {k: c.call("stats")["frames"] for k, c in self.publishers.items()}
        for k in [k for k in self.publishers if k != "presenter"]:
            self.drop(self.publishers.pop(k))

    # -- 2. latency ------------------------------------------------------------------------------
    def ensure_program(self) -> None:
        """The presenter's card on stage, the WebRTC viewer on it, the activity live and its program
        made (when step 1 did not run), or `program_error` saying why not."""
        if self.viewer is None:
            self.publish("presenter", "presenter", "card")
            self.viewer = self.child(viewer_main, PeerSpec(self.ws_url(0), self.token("t1"), self.aid))
            self.viewer.call("watch", {"publisher_id": self.users["presenter"]}, timeout=60)
        if self.watch is None and self.program_error is None:
            try:
                self.start_activity()
                self.watch = self.wait_program()
            except RuntimeError as exc:
                self.program_error = str(exc)

    def step_latency(self, out: dict) -> None:
        cfg = self.cfg
        self.ensure_program()
        if self.watch is None:  # no program: the WebRTC viewer alone
            out["hls_error"] = self.program_error
            self.log(f"latency: no program ({self.program_error[:200]}); the WebRTC viewer alone, {cfg.latency_seconds:g} s")
            self.viewer.call("mark", True)
            time.sleep(cfg.latency_seconds)
            out["webrtc"] = webrtc_summary(self.viewer.call("report"))
            return
        time.sleep(3)  # the program's layout follows the stage: the card alone
        browser = self.child(browser_main, BrowserSpec())
        h = cfg.hls_node
        out["hls_node"] = h
        out["browser"] = browser.call("open", self.url(h), timeout=60)
        heights = self.heights()
        for rung, height in heights.items():
            browser.call("start", {"name": rung, "url": self.watch["url"], "height": height, "options": self.hls_options()})
        warm = time.monotonic() + 30
        while time.monotonic() < warm:
            time.sleep(2)
            got = browser.call("take")["players"]
            if all(p["samples"] for p in got.values()):
                break
        time.sleep(5)  # hls.js settles on its target latency
        browser.call("take")
        targets = [{"label": f"node 0 {r}", "host": HOST, "port": self.nodes[0].port, "activity_id": self.aid, "rung": r}
                   for r in heights] + [{"label": f"node {h} {r}", "host": HOST, "port": self.nodes[h].port,
                                         "activity_id": self.aid, "rung": r} for r in list(heights)[-1:] if h]
        prober = self.child(prober_main, ProberSpec(self.secret, 900_001))
        prober.call("start", {"targets": targets, "seconds": cfg.latency_seconds, "poll_every": 0.05})
        self.log(f"latency: hls.js ({', '.join(heights)}) from node {h} and a WebRTC viewer on node 0, "
                 f"{cfg.latency_seconds:g} s")
        self.viewer.call("mark", True)
        b0, t0, w0 = browser.call("cpu"), time.monotonic(), time.time()
        players: dict[str, dict] = {}
        while time.monotonic() - t0 < cfg.latency_seconds:
            time.sleep(min(5.0, max(0.1, cfg.latency_seconds - (time.monotonic() - t0))))
            got = browser.call("take")
            out["console"] = got["console"]
            gather(players, got["players"])
        wall = time.monotonic() - t0
        out["window_s"] = round(wall, 1)
        out["node_events"] = self.node_events(w0, w0 + wall)
        out["browser_cpu_pct"] = round(100 * (browser.call("cpu") - b0) / wall, 1)
        out["webrtc"] = webrtc_summary(self.viewer.call("report"))
        out["hls"] = {name: summarize_player(p, wall) for name, p in players.items()}
        prober.call("wait", timeout=cfg.latency_seconds + 30)
        out["part_timing"] = part_timing(prober.call("report"))
        self.drop(prober)
        browser.call("stop")
        self.drop(browser)

    def hls_options(self) -> dict:
        return {"maxLiveSyncPlaybackRate": self.cfg.hls_sync_rate}

    def heights(self) -> dict[str, int]:
        """Rung name -> picture height, from the multivariant playlist."""
        return {v["uri"].split("/", 1)[0]: int(v["resolution"].split("x")[1]) if "x" in v.get("resolution", "") else 0
                for v in self.watch["variants"]}

    def start_activity(self) -> None:
        r = self.desk.call("call", {"name": "host", "cmd": "activity.start", "args": {"activity_id": self.aid}})
        if "error" in r:
            raise RuntimeError(f"activity.start: {r['error']}")

    # -- 3. origin CPU per HLS viewer --------------------------------------------------------------
    def workers(self) -> list[Child]:
        return [self.child(worker_main, WorkerSpec(i, self.secret, 1_000_000 + i * 100_000, self.cfg.hls_mode,
                                                   nice=self.cfg.people_nice))
                for i in range(self.cfg.client_procs)]

    def ramp(self, workers: list[Child], targets: list[dict], total: int, have: int, seconds: float) -> dict:
        """Viewers up to `total` (spread over the workers), until all fetch parts or 30 s pass."""
        add = total - have
        per = [add // len(workers) + (1 if i < add % len(workers) else 0) for i in range(len(workers))]
        ramp = min(5.0, max(1.0, add / 200))
        call_all(workers, "start", [{"targets": targets, "n": k, "ramp": ramp, "seconds": seconds} for k in per])
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30 + ramp:
            prog = call_all(workers, "progress")
            if sum(p["fetching"] for p in prog) >= total:
                break
            time.sleep(0.5)
        return {"fetching": sum(p["fetching"] for p in prog), "ramp_s": round(time.monotonic() - t0, 1)}

    def step_origin(self, out: dict) -> None:
        cfg = self.cfg
        self.ensure_program()
        if self.watch is None:
            raise RuntimeError(f"no program: {self.program_error}")
        rung = cfg.origin_rung if cfg.origin_rung in self.rung_names() else self.rung_names()[-1]
        h = cfg.hls_node
        target = [{"host": HOST, "port": self.nodes[h].port, "activity_id": self.aid, "rung": rung}]
        workers = self.workers()
        out.update({"rung": rung, "node": h, "points": []})
        wpids = {f"client{i}": w.pid for i, w in enumerate(workers)}
        self.log(f"origin CPU: node {h}, no HLS viewer, {cfg.origin_seconds:g} s")
        base = self.window(cfg.origin_seconds, wpids)
        out["baseline"] = base
        have = 0
        lifetime = sum(cfg.origin_seconds + 45 for _ in cfg.origin_ns) + 60
        try:
            for n in cfg.origin_ns:
                setup = self.ramp(workers, target, n, have, lifetime)
                have = n
                time.sleep(2)
                call_all(workers, "mark")
                self.log(f"origin CPU: node {h}, {n} HLS viewers at {rung} ({setup['fetching']} fetching), {cfg.origin_seconds:g} s")
                w = self.window(cfg.origin_seconds, wpids)
                reps = call_all(workers, "report")
                out["points"].append(origin_point(n, f"node{h}", w, base, reps, setup))
            if cfg.py_spy and out["points"]:
                out["profile"] = self.spy(self.nodes[h], f"origin-node{h}-n{cfg.origin_ns[-1]}", cfg.origin_seconds,
                                          out["points"][-1]["us_per_request"])
        finally:
            call_all(workers, "stop")
            for c in workers:
                self.drop(c)

    def spy(self, node, name: str, seconds: float, us_per_request: float | None) -> dict:
        """py-spy on a node for `seconds` (after a window, never during one: it costs the node time);
        the shares of its busy samples, and those shares of the µs per request measured before."""
        import subprocess
        import sys

        from benchmarks.audience.profile import summarize

        Path(self.cfg.py_spy).mkdir(parents=True, exist_ok=True)
        path = Path(self.cfg.py_spy) / f"{name}.txt"
        exe = Path(sys.executable).parent / "py-spy"
        cmd = [str(exe), "record", "-p", str(node.proc.pid), "-o", str(path), "-f", "raw", "--threads",
               "--nonblocking", "-d", str(math.ceil(seconds)), "-r", "100"]
        self.log(f"py-spy on {node.name} for {math.ceil(seconds)} s -> {path}")
        p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=seconds + 60)
        if p.returncode != 0 or not path.exists():
            return {"file": str(path), "error": (p.stderr or p.stdout)[-500:]}
        got = summarize(path.read_text())
        if us_per_request:
            got["us_per_request"] = [[k, round(share * us_per_request, 1)] for k, share in got["ops"]]
        return {"file": str(path), **got}

    # -- 4. nginx in front ------------------------------------------------------------------------
    def step_cdn(self, out: dict) -> None:
        cfg = self.cfg
        self.ensure_program()
        if self.watch is None:
            raise RuntimeError(f"no program: {self.program_error}")
        rung = cfg.cdn_rung if cfg.cdn_rung in self.rung_names() else self.rung_names()[-1]
        origins = [f"{HOST}:{n.port}" for n in self.nodes]
        for i in range(cfg.nginx):
            self.nginx.append(nginx_mod.Nginx(f"nginx{i}", self.logdir / f"nginx{i}", servers.free_port(), origins))
        targets = [{"host": HOST, "port": g.port, "activity_id": self.aid, "rung": rung} for g in self.nginx]
        workers = self.workers()
        out.update({"rung": rung, "instances": cfg.nginx, "viewers": cfg.cdn_viewers})
        browser = self.child(browser_main, BrowserSpec())
        try:
            browser.call("open", f"http://{HOST}:{self.nginx[0].port}", timeout=60)
            browser.call("start", {"name": rung, "url": self.watch["url"], "height": self.heights().get(rung, 360),
                                   "options": self.hls_options()})
            out["setup"] = self.ramp(workers, targets, cfg.cdn_viewers, 0, cfg.cdn_seconds + 90)
            time.sleep(3)
            browser.call("take")
            call_all(workers, "mark")
            since = {g.name: g.log_size() for g in self.nginx}
            pids = {f"client{i}": w.pid for i, w in enumerate(workers)} | {
                f"nginx{i} (master + worker)": g.proc.pid for i, g in enumerate(self.nginx)}
            self.log(f"nginx: {cfg.nginx} instances, {cfg.cdn_viewers} viewers at {rung}, {cfg.cdn_seconds:g} s")
            n0 = [g.cpu() for g in self.nginx]
            t0 = time.time()
            w = self.window(cfg.cdn_seconds, pids)
            t1 = time.time()
            w["nginx_cores"] = [round((g.cpu() - c) / w["wall"], 3) for g, c in zip(self.nginx, n0)]
            reps = call_all(workers, "report")
            time.sleep(1)  # the last requests of the window reach the logs
            logs = {g.name: g.lines(since[g.name]) for g in self.nginx}
            player: dict = {}
            gather(player, browser.call("take")["players"])
            player = player.get(rung, {})
            out["window"] = w
            out["clients"] = client_summary(reps, w["wall"], cfg.cdn_viewers)
            out["origin"] = nginx_mod.origin_requests(logs, t0 + 2, t1 - 3)  # whole parts' requests inside the window
            out["hls_via_nginx"] = summarize_player({**player, "samples": player.get("samples", [])}, w["wall"])
        finally:
            call_all(workers, "stop")
            for c in workers:
                self.drop(c)
            self.drop(browser)

    # -- 5. the relay ----------------------------------------------------------------------------
    def step_relay(self) -> dict:
        from benchmarks.stage.run import Config as StageConfig
        from benchmarks.stage.run import run_system

        cfg = self.cfg
        sc = StageConfig(ns=[cfg.relay_n], systems=["collab"], seconds=cfg.relay_seconds, per_proc=10, settle=2.0,
                         micro=0)
        self.log(f"relay: benchmarks/stage's collab relay, N = {cfg.relay_n}, {cfg.relay_seconds:g} s")
        r = run_system("collab", sc, self.log)
        p = r["points"][-1] if r["points"] else {}
        return {"n": p.get("n"), "viewers_per_core": p.get("viewers_per_core"), "relay_cores": p.get("relay_cores"),
                "full_rate": p.get("full_rate"), "latency_ms": p.get("latency_ms"), "fps_median": p.get("fps_median"),
                "machine_busy_pct": p.get("machine_busy_pct"), "error": r.get("error")}

    # -- the whole -------------------------------------------------------------------------------
    def go(self) -> dict:
        cfg = self.cfg
        server_steps = [s for s in cfg.steps if s != "relay"]
        try:
            if server_steps:
                try:
                    self.setup()
                except Exception as exc:  # noqa: BLE001 - reported: the relay step still runs
                    self.res["setup_error"] = f"{type(exc).__name__}: {exc}"[:3000]
                    self.log(self.res["setup_error"])
                    server_steps = []
            for step in server_steps:
                out = self.res["steps"][step] = {}
                try:
                    getattr(self, f"step_{step}")(out)
                except Exception as exc:  # noqa: BLE001 - reported with what the step measured so far
                    out.update({"error": f"{type(exc).__name__}: {exc}"[:3000], "trace": traceback.format_exc()[-3000:]})
                    self.log(f"{step}: {out['error']}")
                    if step == "cpu" and self.watch is None:
                        self.program_error = out["error"]
        finally:
            self.teardown()
        if "relay" in cfg.steps:
            try:
                self.res["steps"]["relay"] = self.step_relay()
            except Exception as exc:  # noqa: BLE001
                self.res["steps"]["relay"] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        return self.res

    def teardown(self) -> None:
        for c in reversed(self.children):
            try:
                c.close()
            except Exception:  # noqa: BLE001, S110 - stopping as much as we can
                pass
        self.children.clear()
        for g in self.nginx:
            g.stop()
        for n in self.nodes:
            n.stop()
        self.res["node_log_tail"] = {n.name: n.log_path.read_text(errors="replace")[-1500:] for n in self.nodes
                                     if n.log_path.exists()}
        if self.database_url:
            try:
                servers.run(servers.drop_database(self.cfg.pg_url, self.database_url))
                servers.flush_redis(self.cfg.redis_url)  # the program's parts and leases, the rooms' history
            except Exception:  # noqa: BLE001, S110
                pass


# -- summaries ------------------------------------------------------------------------------------

def summarize_player(p: dict, wall: float) -> dict:
    samples = p.get("samples") or []
    ages = [s[1] for s in samples]
    hls_lat = [s[3] for s in samples if s[3] is not None]
    return {"ages_ms": dist(ages), "unread": p.get("unread", 0), "read": len(ages),
            "frames_per_s": round(p.get("frames", 0) / wall, 1) if wall else None,
            "hls_js_latency_s": round(statistics.median(hls_lat), 2) if hls_lat else None,
            "target_latency_s": round(statistics.median([s[4] for s in samples if s[4] is not None]), 2)
            if samples else None,
            "stalls": p.get("stalls"), "dropped": p.get("dropped"), "decoded": p.get("decoded"),
            "height": p.get("height"), "errors": (p.get("errors") or [])[:8]}


def gather(players: dict, got: dict) -> None:
    """Adds one take() of the page to what the players have shown so far."""
    for name, p in got.items():
        acc = players.setdefault(name, {"samples": [], "unread": 0, "frames": 0})
        acc["samples"] += p["samples"]
        acc["unread"] += p["unread"]
        acc["frames"] += p["frames"]
        acc.update({k: p[k] for k in ("errors", "stalls", "dropped", "decoded", "level", "height")})


def webrtc_summary(r: dict) -> dict:
    return {"ages_ms": dist(r["ages_ms"]), "unread": r["unread"], "fps": r["fps"], "fps_min_1s": r["fps_min_1s"],
            "size": r["size"], "node": 0}


def part_timing(report: dict) -> dict:
    """Per target: part durations against the part target; blocked answer - first seen; media end -> first seen."""
    out = {}
    for label, r in report.items():
        target = r.get("part_target") or 0.5
        parts = [p[1:] for p in r["parts"]]  # [msn, i, duration, independent, date, first seen]
        durations = [p[2] for p in parts]
        # the newest part of the window may be listed before the segment closes it: all listed parts count
        within = sum(1 for d in durations if 0.85 * target - 1e-6 <= d <= target + 1e-6)
        first = {(p[0], p[1], p[2]): p[6] for p in r["parts"]}
        blocked = [b - first[(e, m, i)] for e, m, i, a, b in r["answered"] if (e, m, i) in first]
        waited = [b - a for e, m, i, a, b in r["answered"]]
        media_end = [p[5] - (p[4] + p[2]) for p in parts if p[4] is not None]
        independent = sum(1 for p in parts if p[3])
        segs = r["segments"]
        out[label] = {
            "part_target_s": target, "parts": len(parts), "share_within_85_100": round(within / len(parts), 3) if parts else None,
            "duration_s": {"min": round(min(durations), 3), "p50": round(pct(durations, 50), 3),
                           "max": round(max(durations), 3)} if durations else None,
            "independent_parts": independent,
            "segments": {"n": len(segs), "min": round(min(segs), 3), "max": round(max(segs), 3)} if segs else None,
            "blocked_answer_minus_first_seen_ms": dist(blocked, 1000),
            "blocking_wait_ms": dist(waited, 1000),
            "media_end_to_first_seen_ms": dist(media_end, 1000),
            "errors": r["errors"], "epochs": r["epochs"],
        }
    return out


def client_summary(reps: list[dict], wall: float, n: int) -> dict:
    req: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for r in reps:
        for k, v in r["requests"].items():
            req[k] = req.get(k, 0) + v
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    parts = sum(r["parts"] for r in reps)
    blocking = [x for r in reps for x in r["blocking_s"]]
    return {"viewers": sum(r["viewers"] for r in reps), "running": sum(r["running"] for r in reps),
            "requests_per_s": round(sum(req.values()) / wall, 1), "requests": req, "statuses": statuses,
            "parts_per_viewer_s": round(parts / wall / n, 2) if n else None,
            "mbit_per_s": round(8 * sum(r["bytes"] for r in reps) / wall / 1e6, 1),
            "blocking_wait_ms": dist(blocking, 1000),
            "client_cpu_pct": [round(100 * r["cpu"] / r["wall"], 1) for r in reps],
            "reconnects": sum(r["reconnects"] for r in reps)}


def origin_point(n: int, key: str, w: dict, base: dict, reps: list[dict], setup: dict) -> dict:
    node = w["cores"][key]
    base_node = base["cores"][key]
    c = client_summary(reps, w["wall"], n)
    marginal = max(0.0, node - base_node)
    return {"n": n, "setup": setup, "node_cores": node, "baseline_cores": base_node,
            "us_per_viewer_s": round(1e6 * node / n, 1),
            "marginal_us_per_viewer_s": round(1e6 * marginal / n, 1),
            "viewers_per_core": round(n / node, 0) if node else None,
            "marginal_viewers_per_core": round(n / marginal, 0) if marginal else None,
            "us_per_request": round(1e6 * marginal / (c["requests_per_s"] or math.inf), 1),
            "clients": c, "window": w}


def run(cfg: Config, log=print) -> dict:
    if not Path(nginx_mod.NGINX).exists() and "cdn" in cfg.steps:
        log(f"{nginx_mod.NGINX} is missing: the nginx step is skipped")
        cfg.steps = [s for s in cfg.steps if s != "cdn"]
    if shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists():
        log("chromium is missing: the latency step needs it")
    return Run(cfg, log).go()
