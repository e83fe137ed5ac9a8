"""The orchestrator: for each system, a relay process, a publisher process, then viewers added step by
step (viewer processes of `per_proc` viewers each), one measurement window per step.

    relay process (collab: Feed + peers, or aiortc: MediaRelay) <- publisher process (StampedPicture)
    -> for N in ns: add viewers up to N (offers from the viewer processes, answers from the relay,
       exchanged through this process's pipes) -> wait until every viewer has frames -> settle
       -> window: CPU of every process (psutil), frames per viewer per second, latency, packets sent
       -> stop this system when it no longer delivers full frame rate.

The systems run one after the other, never at once. This process runs no event loop and no thread
(its helpers are forked); it sleeps through the windows.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks.fanout.measure import MachineCpu
from benchmarks.stage.peers import (
    PublisherSpec,
    ViewerSpec,
    publisher_main,
    viewer_main,
)
from benchmarks.stage.procs import Child, call_all
from benchmarks.stage.relay import RelaySpec, relay_main

FPS = 30


@dataclass
class Config:
    ns: list[int] = field(default_factory=lambda: [5, 10, 25, 50, 100, 150])
    systems: list[str] = field(default_factory=lambda: ["collab", "aiortc"])
    seconds: float = 15.0  # measurement window per step
    settle: float = 3.0  # after every viewer has its first frame, before the window
    per_proc: int = 25  # viewers per viewer process
    decoders: int = 1  # viewers per process that decode every frame (and read the latency stamp)
    full_fps: float = 28.0  # a viewer is at full frame rate when its median per-second rate is >= this
    full_share: float = 0.95  # a step is at full frame rate when this share of its viewers are
    connect_timeout: float = 60.0
    viewer_nice: int = 0  # nice increment of the viewer processes
    relay_switch_interval: float = 0.0  # experiment: sys.setswitchinterval in the relay (0: default, as served)
    keep_going: int = 0  # 1: measure every N even after a step below full frame rate
    micro: int = 1  # 1: time aiortc's per-packet send steps in isolation first (a few seconds)
    relay_cpu: int = -1  # experiment: >= 0 pins the relay to this CPU and everything else to the other CPUs
    machine_limit: float = 90.0  # a step at full rate with the machine this % busy is the last one
    py_spy: str = ""  # a directory: profile the relay with py-spy after each step's window (not during it)
    py_spy_flags: str = "--nonblocking"  # extra py-spy record flags ("--native" pauses the relay per sample)


class Cpu:
    """user + system CPU seconds of a set of processes (threads included), and of the relay's threads."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {k: psutil.Process(p) for k, p in pids.items()}

    def read(self) -> dict[str, float]:
        out = {}
        for k, p in self.procs.items():
            try:
                t = p.cpu_times()
                out[k] = t.user + t.system
            except psutil.NoSuchProcess:
                out[k] = float("nan")
        return out

    @staticmethod
    def threads(pid: int) -> dict[int, tuple[float, float]]:
        return {t.id: (t.user_time, t.system_time) for t in psutil.Process(pid).threads()}


def _sys_user(pid: int) -> tuple[float, float]:
    t = psutil.Process(pid).cpu_times()
    return t.user, t.system


def _pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(len(s) * p / 100))], 1)


