"""The orchestrator of the documents benchmark.

    traces loaded -> in-process baselines (sequential; concurrent, which also yields each txn's update)
    -> database + users + studio + one empty document per scenario -> nodes (generous document limits)
    -> sequential: watchers and the editor connect and sync -> the editor replays the trace, the
       watchers wait for the final text -> late joiners, stored bytes, forced compaction
    -> concurrent (per trace): one client per agent, txns sent once their parents arrived -> convergence
    -> everything stopped, the database dropped.

The orchestrator itself runs no event loop while helper processes are forked (they are forked with the
traces already in memory); short `asyncio.run` calls do the database work and the late-joiner checks.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.docs import seed, traces, yws
from benchmarks.docs.clients import WorkerSpec, worker_main
from benchmarks.fanout import servers
from benchmarks.fanout.run import Child
from benchmarks.fanout.tokens import mint
from benchmarks.national.run import Window

EDITOR_CLIENT_ID = 1  # fixed, so the expected final state vector is known before the run
# Generous limits: one socket replays a whole editing history as fast as it can.
NODE_FLAGS = ["--doc-message-rate", "1000000", "--doc-message-burst", "1000000",
              "--doc-outbox-bytes", "1000000000"]


@dataclass
class Config:
    sequential: str = "sequential-automerge-paper"
    limit: int = 0  # first txns of the sequential trace (0: all; then the reference is its endContent)
    watchers: int = 20
    watcher_procs: int = 2
    concurrent: list[str] = field(default_factory=lambda: ["concurrent-clownschool", "concurrent-friendsforever"])
    concurrent_limit: int = 0  # first txns of each concurrent trace (0: all)
    nodes: int = 2
    batch: int = 32  # update messages a client writes to its socket at once (each is still its own frame)
    # seconds without any incoming frame after which a waiting client gives up: long, because one group
    # commit of a whole backlog can hold a node's event loop for minutes (see benchmarks/README.md)
    stall: float = 900.0
    timeout: float = 2400.0  # for each waiting step
    traces_dir: str = str(traces.DEFAULT_DIR)
    py_spy: str = ""  # a directory: record every node with py-spy (raw format) during each scenario
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    redis_url: str = "redis://127.0.0.1:6379/12"


def _check(out):
    items = out if isinstance(out, list) else [out]
    for o in items:
        if isinstance(o, dict) and "worker_error" in o:
            raise RuntimeError(f"client worker failed: {o['worker_error']}")
    return out


def call_all(children: list[Child], cmd: str, args: list, timeout: float) -> list:
    for c, a in zip(children, args):  # all at once: they work in parallel
        c.send(cmd, a)
    return _check([c.recv(timeout) for c in children])


class Spy:
    """py-spy on every node for one scenario (raw collapsed stacks, one file per node)."""

    def __init__(self, directory: str, nodes, label: str) -> None:
        self.procs = []
        if not directory:
            return
        Path(directory).mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).parent / "py-spy"
        for i, n in enumerate(nodes):
            out = Path(directory) / f"{label}-node{i}.txt"
            self.procs.append(subprocess.Popen([str(exe), "record", "-p", str(n.proc.pid), "-o", str(out), "-f", "raw",
                                                "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1.0)

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


async def _late_joiners(nodes, doc_id: int, token: str, end: str) -> list[bool]:
    """A fresh client per node, opened after the run: does the node serve the final text?"""
    out = []
    for n in nodes:
        c = await yws.connect(n.port, doc_id, token)
        out.append(str(c.text) == end)
        c.close()
    await asyncio.sleep(0.1)
    return out


def _mb(b: int) -> float:
    return round(b / 2**20, 1)


def _pct(xs: list[float], q: float):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * q))]


def run_sequential(cfg: Config, tr: traces.Sequential, base: dict, nodes, db_url: str, secret: str,
                   users: list[tuple[int, str]], doc_id: int) -> dict:
    ports = [n.port for n in nodes]
    editor_uid, editor_name = users[0]
    watcher_users = users[1:1 + cfg.watchers]
    rss_before = [n.rss() for n in nodes]
    editor = Child(worker_main, WorkerSpec("editor", seq=tr))
    procs = max(1, min(cfg.watcher_procs, cfg.watchers))
    watchers = [Child(worker_main, WorkerSpec(f"watchers-{k}", seq=tr)) for k in range(procs)]
    try:
        # watcher k on node k % nodes, in worker k % procs; the editor on node 0
        plan: list[list[dict]] = [[] for _ in watchers]
        for k, (uid, name) in enumerate(watcher_users):
            plan[k % procs].append({"port": ports[k % len(ports)], "doc": doc_id,
                                    "token": mint(secret, uid, "teacher", name)})
        call_all(watchers, "connect", plan, 120)
        _check(editor.call("connect", [{"port": ports[0], "doc": doc_id, "client_id": EDITOR_CLIENT_ID,
                                        "track": False, "token": mint(secret, editor_uid, "teacher", editor_name)}], 60))
        time.sleep(1.0)
        rss_open = [n.rss() for n in nodes]
        rows0 = servers.run(seed.rows_written(db_url))
        call_all(watchers, "arm", [{"state": base["state_vector"]}] * len(watchers), 60)
        spy = Spy(cfg.py_spy, nodes, "sequential")
        win = Window(nodes, cfg.redis_url)
        load_before = [round(x, 2) for x in os.getloadavg()]
        win.start()
        editor.send("edit", {"batch": cfg.batch})
        ed = _check(editor.recv(cfg.timeout))
        ws = call_all(watchers, "wait", [{"timeout": cfg.timeout, "stall": cfg.stall}] * len(watchers),
                      cfg.timeout + 60)
        w = win.stop()
        spy.stop()
        time.sleep(1.0)
        rss_after = [n.rss() for n in nodes]
        rows1 = servers.run(seed.rows_written(db_url))
        late = servers.run(_late_joiners(nodes, doc_id, mint(secret, editor_uid, "teacher", editor_name), tr.end))
    finally:
        editor.close()
        for c in watchers:
            c.close()
    clients = [c for r in ws for c in r["clients"]]
    done = [c["done_at"] - ed["t0"] for c in clients if c["done_at"] is not None]
    complete = len(done) == len(clients)
    wall = max(done) if complete else None
    st = servers.run(seed.storage(db_url, doc_id))
    cpu = sum(w["server_cpu_s"])
    ops = base["ops"]
    frames = [c["frames_in"] for c in clients]
    return {
        "trace": tr.name, "txns": len(tr.txns), "ops": ops, "watchers": len(clients),
        "reference": "endContent" if tr.full else "in-process replica of the prefix",
        "wall_s": round(wall, 3) if wall is not None else None,
        "ratio_to_in_process": round(wall / base["seconds"], 2) if wall is not None else None,
        "editor_sent_s": round(ed["t_sent"] - ed["t0"], 3), "editor_messages": ed["messages"],
        "editor_update_bytes": ed["update_bytes"], "editor_paused": ed["paused"],
        "editor_cpu_pct": round(100 * ed["cpu"] / max(1e-9, ed["t_sent"] - ed["t0"]), 1),
        "watchers_done_s": {"first": round(min(done), 3) if done else None,
                            "median": round(statistics.median(done), 3) if done else None,
                            "last": round(max(done), 3) if done else None},
        "watchers_done_by_node": [round(max((c["done_at"] - ed["t0"] for c in clients
                                             if c["port"] == p and c["done_at"] is not None), default=0), 3)
                                  for p in ports],
        "every_client_text_equal": ed["text_equal"] and all(c["text_equal"] for c in clients),
        "editor_text_equal": ed["text_equal"],
        "watchers_text_equal": sum(1 for c in clients if c["text_equal"]),
        "watchers_complete": len(done),
        "late_joiners_text_equal": late,
        "stored_text_equal": st["stored_text"] == tr.end,
        "closed": [c["close_code"] for c in clients if c["close_code"] is not None] + (
            [ed["close_code"]] if ed["close_code"] is not None else []),
        "frames_per_watcher": {"min": min(frames), "median": statistics.median(frames), "max": max(frames)},
        "server_cpu_s": [round(x, 2) for x in w["server_cpu_s"]], "server_cpu_total_s": round(cpu, 2),
        "server_cpu_us_per_op": round(1e6 * cpu / ops, 1),
        "server_cpu_pct": w["server_cpu_pct"], "redis_cpu_pct": w["redis_cpu_pct"],
        "postgres_cpu_pct": w["postgres_cpu_pct"], "machine_busy_pct": w["machine_busy_pct"],
        "window_s": round(w["wall"], 2), "loadavg_before": load_before,
        "watcher_workers_cpu_pct": [round(100 * r["cpu"] / max(1e-9, r["wall"]), 1) for r in ws],
        "rows_written": rows1 - rows0,
        "rss_mb": {"before": [_mb(x) for x in rss_before], "doc_open_empty": [_mb(x) for x in rss_open],
                   "after_replay": [_mb(x) for x in rss_after],
                   "delta_per_node": [_mb(a - b) for a, b in zip(rss_after, rss_before)]},
        "storage": {k: v for k, v in st.items() if k != "stored_text"},
        "state_bytes": base["state_bytes"],
        "stored_before_over_state": round(st["bytes_before"] / base["state_bytes"], 2),
        "stored_after_over_state": round(st["bytes_after"] / base["state_bytes"], 2),
    }


def run_concurrent(cfg: Config, tr: traces.Concurrent, base: dict, nodes, db_url: str, secret: str,
                   users: list[tuple[int, str]], doc_id: int) -> dict:
    ports = [n.port for n in nodes]
    agents = [Child(worker_main, WorkerSpec(f"agent-{a}", conc=tr)) for a in range(tr.num_agents)]
    try:
        for a, ch in enumerate(agents):
            uid, name = users[a]
            _check(ch.call("connect", [{"port": ports[a % len(ports)], "doc": doc_id, "agent": a,
                                        "client_id": tr.client_id(a), "track_deletes": True,
                                        "token": mint(secret, uid, "teacher", name)}], 60))
        time.sleep(0.5)
        rows0 = servers.run(seed.rows_written(db_url))
        spy = Spy(cfg.py_spy, nodes, tr.name)
        win = Window(nodes, cfg.redis_url)
        load_before = [round(x, 2) for x in os.getloadavg()]
        win.start()
        res = call_all(agents, "agents", [{"batch": cfg.batch, "stall": cfg.stall}] * len(agents), cfg.timeout)
        w = win.stop()
        spy.stop()
        rows1 = servers.run(seed.rows_written(db_url))
        late = servers.run(_late_joiners(nodes, doc_id, mint(secret, users[0][0], "teacher", users[0][1]), tr.end))
    finally:
        for ch in agents:
            ch.close()
    ag = [x for r in res for x in r["agents"]]
    t0 = min(x["t0"] for x in ag)
    complete = all(x["done_at"] is not None for x in ag)
    wall = max(x["done_at"] for x in ag) - t0 if complete else None
    st = servers.run(seed.storage(db_url, doc_id))
    cpu = sum(w["server_cpu_s"])
    waits = sum(x["waits"] for x in ag)
    # delivery latency: for each wait, from the author's socket write of the last-sent txn it waited for
    # to the moment the waiting agent's replica had them all
    sent_at = {t: when for x in ag for t, when in x["sent_at"]}
    delivery = sorted(ready - max(sent_at[p] for p in missing if p in sent_at)
                      for x in ag for _, ready, missing in x["wait_records"] if any(p in sent_at for p in missing))
    return {
        "trace": tr.name, "txns": len(tr.patches), "ops": base["ops"], "agents": tr.num_agents,
        "reference": "endContent" if tr.full else "in-process replicas of the prefix",
        "wall_s": round(wall, 3) if wall is not None else None,
        "ratio_to_in_process": round(wall / base["seconds"], 1) if wall is not None else None,
        "every_client_text_equal": all(x["text_equal"] for x in ag),
        "agents_text_equal": sum(1 for x in ag if x["text_equal"]),
        "late_joiners_text_equal": late, "stored_text_equal": st["stored_text"] == tr.end,
        "errors": [x["error"] for x in ag if x["error"]],
        "closed": [x["close_code"] for x in ag if x["close_code"] is not None],
        "waits": waits, "wait_s_total": round(sum(x["wait_s"] for x in ag), 2),
        "delivery_ms": {"samples": len(delivery), **{f"p{q}": round(1e3 * _pct(delivery, q / 100), 2) if delivery
                                                      else None for q in (50, 90, 99, 100)}},
        "per_agent": [{k: x[k] for k in ("agent", "txns", "messages", "waits", "wait_s", "wait_ms_p50", "frames_in")}
                      | {"sent_s": round(x["t_sent"] - t0, 3),
                         "done_s": round(x["done_at"] - t0, 3) if x["done_at"] else None} for x in ag],
        "server_cpu_s": [round(x, 2) for x in w["server_cpu_s"]], "server_cpu_total_s": round(cpu, 2),
        "server_cpu_us_per_op": round(1e6 * cpu / base["ops"], 1),
        "server_cpu_pct": w["server_cpu_pct"], "redis_cpu_pct": w["redis_cpu_pct"],
        "postgres_cpu_pct": w["postgres_cpu_pct"], "machine_busy_pct": w["machine_busy_pct"],
        "window_s": round(w["wall"], 2), "loadavg_before": load_before,
        "agent_workers_cpu_pct": [round(100 * r["cpu"] / max(1e-9, w["wall"]), 1) for r in res],
        "rows_written": rows1 - rows0,
        "storage": {k: v for k, v in st.items() if k != "stored_text"},
        "state_bytes": base["state_bytes"],
        "stored_after_over_state": round(st["bytes_after"] / base["state_bytes"], 2),
    }


def run(cfg: Config) -> dict:
    tdir = Path(cfg.traces_dir)
    res: dict = {"node_flags": NODE_FLAGS}
    # 1. in-process baselines, before any server runs
    seq = traces.sequential(tdir, cfg.sequential, cfg.limit)
    print(f"in-process: {seq.name} ({len(seq.txns):,} txns)", flush=True)
    seq_base = {"trace": seq.name, **traces.replay_sequential(seq, EDITOR_CLIENT_ID)}
    res["inprocess_sequential"] = seq_base
    concs = []
    res["inprocess_concurrent"] = []
    for name in cfg.concurrent:
        c = traces.concurrent(tdir, name, cfg.concurrent_limit)
        print(f"in-process: {name} ({len(c.patches):,} txns, {c.num_agents} agents)", flush=True)
        r = {"trace": name, **traces.replay_concurrent(c)}
        res["inprocess_concurrent"].append(r)
        concs.append((c, r))

    secret = secrets.token_urlsafe(32)
    logdir = Path(tempfile.mkdtemp(prefix="collab-docs-bench-"))
    print(f"server logs: {logdir}", flush=True)
    servers.flush_redis(cfg.redis_url)
    nodes: list[servers.Node] = []
    db_url = None
    try:
        db_url = servers.run(servers.create_database(cfg.pg_url))
        servers.migrate(db_url)
        n_users = max(1 + cfg.watchers, max((c.num_agents for c, _ in concs), default=1))
        studio, users = servers.run(seed.seed_studio(db_url, n_users))
        seq_doc = servers.run(seed.new_doc(db_url, studio, users[0][0], f"bench {seq.name}"))
        conc_docs = [servers.run(seed.new_doc(db_url, studio, users[0][0], f"bench {c.name}")) for c, _ in concs]
        for i in range(cfg.nodes):
            nodes.append(servers.start_collab(i, db_url, cfg.redis_url, secret, logdir, NODE_FLAGS))
        for n in nodes:
            n.wait_ready("/readyz")
        time.sleep(1.0)
        print(f"sequential through the server: {len(seq.txns):,} txns, {cfg.watchers} watchers", flush=True)
        res["sequential"] = run_sequential(cfg, seq, seq_base, nodes, db_url, secret, users, seq_doc)
        res["concurrent"] = []
        for (c, r), doc_id in zip(concs, conc_docs):
            print(f"concurrent through the server: {c.name}", flush=True)
            try:
                res["concurrent"].append(run_concurrent(cfg, c, r, nodes, db_url, secret, users, doc_id))
            except Exception as exc:  # noqa: BLE001 - reported; the other trace still runs
                res["concurrent"].append({"trace": c.name, "failed": f"{type(exc).__name__}: {exc}"})
        res["server_logs"] = str(logdir)
        res["server_errors_logged"] = sum(_errors_logged(n.log_path) for n in nodes)
        res["nodes_alive_at_end"] = [n.proc.poll() is None for n in nodes]
        return res
    finally:
        for n in nodes:
            n.stop()
        if db_url:
            servers.run(servers.drop_database(cfg.pg_url, db_url))


def _errors_logged(path: Path) -> int:
    with open(path, errors="replace") as f:
        return sum(1 for line in f if '"level": "ERROR"' in line or '"level":"ERROR"' in line or "Traceback" in line)
