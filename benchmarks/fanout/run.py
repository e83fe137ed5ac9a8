"""The orchestrator: one system (collab or python-socketio) through the same phases.

    servers up -> senders connect -> one warm-up attendee per worker -> RSS baseline
    -> join storm (all workers at once) -> settle -> RSS with idle connections
    -> window: senders publish rate x duration events; wait until every attendee has every event
       (bounded by --drain-timeout) -> per-client counts, latency samples, CPU of every process
    -> everything stopped, the database dropped.

Only the window's CPU time is charged to delivered events; the join storm is measured on its own.
"""

from __future__ import annotations

import multiprocessing as mp
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from benchmarks.fanout import servers
from benchmarks.fanout.measure import MachineCpu, collab_counters, latency_timeline, percentiles_ms
from benchmarks.fanout.senders import PER_SENDER_RATE, SenderSpec, sender_main
from benchmarks.fanout.workers import WorkerSpec, worker_main

ORGANIZER = "Bench Organizer"


@dataclass
class Config:
    attendees_per_node: int = 5000
    nodes: int = 2
    rate: float = 100.0
    duration: float = 60.0
    client_procs: int = 4
    event_bytes: int = 200
    collab_settings: list[str] = field(default_factory=list)  # "name=value" -> `--name value` on every node
    drain_timeout: float = 20.0
    latency_clients: int = 100  # attendees (spread over the join order) that record latencies
    rss_cap_mb: int = 6000  # a server above this is stopped: the machine must survive socketio
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    redis_url: str = "redis://127.0.0.1:6379/12"
    systems: list[str] = field(default_factory=lambda: ["collab", "socketio"])
    py_spy: str = ""  # a directory: record a py-spy flame graph of each server during the window


class Child:
    """A helper process (client worker or senders) reached through a pipe."""

    def __init__(self, target, spec) -> None:
        ctx = mp.get_context("fork")  # cheap; this process runs no threads or event loop to inherit
        self.pipe, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(theirs, spec), daemon=True)
        self.proc.start()

    def send(self, cmd: str, arg=None) -> None:
        self.pipe.send((cmd, arg))

    def recv(self, timeout: float = 300.0):
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"helper process {self.proc.pid} did not answer in {timeout}s")
        return self.pipe.recv()

    def call(self, cmd: str, arg=None, timeout: float = 300.0):
        self.send(cmd, arg)
        return self.recv(timeout)

    def close(self) -> None:
        try:
            if self.proc.is_alive():
                self.call("close", timeout=15)
        except (OSError, EOFError, TimeoutError):
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def _call_all(children: list[Child], cmd: str, arg=None, timeout: float = 300.0) -> list:
    for c in children:  # all at once: they work in parallel
        c.send(cmd, arg)
    return [c.recv(timeout) for c in children]