class System:
    def __init__(self, name: str, cfg: Config) -> None:
        self.name, self.cfg = name, cfg
        self.relay = Child(relay_main, RelaySpec(name, cfg.relay_switch_interval, cfg.relay_cpu))
        self.publisher = Child(publisher_main, PublisherSpec())
        self.viewer_procs: list[Child] = []
        self.counts: list[int] = []  # viewers per process
        self.answer_cpu_s = 0.0

    def start(self) -> dict:
        t0 = time.monotonic()
        answer = self.relay.call("publish", self.publisher.call("offer"))
        self.publisher.call("accept", answer)
        got = self.relay.call("wait_source", 30.0, timeout=40)
        return {"publish_to_10_frames_s": round(time.monotonic() - t0, 2), **got}

    def add_viewers(self, n: int) -> dict:
        """Viewers up to n in total: fill the last process, then new ones."""
        t0 = time.monotonic()
        added = 0
        while sum(self.counts) < n:
            if not self.viewer_procs or self.counts[-1] >= self.cfg.per_proc:
                self.viewer_procs.append(Child(viewer_main, ViewerSpec(len(self.viewer_procs), self.cfg.decoders,
                                                                        self.cfg.viewer_nice)))
                self.counts.append(0)
            k = min(self.cfg.per_proc - self.counts[-1], n - sum(self.counts))
            proc = self.viewer_procs[-1]
            offers = proc.call("offers", k)
            got = self.relay.call("watch", offers)
            self.answer_cpu_s += got["cpu_s"]
            proc.call("accept", got["answers"])
            self.counts[-1] += k
            added += k
        deadline = time.monotonic() + self.cfg.connect_timeout
        while True:
            prog = call_all(self.viewer_procs, "progress")
            with_frames = sum(p["with_frames"] for p in prog)
            failed = sum(p["failed"] for p in prog)
            if with_frames + failed >= n or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        return {"added": added, "all_have_frames_s": round(time.monotonic() - t0, 2),
                "with_frames": with_frames, "failed": failed}

    def pids(self) -> dict[str, int]:
        return {"relay": self.relay.pid, "publisher": self.publisher.pid,
                **{f"viewers{i}": c.pid for i, c in enumerate(self.viewer_procs)}}

    def window(self, n: int) -> dict:
        cfg = self.cfg
        cpu = Cpu(self.pids())
        load_before = [round(x, 2) for x in os.getloadavg()]
        rs0 = self.relay.call("stats")
        self.relay.call("timings", True)
        pub0 = self.publisher.call("stats")
        call_all(self.viewer_procs, "mark")
        th0 = Cpu.threads(self.relay.pid)
        us0 = _sys_user(self.relay.pid)
        c0, machine, t0 = cpu.read(), MachineCpu(), time.monotonic()
        time.sleep(cfg.seconds)
        c1, busy, wall = cpu.read(), machine.busy(), time.monotonic() - t0
        us1 = _sys_user(self.relay.pid)
        th1 = Cpu.threads(self.relay.pid)
        reps = call_all(self.viewer_procs, "report")
        timings = self.relay.call("timings", False)
        rs1 = self.relay.call("stats")
        pub = self.publisher.call("stats")
        load_after = [round(x, 2) for x in os.getloadavg()]

        d = {k: c1[k] - c0[k] for k in c0}
        relay_cores = d["relay"] / wall
        pid = self.relay.pid
        loop_user = th1[pid][0] - th0[pid][0]
        loop_sys = th1[pid][1] - th0[pid][1]
        loop_thread = (loop_user + loop_sys) / wall
        others = sum(sum(v) - sum(th0.get(t, (0.0, 0.0))) for t, v in th1.items() if t != pid) / wall
        viewers = [v for r in reps for v in r["viewers"]]
        fps = [v["fps"] for v in viewers]
        med1 = [v["fps_median_1s"] for v in viewers]
        full = sum(1 for x in med1 if x >= cfg.full_fps)
        decoding = [v for v in viewers if v["decode"]]
        lat = [x for v in decoding for x in v["latencies_ms"]]
        sent_p = rs1["sent_packets"] - rs0["sent_packets"]
        sent_b = rs1["sent_bytes"] - rs0["sent_bytes"]
        measured = sum(d.values()) / wall
        machine_cores = busy * psutil.cpu_count()
        share = full / len(viewers) if viewers else 0.0
        out = {
            "n": n, "viewers_reporting": len(viewers), "window_s": round(wall, 2),
            "load_avg_before": load_before, "load_avg_after": load_after,
            "relay_cpu_s": round(d["relay"], 3), "relay_cores": round(relay_cores, 3),
            "relay_user_system_s": [round(us1[0] - us0[0], 3), round(us1[1] - us0[1], 3)],
            "relay_loop_thread_cores": round(loop_thread, 3),
            "relay_loop_thread_system_share": round(loop_sys / (loop_user + loop_sys), 3) if loop_user + loop_sys else None,
            "relay_other_threads_cores": round(others, 3),
            "relay_cpu_ms_per_s_per_viewer": round(1000 * relay_cores / n, 2),
            "viewers_per_core": round(n / relay_cores, 1) if relay_cores > 0 else None,
            "fps_median": round(statistics.median(fps), 2) if fps else None,
            "fps_min": round(min(fps), 2) if fps else None,
            "fps_median_1s_min": round(min(med1), 2) if med1 else None,
            "full_rate_viewers": full, "full_rate_share": round(share, 3),
            "full_rate": bool(viewers) and len(viewers) == n and share >= cfg.full_share,
            "decoding_viewers": len(decoding),
            "decoded_fps_median": round(statistics.median([v["fps"] for v in decoding]), 2) if decoding else None,
            "latency_ms": {"samples": len(lat), "p50": _pct(lat, 50), "p95": _pct(lat, 95), "p99": _pct(lat, 99),
                           "max": max(lat) if lat else None},
            "bad_stamps": sum(v["bad_stamps"] for v in decoding),
            "decode_errors": sum(v["decode_errors"] for v in decoding),
            "viewers_not_connected": sum(1 for v in viewers if v["state"] != "connected"),
            "source_fps": round((rs1["frames"] - rs0["frames"]) / wall, 2),
            "publisher_fps": round((pub["frames"] - pub0["frames"]) / wall, 2),
            "relay_backlog_frames": {k: [rs0.get(k), rs1.get(k)] for k in ("decoder_queue", "source_queue")},
            "sent_packets_per_s_per_viewer": round(sent_p / wall / n, 1),
            "sent_kbit_per_s_per_viewer": round(8 * sent_b / wall / n / 1000, 1),
            "relay_us_per_packet_sent": round(1e6 * d["relay"] / sent_p, 1) if sent_p else None,
            "loop_thread_us_per_packet_sent": round(1e6 * loop_thread * wall / sent_p, 1) if sent_p else None,
            "lost_reported_by_viewers": rs1["lost_reported"] - rs0["lost_reported"],
            "stun_requests_per_s": round((rs1["stun_requests"] - rs0["stun_requests"]) / wall, 1),
            "relay_stats": rs1, **timings,
            "publisher_cpu_pct": round(100 * d["publisher"] / wall, 1),
            "viewer_procs_cpu_pct": [round(100 * d[k] / wall, 1) for k in d if k.startswith("viewers")],
            "machine_busy_pct": round(100 * busy, 1),
            "other_cpu_pct": round(100 * max(0.0, machine_cores - measured), 1),
        }
        return out

    def spy(self, n: int) -> dict | None:
        if not self.cfg.py_spy:
            return None
        from benchmarks.stage.profile import summarize

        Path(self.cfg.py_spy).mkdir(parents=True, exist_ok=True)
        out = Path(self.cfg.py_spy) / f"{self.name}-n{n}.txt"
        exe = Path(sys.executable).parent / "py-spy"
        cmd = [str(exe), "record", "-p", str(self.relay.pid), "-o", str(out), "-f", "raw", "--threads",
               "-d", str(math.ceil(self.cfg.seconds)), "-r", "100", *self.cfg.py_spy_flags.split()]
        p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=self.cfg.seconds + 60)
        if p.returncode != 0 or not out.exists():
            return {"file": str(out), "error": (p.stderr or p.stdout)[-500:]}
        return {"file": str(out), **summarize(out.read_text())}

    def close(self) -> None:
        for c in self.viewer_procs:
            c.close()
        self.publisher.close()
        self.relay.close()


