"""The video side of the national activity (`--video`): the presenter on stage, the program made while
the activity is live, nginx in front of both nodes, and a sample of the teachers watching through it.

    lobby: the presenter publishes through node 0 (aiortc, benchmarks/audience/peers.py); every teacher
    asks program.watch on joining (teachers.py) -> join storm
    -> activity.start: the media node (or node 0, with --program-on-node0) makes the program from node 0's
       publication
    -> the program's first parts reach nginx: the prober (benchmarks/audience/timing.py) watches the
       producing node's playlists (when each part became available), `--viewers` LL-HLS viewer loops
       (watchers.py) play through nginx (in front of the teachers' nodes) until the end
    -> per window: the producing node's program threads, the processes standing for people (publisher,
       viewers, nginx, prober) and the media node, the nodes' HLS requests
       (`collab_program_requests_total` on /metrics)
    -> at the end: each part's arrival at each viewer against its availability at the origin, stalls,
       nginx's access log (requests that reached an origin, per part), the nodes' logs (the program
       behind its clock, started, stopped).

Helper processes are forked by `fork()` before the orchestrator's event loop exists; `stop()` closes
every one of them and nginx, whatever happened before.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil

from benchmarks.audience import nginx as nginx_mod
from benchmarks.audience.llhls import parse_media
from benchmarks.audience.peers import PeerSpec, publisher_main
from benchmarks.audience.run import http_get
from benchmarks.audience.timing import ProberSpec, prober_main
from benchmarks.audience.viewers import WorkerSpec
from benchmarks.fanout import servers
from benchmarks.national.watchers import worker_main
from benchmarks.stage.procs import Child, call_all

HOST = "127.0.0.1"
BEHIND = 3  # parts: a viewer further behind the origin's newest part than this is stalled (hls.js's
# PART-HOLD-BACK is 3 part targets: past it a player at the live edge has run out of picture)
PART_SECONDS = 0.5  # the program's part target (sessions/program/producer.py)
VIEWER_BASE = 5_000_000  # user ids of the viewers' program keys (no such users: a key names any id)
PROBER_ID = 4_900_000


@dataclass
class VideoConfig:
    viewers: int  # simulated LL-HLS viewers through nginx
    rungs: list[str]  # the rungs they play, spread evenly
    procs: int  # their worker processes
    people_nice: int  # nice increment of the publisher and the viewers (people's own computers)
    picture: str  # the presenter's camera: "camera" (a moving gradient) or "card"
    program_timeout: float


class Video:
    def __init__(self, vc: VideoConfig, secret: str, aid: int, presenter_token: str, nodes, logdir: Path,
                 media=None) -> None:
        self.vc, self.secret, self.aid, self.nodes = vc, secret, aid, nodes
        self.media = media  # the media node, if the program is made on one
        self.maker = media or nodes[0]  # the node that makes the program
        self.presenter_token = presenter_token
        self.logdir = logdir
        self.children: list[Child] = []
        self.nginx: nginx_mod.Nginx | None = None
        self.publisher: Child | None = None
        self.prober: Child | None = None
        self.workers: list[Child] = []
        self.threads_before: set[int] = set()  # the producing node's threads before the activity started
        self.watch_t0 = self.watch_t1 = 0.0  # the viewers' watching period (wall clock)
        self.res: dict = {}
        self._win: dict = {}

    # -- processes ---------------------------------------------------------------------------------
    def fork(self) -> None:
        """Every helper process, forked now: the orchestrator has no event loop or thread yet."""
        ws0 = f"ws://{HOST}:{self.nodes[0].port}/ws"
        self.publisher = self._child(publisher_main, PeerSpec(ws0, self.presenter_token, self.aid, self.vc.people_nice))
        self.prober = self._child(prober_main, ProberSpec(self.secret, PROBER_ID))
        self.workers = [self._child(worker_main, WorkerSpec(i, self.secret, VIEWER_BASE + i * 100_000,
                                                            sample_every=1, nice=self.vc.people_nice))
                        for i in range(self.vc.procs)]
        origins = [f"{HOST}:{n.port}" for n in self.nodes]
        self.nginx = nginx_mod.Nginx("nginx", self.logdir / "nginx", servers.free_port(), origins)

    def _child(self, target, spec) -> Child:
        c = Child(target, spec)
        self.children.append(c)
        return c

    def stop(self) -> None:
        for c in reversed(self.children):
            try:
                c.close()
            except Exception:  # noqa: BLE001, S110 - stopping as much as we can
                pass
        self.children.clear()
        if self.nginx is not None:
            self.nginx.stop()

    def own_pids(self) -> list[int]:
        return [pid for pids in self.people_pids().values() for pid in pids] if self.nginx else []

    def people_pids(self) -> dict[str, list[int]]:
        return {"publisher": [self.publisher.pid], "viewers": [w.pid for w in self.workers],
                "prober": [self.prober.pid] if self.prober else [],
                "nginx": [self.nginx.proc.pid] + [p.pid for p in self.nginx.workers()],
                "media": [self.media.proc.pid] if self.media else []}

    # -- the stage ---------------------------------------------------------------------------------
    async def publish(self, host) -> dict:
        """The presenter goes on stage through node 0 (the lobby is open); returns once node 0 says so."""
        t0 = time.monotonic()
        await asyncio.to_thread(self.publisher.call, "publish", {"picture": self.vc.picture}, 60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = await host.call("stage.state", {"activity_id": self.aid})
            if state.get("on_stage"):
                self.res["publish_s"] = round(time.monotonic() - t0, 2)
                return self.res
            await asyncio.sleep(0.2)
        raise RuntimeError("the presenter published, but node 0 did not announce it within 20 s")

    def before_start(self) -> None:
        self.threads_before = {t.id for t in psutil.Process(self.maker.proc.pid).threads()}

    # -- watching ----------------------------------------------------------------------------------
    def _nginx_base(self) -> str:
        from collab.auth import signed

        key = signed.program_key(self.secret, self.aid, PROBER_ID + 1)
        return f"http://{HOST}:{self.nginx.port}/live/{self.aid}/k/{key}/"

    def _listed(self) -> bool:
        status, body = http_get(self._nginx_base() + f"{self.vc.rungs[0]}/index.m3u8", 5.0)
        return status == 200 and bool(parse_media(body.decode(errors="replace")).parts)

    async def watch(self, started: float) -> dict:
        """Once the program's parts are listed through nginx: the prober on node 0, then the viewers
        (ramped), until they all fetch parts. `started`: wall time of the activity.start reply."""
        deadline = time.monotonic() + self.vc.program_timeout
        while not await asyncio.to_thread(self._listed):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no program parts through nginx {self.vc.program_timeout:g} s after the start")
            await asyncio.sleep(0.25)
        self.res["parts_listed_after_start_s"] = round(time.time() - started, 2)
        await asyncio.to_thread(self.prober.call, "start", {
            "targets": [{"label": r, "host": HOST, "port": self.maker.port, "activity_id": self.aid, "rung": r}
                        for r in self.vc.rungs], "seconds": 3600, "poll_every": 0.1})
        targets = [{"host": HOST, "port": self.nginx.port, "activity_id": self.aid, "rung": r} for r in self.vc.rungs]
        n, k = self.vc.viewers, len(self.workers)
        per = [n // k + (1 if i < n % k else 0) for i in range(k)]
        ramp = min(5.0, max(1.0, n / 100))
        self.watch_t0 = time.time()
        await asyncio.to_thread(call_all, self.workers, "start",
                                [{"targets": targets, "n": m, "ramp": ramp, "seconds": 3600} for m in per])
        t0 = time.monotonic()
        fetching = 0
        while time.monotonic() - t0 < 30 + ramp:
            prog = await asyncio.to_thread(call_all, self.workers, "progress")
            fetching = sum(p["fetching"] for p in prog)
            if fetching >= n:
                break
            await asyncio.sleep(0.5)
        self.res["viewers_fetching"] = fetching
        self.res["viewers_ramp_s"] = round(time.monotonic() - t0, 1)
        return self.res

    # -- windows -----------------------------------------------------------------------------------
    def window_start(self) -> None:
        self._win = {"t0": time.time(), "threads": self._node0_threads(), "people": self._people_cpu(),
                     "metrics": [scrape(n.internal_port) for n in self.nodes]}

    def window_stop(self) -> dict:
        w, t1 = self._win, time.time()
        wall = t1 - w["t0"]
        threads = self._node0_threads()
        main = self.maker.proc.pid
        program = sum(c - w["threads"].get(tid, 0.0) for tid, c in threads.items()
                      if tid not in self.threads_before and self.threads_before)
        metrics = [scrape(n.internal_port) for n in self.nodes]
        people = self._people_cpu()
        return {"t0": w["t0"], "t1": t1, "wall": round(wall, 2),
                "node0_program_threads_cores": round(program / wall, 3),
                "node0_main_thread_cores": round((threads.get(main, 0.0) - w["threads"].get(main, 0.0)) / wall, 3),
                "people_cores": {k: round((people[k] - w["people"].get(k, 0.0)) / wall, 3) for k in people},
                "hls_requests_per_s": [round(sum(m1.get(k, 0) - m0.get(k, 0) for k in m1 if k.startswith("requests"))
                                             / wall, 1) for m0, m1 in zip(w["metrics"], metrics)],
                "bus_fetches": [m1.get("fetches", 0) - m0.get("fetches", 0) for m0, m1 in zip(w["metrics"], metrics)]}

    def _node0_threads(self) -> dict[int, float]:
        try:
            return {t.id: t.user_time + t.system_time for t in psutil.Process(self.maker.proc.pid).threads()}
        except psutil.NoSuchProcess:
            return {}

    def _people_cpu(self) -> dict[str, float]:
        out = {}
        for name, pids in self.people_pids().items():
            total = 0.0
            for pid in pids:
                try:
                    t = psutil.Process(pid).cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            out[name] = total
        return out

    # -- the end -----------------------------------------------------------------------------------
    async def finish(self, teachers: list[dict], windows: dict[str, tuple[float, float]]) -> dict:
        """Before activity.end: the viewers' and the prober's records, then the viewers stop. Everything
        summed up for the table: `teachers` are the workers' `watching` answers, `windows` the
        scenario's windows (name -> wall t0, t1)."""
        self.watch_t1 = time.time()
        arrivals = [a for got in await asyncio.to_thread(call_all, self.workers, "arrivals") for a in got]
        reports = await asyncio.to_thread(call_all, self.workers, "report")
        probed = await asyncio.to_thread(self.prober.call, "report")
        await asyncio.to_thread(call_all, self.workers, "stop")
        await asyncio.to_thread(self.prober.call, "close")
        self.children.remove(self.prober)
        self.prober = None
        avail = availability(probed)
        periods = {"whole": (self.watch_t0, self.watch_t1), **windows}
        res = self.res
        res["viewers"] = {"n": self.vc.viewers, "rungs": self.vc.rungs, "nginx": 1,
                          "running_at_end": sum(r["running"] for r in reports),
                          "statuses": _merge(r["statuses"] for r in reports),
                          "new_runs_seen": sum(r["new_epochs"] for r in reports)}
        res["parts"] = {name: part_latency(arrivals, avail, t0, t1) for name, (t0, t1) in periods.items()}
        res["stalls"] = {name: stalls(arrivals, avail, t0, t1) for name, (t0, t1) in periods.items()}
        res["origin_gaps"] = {name: origin_gaps(avail, t0, t1) for name, (t0, t1) in periods.items()}
        res["origin_parts"] = {r: len([k for k in avail if k[0] == r]) for r in self.vc.rungs}
        res["prober_errors"] = {label: x["errors"] for label, x in probed.items()}
        lines = self.nginx.lines()
        res["nginx"] = nginx_mod.origin_requests({"nginx": lines}, self.watch_t0 + 5, self.watch_t1 - 3)
        res["nginx"]["seconds"] = round(self.watch_t1 - 3 - self.watch_t0 - 5, 1)
        res["nginx_times_ms"] = nginx_times(lines, self.watch_t0 + 5, self.watch_t1 - 3)
        res["split"] = {name: split(arrivals, avail, t0, t1) for name, (t0, t1) in periods.items()}
        makers = self.nodes + ([self.media] if self.media else [])
        res["node_events"] = {name: node_events(makers, t0, t1) for name, (t0, t1) in periods.items()}
        res["media_node"] = bool(self.media)
        res["teachers"] = watching(teachers)
        return res