def run_system(system: str, cfg: Config, logdir: Path) -> dict:
    secret = secrets.token_urlsafe(32)
    servers.flush_redis(cfg.redis_url)
    nodes: list[servers.Node] = []
    workers: list[Child] = []
    sender: Child | None = None
    database_url = None
    try:
        if system == "collab":
            database_url = servers.run(servers.create_database(cfg.pg_url))
            servers.migrate(database_url)
            organizer = servers.run(servers.create_organizer(database_url, ORGANIZER))
            extra = [arg for kv in cfg.collab_settings for arg in _flag(kv)]
            for i in range(cfg.nodes):  # appended one by one so `finally` stops whatever did start
                nodes.append(servers.start_collab(i, database_url, cfg.redis_url, secret, logdir, extra))
        else:
            organizer = 1  # socketio has no accounts; the token is only checked
            channel = "bench-sio-" + secrets.token_hex(4)
            for i in range(cfg.nodes):
                nodes.append(servers.start_socketio(i, cfg.redis_url, secret, logdir, channel))
        for n in nodes:
            n.wait_ready("/readyz")

        # Client workers: round-robin over nodes, the node's audience split evenly between its workers.
        procs = max(cfg.nodes, cfg.client_procs - cfg.client_procs % cfg.nodes)
        per_worker = cfg.attendees_per_node * cfg.nodes // procs
        sample_every = max(1, cfg.attendees_per_node * cfg.nodes // cfg.latency_clients)
        workers = [
            Child(worker_main, WorkerSpec(w, system, servers.HOST, nodes[w % cfg.nodes].port, w % cfg.nodes,
                                          1_000_000 * (w + 1), secret, sample_every))
            for w in range(procs)
        ]
        n_senders = max(cfg.nodes, -(-int(cfg.rate) // int(PER_SENDER_RATE)))
        n_senders += -n_senders % cfg.nodes
        targets = [(servers.HOST, nodes[i % cfg.nodes].port) for i in range(n_senders)]
        sender = Child(sender_main, SenderSpec(system, targets, secret, organizer, ORGANIZER, cfg.event_bytes))
        sender.recv(60)

        # Warm-up: the first subscriber creates the channel state; the baseline includes it.
        warm = _call_all(workers, "join", 1)
        time.sleep(1.0)
        rss_before = [n.rss() for n in nodes]

        spy = Spy(cfg, nodes, "storm")
        storm_cpu0 = [n.cpu() for n in nodes]
        storm = _call_all(workers, "join", per_worker - 1)
        spy.stop()
        joins = _join_rates(storm + warm, storm, cfg.nodes)
        for j, n, c0 in zip(joins, nodes, storm_cpu0):  # the storm only, before the settle
            j["server_cpu_us_per_join"] = round((n.cpu() - c0) / max(1, j["ok"]) * 1e6)
        time.sleep(2.0)  # let the storm's transient buffers go before reading "idle" RSS
        rss_after = [n.rss() for n in nodes]
        for i, j in enumerate(joins):
            j["rss_per_conn_kb"] = round((rss_after[i] - rss_before[i]) / max(1, j["ok"]) / 1024, 2)
            j["rss_before_mb"] = round(rss_before[i] / 2**20, 1)
            j["rss_after_mb"] = round(rss_after[i] / 2**20, 1)

        window = _window(cfg, nodes, workers, sender)
        joined = sum(j["ok"] for j in warm + storm)
        return {"system": system, "senders": n_senders, "client_procs": procs, "joins": joins, "joins_total": joined,
                **window}
    finally:
        for c in workers:
            c.close()
        if sender is not None:
            sender.close()
        for n in nodes:
            n.stop()
        if database_url:
            servers.run(servers.drop_database(cfg.pg_url, database_url))


def _flag(setting: str) -> list[str]:
    name, sep, value = setting.partition("=")
    if not sep:
        raise ValueError(f"--collab-setting wants NAME=VALUE, got {setting!r}")
    return ["--" + name.strip().replace("_", "-"), value.strip()]


def _join_rates(all_joins: list[dict], storm: list[dict], n_nodes: int) -> list[dict]:
    out = []
    for node in range(n_nodes):
        mine = [s for s in storm if s["node"] == node]
        ok = sum(s["ok"] for s in mine)
        wall = max(s["end"] for s in mine) - min(s["start"] for s in mine)
        failed: Counter[str] = Counter()
        for s in (a for a in all_joins if a["node"] == node):
            failed.update(s["failed"])
        out.append({
            "node": node, "ok": ok, "failed": dict(failed), "seconds": round(wall, 2),
            "per_second": round(ok / wall, 1) if wall > 0 else None,
            "client_cpu_pct": [round(100 * s["cpu"] / wall, 1) for s in mine],
        })
    return out


def _window(cfg: Config, nodes: list[servers.Node], workers: list[Child], sender: Child) -> dict:
    marks = _call_all(workers, "mark")
    live = sum(m["live"] for m in marks)
    machine = MachineCpu()
    cpu0 = [n.cpu() for n in nodes]
    sys0 = [n.cpu_system() for n in nodes]
    redis0 = servers.redis_cpu(cfg.redis_url)
    spy = Spy(cfg, nodes, "window")
    t0 = time.time()
    sender.send("go", (cfg.rate, cfg.duration))
    aborted = None
    deadline = time.monotonic() + cfg.duration + 60
    while not sender.pipe.poll(0.5):
        big = [n.name for n in nodes if n.rss() > cfg.rss_cap_mb * 2**20]
        if big or time.monotonic() > deadline:
            aborted = f"stopped early: {'RSS cap hit by ' + ', '.join(big) if big else 'publishing overran'}"
            for n in nodes:
                n.stop(timeout=5)
            break
    pub = sender.recv(60)

    # Drain: wait until every live attendee has every published event, or until progress stops.
    published = pub["offered"] - sum(pub["errors"].values())  # sent and not refused: every attendee gets it
    expected = published * live
    got, last_got, last_change = 0, -1, time.monotonic()
    drain_end = time.monotonic() + cfg.drain_timeout
    while not aborted and time.monotonic() < drain_end:
        got = sum(_call_all(workers, "progress", timeout=30))
        if got >= expected:
            break
        if got != last_got:
            last_got, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > 5.0:
            break  # nothing moves: whatever is missing is lost
        time.sleep(0.25)
    t1 = time.time()
    cpu1 = [n.cpu() if n.proc.poll() is None else c for n, c in zip(nodes, cpu0)]
    sys1 = [n.cpu_system() if n.proc.poll() is None else c for n, c in zip(nodes, sys0)]
    busy = machine.busy()
    redis1 = servers.redis_cpu(cfg.redis_url)
    counters = [collab_counters(n.internal_port) for n in nodes] if nodes[0].name.startswith("collab") else []

    spy.stop()
    reports = _call_all(workers, "report", timeout=120)
    wall = t1 - t0
    server = [c1 - c0 for c0, c1 in zip(cpu0, cpu1)]
    kernel = [b - a for a, b in zip(sys0, sys1)]
    return _summarize(reports, pub, published, live, wall, t0, server, kernel, redis1 - redis0, busy) | {
        "aborted": aborted, "server_counters": counters}


def _summarize(reports: list[dict], pub: dict, published: int, live: int, wall: float, t0: float,
               server: list[float], kernel: list[float], redis: float, busy: float) -> dict:
    """Per-client counts, latency samples and CPU seconds -> the numbers the report prints."""
    counts: Counter[int] = Counter()  # events received -> how many attendees received that many
    latencies = array("q")
    for r in reports:
        counts.update({int(k): v for k, v in r["counts"].items()})
        latencies.frombytes(r["latencies_ns"])  # (send time, latency) pairs
    delivered = sum(k * v for k, v in counts.items())
    server_cpu = sum(server)
    frames = sum(r["frames"] for r in reports)
    pct = lambda seconds, over=wall: round(100 * seconds / over, 1)
    clients = [pct(r["cpu"], r["wall"]) for r in reports]
    publisher = pct(pub["cpu"], max(1e-9, pub["sent_end"] - pub["start"]))
    measured = sum(server) / wall * 100 + sum(clients) + pct(redis) + pct(pub["cpu"])
    return {
        "live_attendees": live,
        "published": published,
        "publisher": {k: v for k, v in pub.items() if k not in ("start", "sent_end", "cpu")} | {"cpu_pct": publisher},
        "window_s": round(wall, 2),
        "delivered": delivered,
        "expected": published * live,
        "delivered_per_s": round(delivered / wall),
        "lost": sum((published - k) * v for k, v in counts.items() if k < published),
        "extra": sum((k - published) * v for k, v in counts.items() if k > published),
        "clients_missing_events": sum(v for k, v in counts.items() if k < published),
        "clients_closed": _merge(r["closed"] for r in reports),
        "order_gaps": sum(r["gaps"] for r in reports),
        "resyncs": sum(r["resyncs"] for r in reports),
        "latency_ms": percentiles_ms(latencies[1::2].tolist()) | {"samples": len(latencies) // 2},
        "latency_timeline": latency_timeline(latencies, t0),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_pct": [pct(c) for c in server],
        "cpu_us_per_event": round(server_cpu / delivered * 1e6, 3) if delivered else None,
        "kernel_share_pct": round(100 * sum(kernel) / server_cpu, 1) if server_cpu else None,
        "events_per_cpu_s": round(delivered / server_cpu) if server_cpu else None,
        "events_per_frame": round(delivered / frames, 2) if frames else None,
        "event_bytes": max(r["event_bytes"] for r in reports),
        "client_cpu_pct": clients,
        "redis_cpu_pct": pct(redis),
        "machine_busy_pct": round(100 * busy, 1),
        # CPU used by processes this run did not start or measure (e.g. someone else's test suite).
        "other_cpu_pct": round(100 * busy * psutil.cpu_count() - measured, 1),
    }


class Spy:
    """Optional py-spy profiles of every server for one phase (non-blocking sampling, so the target is
    never paused; py-spy's own CPU shows up as "outside the run")."""

    def __init__(self, cfg: Config, nodes: list[servers.Node], phase: str) -> None:
        self.procs: list[subprocess.Popen] = []
        if not cfg.py_spy:
            return
        Path(cfg.py_spy).mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).parent / "py-spy"
        for n in nodes:
            out = Path(cfg.py_spy) / f"{n.name}-{phase}.speedscope.json"
            self.procs.append(subprocess.Popen(
                [str(exe), "record", "--nonblocking", "--pid", str(n.proc.pid), "--format", "speedscope",
                 "--duration", "600", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)  # attached before the phase starts

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _merge(dicts) -> dict:
    out: Counter[str] = Counter()
    for d in dicts:
        out.update(d)
    return dict(out)


def run(cfg: Config) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix="collab-fanout-"))
    results = {"config": asdict(cfg), "logs": str(logdir), "systems": {}}
    for system in cfg.systems:
        print(f"== {system}: {cfg.nodes} nodes x {cfg.attendees_per_node} attendees, "
              f"{cfg.rate:g} events/s for {cfg.duration:g}s (logs in {logdir})", flush=True)
        results["systems"][system] = run_system(system, cfg, logdir)
    return results