def run_system(name: str, cfg: Config, log) -> dict:
    sysm = System(name, cfg)
    res: dict = {"points": [], "stopped": None}
    try:
        res["start"] = sysm.start()
        for n in cfg.ns:
            setup = sysm.add_viewers(n)
            time.sleep(cfg.settle)
            point = sysm.window(n)
            point["setup"] = setup
            res["points"].append(point)
            log(f"{name} N={n}: relay {point['relay_cores']:.3f} cores ({point['viewers_per_core']} viewers/core), "
                f"fps median {point['fps_median']} min {point['fps_min']}, full-rate share "
                f"{point['full_rate_share']:.0%}, latency p50 {point['latency_ms']['p50']} ms, machine busy "
                f"{point['machine_busy_pct']}%, load {point['load_avg_after']}")
            last = (not point["full_rate"] and not cfg.keep_going) or n == cfg.ns[-1] or point["machine_busy_pct"] >= cfg.machine_limit
            prof = sysm.spy(n) if last else None  # after the last step only: py-spy slows the relay down
            if prof:
                point["profile"] = prof
                us = point["loop_thread_us_per_packet_sent"]
                if us and "loop_ops" in prof:  # the profile's shares of the measured loop-thread CPU
                    prof["loop_ops_us_per_packet"] = [[k, round(share * us, 2)] for k, share in prof["loop_ops"]]
                    prof["loop_tasks_us_per_packet"] = [[k, round(share * us, 2)] for k, share in prof["loop_tasks"]]
            if not point["full_rate"] and not cfg.keep_going:
                res["stopped"] = {"n": n, "reason": "below full frame rate"}
                break
            if point["machine_busy_pct"] >= cfg.machine_limit and n != cfg.ns[-1]:
                res["stopped"] = {"n": n, "reason": f"machine {point['machine_busy_pct']:.0f}% busy: no room for "
                                                    "more viewer processes"}
                break
        res["answer_cpu_ms_per_viewer"] = round(1000 * sysm.answer_cpu_s / max(1, sum(sysm.counts)), 2)
    except Exception as exc:  # noqa: BLE001 - reported with what was measured so far
        res["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        log(f"{name}: {res['error']}")
    finally:
        sysm.close()
    res["summary"] = summary(res["points"])
    return res


def summary(points: list[dict]) -> dict:
    ok = [p for p in points if p["full_rate"]]
    out: dict = {"largest_full_rate_n": ok[-1]["n"] if ok else None,
                 "viewers_per_core_at_largest": ok[-1]["viewers_per_core"] if ok else None,
                 "first_below_full_rate_n": next((p["n"] for p in points if not p["full_rate"]), None)}
    if len(ok) >= 2:  # relay cores = fixed + per_viewer x N, least squares over the full-rate steps
        xs, ys = [p["n"] for p in ok], [p["relay_cores"] for p in ok]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else None
        if slope:
            out["per_viewer_ms_cpu_per_s"] = round(1000 * slope, 2)
            out["fixed_cores"] = round(my - slope * mx, 3)
            out["marginal_viewers_per_core"] = round(1 / slope, 1) if slope > 0 else None
    return out


def run(cfg: Config, log=print) -> dict:
    out: dict = {"systems": {}}
    if cfg.micro:
        from benchmarks.stage.micro import measure

        log("--- aiortc's send path per packet, in isolation")
        out["micro"] = measure()
        log(str(out["micro"]))
    mine = os.sched_getaffinity(0)
    if cfg.relay_cpu >= 0:  # the publisher and the viewers are forked from here: they inherit this
        os.sched_setaffinity(0, mine - {cfg.relay_cpu})
    try:
        for name in cfg.systems:
            log(f"--- {name}")
            out["systems"][name] = run_system(name, cfg, log)
    finally:
        os.sched_setaffinity(0, mine)
    return out