# -- what the records say ----------------------------------------------------------------------------

def scrape(port: int) -> dict[str, float]:
    """The node's program counters from /metrics (its internal port): HLS requests by kind, parts
    fetched from the bus."""
    out: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("collab_program_requests_total{"):
            kind = line.split('kind="', 1)[1].split('"', 1)[0]
            out[f"requests {kind}"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("collab_program_fetches_total "):
            out["fetches"] = float(line.rsplit(" ", 1)[1])
    return out


def availability(probed: dict) -> dict[tuple, float]:
    """(rung, epoch, msn, part) -> when the part became available at the producing node: the earlier of
    the prober's first sight of it (polling every 100 ms) and the answer of its blocking reload."""
    out: dict[tuple, float] = {}
    for rung, r in probed.items():
        for e, m, i, _duration, _independent, _date, first_seen in r["parts"]:
            out[(rung, e, m, i)] = first_seen
        for e, m, i, _asked, answered in r["answered"]:
            k = (rung, e, m, i)
            out[k] = min(out.get(k, answered), answered)
    return out


def _pcts(xs: list[float], scale: float = 1000.0) -> dict:
    if not xs:
        return {"n": 0}
    s = sorted(xs)
    pick = lambda p: round(s[min(len(s) - 1, int(len(s) * p / 100))] * scale)
    return {"n": len(s), "p50": pick(50), "p95": pick(95), "p99": pick(99), "max": round(s[-1] * scale)}


def part_latency(arrivals: list[dict], avail: dict, t0: float, t1: float) -> dict:
    """Part available at the origin -> fetched by a viewer through nginx, ms, over the parts fetched in
    [t0, t1]; each viewer's first part of a run is left out (it was listed before the viewer came)."""
    lat, unknown, fetched, sample = [], 0, 0, []
    for a in arrivals:
        first: set[str] = set()
        for e, m, i, t in a["parts"]:
            if e not in first:
                first.add(e)
                continue
            if not t0 <= t <= t1:
                continue
            fetched += 1
            at = avail.get((a["rung"], e, m, i))
            if at is None:
                unknown += 1
                if len(sample) < 4:
                    sample.append([a["rung"], e, m, i, round(t, 2)])
            else:
                lat.append(t - at)
    viewers = max(1, len(arrivals))
    return {"ms": _pcts(lat), "fetched": fetched, "not_seen_by_prober": unknown, "not_seen_sample": sample,
            "parts_per_viewer_s": round(fetched / viewers / (t1 - t0), 2) if t1 > t0 else None}


def split(arrivals: list[dict], avail: dict, t0: float, t1: float) -> dict:
    """Where a part's time goes, ms: available at the origin -> the viewer's blocking reload for it
    answered (the origin held it, nginx's lock, the viewer's own scheduling), and that answer -> the part
    arrived (nginx, the lock again, the origin if missed). Parts of the viewers' first run of the program."""
    first: dict[tuple, float] = {}
    for (rung, e, m, i), t in avail.items():  # (rung, msn, part) -> availability: the reload names no run
        first[(rung, m, i)] = min(first.get((rung, m, i), t), t)
    reload, fetch = [], []
    for a in arrivals:
        got = {(m, i): t for e, m, i, t in a["parts"]}
        for m, i, answered in a.get("answers", []):
            at = first.get((a["rung"], m, i))
            if at is None or not t0 <= answered <= t1:
                continue
            reload.append(answered - at)
            if (m, i) in got:
                fetch.append(got[(m, i)] - answered)
    return {"reload_answered_ms": _pcts(reload), "then_part_ms": _pcts(fetch)}


def nginx_times(lines: list[str], t0: float, t1: float) -> dict:
    """nginx's $request_time of parts and blocking reloads by cache status (MISS went to an origin;
    HIT waited on the cache lock or found the object cached), s."""
    times: dict[str, list[float]] = {}
    for line in lines:
        r = nginx_mod.parse(line)
        if r is None or not t0 <= r["t"] <= t1 or r["status"] != 200:
            continue
        kind = nginx_mod.kind_of(r["key"])
        if kind in ("part", "blocking"):
            times.setdefault(f"{kind} {r['cache']}", []).append(r["request_time"])
    return {k: _pcts(v) for k, v in sorted(times.items())}


def stalls(arrivals: list[dict], avail: dict, t0: float, t1: float) -> dict:
    """Viewers more than BEHIND parts behind the origin: lacking a part the origin has had for more
    than BEHIND part targets (1.5 s). Per viewer, from its first part on, over the parts that became
    available in [t0, t1]: a stall runs from a part's availability + 1.5 s until the viewer fetched it
    (or t1, if it never did). Returns the viewers that stalled, the stalls (runs of consecutive late
    parts) and the viewer-seconds stalled (the union of those spans)."""
    order: dict[str, list[tuple[float, tuple]]] = {}
    for (rung, e, m, i), t in avail.items():
        order.setdefault(rung, []).append((t, (e, m, i)))
    for xs in order.values():
        xs.sort()
    limit = BEHIND * PART_SECONDS
    stalled, episodes, seconds, worst = 0, 0, 0.0, 0.0
    for a in arrivals:
        got = {(e, m, i): t for e, m, i, t in a["parts"]}
        if not got:
            continue
        first = min(got.values())
        spans, late_before = [], False
        for at, key in order.get(a["rung"], []):
            if at < first or not t0 <= at <= t1:
                continue
            done = got.get(key, t1)
            worst = max(worst, min(done, t1) - at)
            late = done - at > limit and at + limit < t1
            if late:
                spans.append((at + limit, min(done, t1)))
            episodes += late and not late_before
            late_before = late
        if spans:
            stalled += 1
            spans.sort()
            end = spans[0][0]
            for b, c in spans:
                seconds += max(0.0, c - max(b, end))
                end = max(end, c)
    return {"viewers_stalled": stalled, "viewers": len(arrivals), "stalls": episodes,
            "viewer_seconds": round(seconds, 1), "worst_part_s": round(worst, 2)}


def origin_gaps(avail: dict, t0: float, t1: float) -> dict:
    """Per rung, the times the origin went more than BEHIND part targets without a new part (every
    player at the live edge runs dry then), and the longest wait, within [t0, t1]."""
    out = {}
    for rung in sorted({k[0] for k in avail}):
        ts = sorted(t for k, t in avail.items() if k[0] == rung and t0 <= t <= t1)
        waits = [b - a for a, b in zip(ts, ts[1:])]
        out[rung] = {"parts": len(ts), "gaps": sum(1 for w in waits if w > BEHIND * PART_SECONDS),
                     "longest_s": round(max(waits), 2) if waits else None}
    return out


def node_events(nodes, t0: float, t1: float) -> dict:
    """What the nodes logged in [t0, t1]: the program behind its clock (times, frames skipped), started,
    stopped, and errors (by their last line)."""
    out = {}
    for i, n in enumerate(nodes):
        behind = skipped = started = stopped = 0
        errors: dict[str, int] = {}
        try:
            lines = Path(n.log_path).read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                r = json.loads(line)
                t = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
            except (ValueError, KeyError, TypeError):
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
        out["media" if n.name.endswith("media") else f"node{i}"] = {"behind": behind, "frames_skipped": skipped, "started": started, "stopped": stopped,
                           "errors": errors}
    return out


def watching(parts: list[dict]) -> dict:
    """The teachers' program.watch answers over all workers."""
    tiers = _merge(p["tiers"] for p in parts)
    heard = [p["heard_ns"] for p in parts if p["heard_ns"][0]]
    return {"teachers": sum(p["teachers"] for p in parts), "asked": sum(p["asked"] for p in parts),
            "asks": sum(p["asks"] for p in parts), "tiers": tiers, "heard_on": sum(p["heard_on"] for p in parts),
            "heard_first_ns": min((h[0] for h in heard), default=0), "heard_last_ns": max((h[1] for h in heard), default=0),
            "answer_ms": _pcts([x / 1e9 for p in parts for x in p["answer_ns"]]),
            "errors": _merge(p["errors"] for p in parts)}


def _merge(dicts) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out
