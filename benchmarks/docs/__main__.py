"""python -m benchmarks.docs [--quick] [options]: see benchmarks/README.md ("Documents")."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.docs.run import Config, run
from benchmarks.fanout.limits import raise_nofile
from benchmarks.fanout.report import cell, machine, keep_results

_f = cell

HERE = Path(__file__).resolve().parent




def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _short(name: str) -> str:
    return name.removeprefix("sequential-").removeprefix("concurrent-")


def table(r: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []  # metric, value, target, met
    ip = r["inprocess_sequential"]
    rows.append((f"in-process: {_short(ip['trace'])}, {ip['txns']:,} txns, one pycrdt transaction each (s, µs/txn)",
                 f"{_f(ip['seconds'])} s ({_f(ip['us_per_txn'])} µs)", "", ""))
    rows.append(("in-process: final text equals the reference", _f(ip["text_equal"]), "yes", _yes(ip["text_equal"])))
    for c in r["inprocess_concurrent"]:
        rows.append(((f"in-process: {_short(c['trace'])}, {c['txns']:,} txns, {c['agents']} replicas merging as the "
                     "trace says (s)"), f"{_f(c['seconds'])} s", "", ""))
        rows.append((f"in-process: {_short(c['trace'])}: every replica equals the reference", _f(c["text_equal"]),
                     "yes", _yes(c["text_equal"])))
    s = r.get("sequential")
    if s:
        n = s["watchers"]
        wall_ok = s["ratio_to_in_process"] is not None and s["ratio_to_in_process"] <= 2
        rows += [
            (f"**sequential through the server: first txn -> all {n} watchers have the final text (s)**",
             _f(s["wall_s"]), "", ""),
            ("**... / in-process time**", _f(s["ratio_to_in_process"]), "<= 2", _yes(wall_ok)),
            ("editor: all updates sent after (s); update messages; paused for the socket", (f"{_f(s['editor_sent_s'])}; "
             f"{_f(s['editor_messages'])}; {_f(s['editor_paused'])} times"), "", ""),
            ("watchers with the final text after first / median / last (s)",
             " / ".join(_f(s["watchers_done_s"][k]) for k in ("first", "median", "last")), "", ""),
            ("last watcher done, per node (s)", _f(s["watchers_done_by_node"]), "", ""),
            ("**every client's final text equals the reference** (editor; watchers; late joiner per node; stored doc)",
             (f"{_f(s['editor_text_equal'])}; {s['watchers_text_equal']}/{n}; {_f(s['late_joiners_text_equal'])}; "
             f"{_f(s['stored_text_equal'])}"), "yes",
             _yes(s["every_client_text_equal"] and all(s["late_joiners_text_equal"]) and s["stored_text_equal"])),
            ("server CPU s per node (total)", f"{_f(s['server_cpu_s'])} ({_f(s['server_cpu_total_s'])})", "", ""),
            ("**server CPU µs per trace op** (both nodes)", _f(s["server_cpu_us_per_op"]), "", ""),
            ("server CPU % per node / Redis % / PostgreSQL %", (f"{_f(s['server_cpu_pct'])} / {_f(s['redis_cpu_pct'])} / "
             f"{_f(s['postgres_cpu_pct'])}"), "", ""),
            ("frames received per watcher min / median / max (updates coalesced by the server)",
             " / ".join(_f(s["frames_per_watcher"][k]) for k in ("min", "median", "max")), "", ""),
            ("group commits (doc_updates rows written)", _f(s["rows_written"]), "", ""),
            ("RSS per node MB: before the doc was opened / open, empty / after the replay",
             f"{_f(s['rss_mb']['before'])} / {_f(s['rss_mb']['doc_open_empty'])} / {_f(s['rss_mb']['after_replay'])}",
             "", ""),
            ("**RSS per node with the doc open - before (MB)**", _f(s["rss_mb"]["delta_per_node"]), "", ""),
            ("stored bytes (snapshot + update rows) before forced compaction; rows",
             f"{_f(s['storage']['bytes_before'])}; {_f(s['storage']['rows_before'])}", "", ""),
            ("stored bytes after compaction / encoded state (len(doc.get_update()))",
             f"{_f(s['storage']['bytes_after'])} / {_f(s['state_bytes'])}", "", ""),
            ("**stored after compaction / encoded state**", _f(s["stored_after_over_state"]), "<= 2",
             _yes(s["stored_after_over_state"] <= 2)),
            ("stored before compaction / encoded state", _f(s["stored_before_over_state"]), "", ""),
            ("machine CPU busy % / editor CPU % / watcher workers CPU %",
             f"{_f(s['machine_busy_pct'])} / {_f(s['editor_cpu_pct'])} / {_f(s['watcher_workers_cpu_pct'])}", "", ""),
        ]
    for c in r.get("concurrent", []):
        name = _short(c["trace"])
        if "failed" in c:
            rows.append((f"concurrent {name}", f"**failed**: {c['failed']}", "", ""))
            continue
        rows += [
            ((f"**concurrent {name} through the server: {c['agents']} agents, {c['txns']:,} txns -> every agent has "
             "the final text (s)**"), _f(c["wall_s"]), "", ""),
            (f"concurrent {name}: / in-process time", _f(c["ratio_to_in_process"]), "", ""),
            (f"**concurrent {name}: every client converged to the reference** (agents; late joiner per node; stored)",
             f"{c['agents_text_equal']}/{c['agents']}; {_f(c['late_joiners_text_equal'])}; {_f(c['stored_text_equal'])}",
             "yes", _yes(c["every_client_text_equal"] and all(c["late_joiners_text_equal"]) and c["stored_text_equal"])),
            (f"concurrent {name}: times an agent waited for another's txn; seconds waited (all agents)",
             f"{_f(c['waits'])}; {_f(c['wait_s_total'])}", "", ""),
            (f"**concurrent {name}: delivery, author's write -> in the waiting agent's replica, p50 / p90 / p99 / max ms**",
             " / ".join(_f(c["delivery_ms"][k]) for k in ("p50", "p90", "p99", "p100")), "", ""),
            (f"concurrent {name}: server CPU s per node (total); µs per op",
             f"{_f(c['server_cpu_s'])} ({_f(c['server_cpu_total_s'])}); {_f(c['server_cpu_us_per_op'])}", "", ""),
            (f"concurrent {name}: group commits; stored after compaction / encoded state",
             f"{_f(c['rows_written'])}; {_f(c['stored_after_over_state'])}", "", ""),
        ]
    lines = ["| metric | value | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {t} | {m} |" for a, b, t, m in rows]
    return "\n".join(lines)


def notes(r: dict) -> list[str]:
    out = [f"nodes ran with `{' '.join(r['node_flags'])}` (generous document limits; everything else default)"]
    s = r.get("sequential")
    if s:
        if s["closed"]:
            out.append(f"sequential: sockets closed by the server, codes {s['closed']}")
        if s["watchers_complete"] < s["watchers"]:
            out.append(f"sequential: only {s['watchers_complete']} of {s['watchers']} watchers reached the final text")
        out.append(f"sequential: machine load average before the window {s['loadavg_before']}")
    for c in r.get("concurrent", []):
        if "failed" in c:
            continue
        if c["errors"] or c["closed"]:
            out.append(f"concurrent {_short(c['trace'])}: errors {c['errors']}, closed {c['closed']}")
        out.append(f"concurrent {_short(c['trace'])}: machine busy {c['machine_busy_pct']}%, load before "
                   f"{c['loadavg_before']}; per agent: " + "; ".join(
                       f"agent {a['agent']} {a['txns']} txns, sent by {a['sent_s']} s, done {a['done_s']} s, "
                       f"{a['waits']} waits ({a['wait_s']} s)" for a in c["per_agent"]))
    if r.get("server_errors_logged"):
        out.append(f"server errors logged: {r['server_errors_logged']} (see {r['server_logs']})")
    if not all(r.get("nodes_alive_at_end", [True])):
        out.append(f"a node exited during the run: {r['nodes_alive_at_end']}")
    return out


def section(profile: str, r: dict) -> str:
    c, m = r["config"], r["machine"]
    seq = r["inprocess_sequential"]
    head = (f"## {profile}: {_short(c['sequential'])} ({seq['txns']:,} txns) to {c['watchers']} watchers; "
            f"{', '.join(_short(x) for x in c['concurrent']) or 'no'} concurrent; {c['nodes']} nodes")
    return "\n".join([
        head, "",
        (f"Run {r['when']} at {m['commit']}{' (collab/ had uncommitted changes)' if m['collab_dirty'] else ''} on "
        f"{m['cpus']} cores / {m['memory_gb']} GB, Python {m['python']}, load average before "
        f"{m['loadavg_before']}. Command: `{r['command']}`"), "",
        table(r), "", *(f"- {n}" for n in notes(r))])


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.docs")
    ap.add_argument("--quick", action="store_true",
                    help="first 20,000 txns of automerge-paper, 5 watchers, first 5,000 txns of clownschool")
    for name, default in vars(Config()).items():
        if isinstance(default, list):
            ap.add_argument("--" + name.replace("_", "-"), nargs="*", default=None)
        else:
            ap.add_argument("--" + name.replace("_", "-"), type=type(default), default=None)
    ap.add_argument("--profile", default="")
    ns = ap.parse_args()
    cfg = Config()
    if ns.quick:
        cfg.limit, cfg.watchers, cfg.concurrent, cfg.concurrent_limit = 20_000, 5, ["concurrent-clownschool"], 5_000
    for name in vars(Config()):
        v = getattr(ns, name)
        if v is not None:
            setattr(cfg, name, v)
    profile = ns.profile or ("quick" if ns.quick and len(sys.argv) == 2 else "default" if sys.argv[1:] == []
                             else "custom")
    raise_nofile()
    info = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
            "command": "python -m benchmarks.docs " + shlex.join(sys.argv[1:]), "config": vars(cfg)}
    res = {**info, **run(cfg)}
    sec = section(profile, res)
    print(sec)
    keep_results(HERE, profile, res, "# Documents benchmark results\n\nGenerated by `python -m benchmarks.docs`; see "
         "benchmarks/README.md (\"Documents\") for what each row means. Traces: Joseph Gentle's editing-traces "
         "collection (CC BY 4.0); automerge-paper is Martin Kleppmann's trace.", section)


if __name__ == "__main__":
    main()
