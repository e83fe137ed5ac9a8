"""Results as a markdown table against the targets, plus the evidence about the load generator.

`results.json` keeps one entry per profile (quick, default, ...); `results.md` is rebuilt from all of
them, so running one profile does not erase the other.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
CLIENT_SATURATED = 90.0  # % of one core: above this a client process may be what limits the numbers


def _fmt(v, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        v = f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    elif isinstance(v, int):
        v = f"{v:,}"
    return f"{v}{unit}"


def _joins(s: dict, key: str) -> str:
    return " / ".join(_fmt(j.get(key)) for j in s["joins"])


def verdicts(res: dict) -> dict:
    c = res["systems"].get("collab")
    if not c:
        return {}
    ratio = res.get("ratio")
    p99 = c["latency_ms"]["p99"]
    out = {
        "cpu": c["cpu_us_per_event"] is not None and c["cpu_us_per_event"] <= 2.0,
        "p99": p99 is not None and p99 <= 300,
        "rss": max(j["rss_per_conn_kb"] for j in c["joins"]) <= 16,
        "lost": c["lost"] == 0 and not c["aborted"] and c["live_attendees"] == c["joins_total"],
        "joins": min(j["per_second"] or 0 for j in c["joins"]) >= 2000,
    }
    if ratio is not None:
        out["ratio"] = ratio >= 5
    return out


def table(res: dict) -> str:
    systems = res["systems"]
    names = list(systems)
    v = verdicts(res)
    mark = lambda k: ("yes" if v[k] else "**no**") if k in v else ""
    cfg = res["config"]
    offered = cfg["attendees_per_node"] * cfg["nodes"] * cfg["rate"]
    rows = [
        ("delivered events/s", lambda s: _fmt(s["delivered_per_s"]), f"{offered:,.0f} offered", ""),
        ("events not delivered by the end of the drain (attendees missing any)",
         lambda s: f"{_fmt(s['lost'])} ({_fmt(s['clients_missing_events'])})",
         "0", mark("lost")),
        ("publish->receive p50 / p95 / p99 ms",
         lambda s: " / ".join(_fmt(s["latency_ms"][p]) for p in ("p50", "p95", "p99")), "p99 <= 300", mark("p99")),
        ("server CPU µs per delivered event", lambda s: _fmt(s["cpu_us_per_event"]), "<= 2", mark("cpu")),
        ("delivered events per server CPU-second", lambda s: _fmt(s["events_per_cpu_s"]),
         ">= 5x socketio", mark("ratio")),
        ("RSS per idle connection KB (per node)", lambda s: _joins(s, "rss_per_conn_kb"), "<= 16", mark("rss")),
        ("join storm: connect+subscribe/s per node", lambda s: _joins(s, "per_second"), ">= 2,000", mark("joins")),
        ("server CPU µs per join (per node)", lambda s: _joins(s, "server_cpu_us_per_join"), "", ""),
        ("join failures", lambda s: _fmt(sum(sum(j["failed"].values()) for j in s["joins"])), "0", ""),
        ("events per frame (coalescing)", lambda s: _fmt(s["events_per_frame"]), "", ""),
        ("server CPU % of a core (per node)", lambda s: " / ".join(_fmt(x) for x in s["server_cpu_pct"]), "", ""),
        ("kernel share of server CPU %", lambda s: _fmt(s.get("kernel_share_pct")), "", ""),
        ("client workers CPU % of a core", lambda s: " / ".join(_fmt(x) for x in s["client_cpu_pct"]),
         f"< {CLIENT_SATURATED:.0f}", ""),
        ("publisher process CPU %", lambda s: _fmt(s["publisher"]["cpu_pct"]), "", ""),
        ("Redis CPU %", lambda s: _fmt(s["redis_cpu_pct"]), "", ""),
        ("machine CPU busy % (all cores)", lambda s: _fmt(s["machine_busy_pct"]), "", ""),
        ("CPU % of a core used by processes outside the run", lambda s: _fmt(s.get("other_cpu_pct")), "", ""),
    ]
    head = ["metric", *names, "target", "collab meets"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, f, target, ok in rows:
        lines.append("| " + " | ".join([label, *(f(systems[n]) for n in names), target, ok]) + " |")
    for n in names:
        tl = systems[n].get("latency_timeline")
        if tl:
            lines.append(f"\n{n} p50 / p99 ms by send time: " + ", ".join(
                f"{b['from_s']:g}s {_fmt(b['p50'])} / {_fmt(b['p99'])}" for b in tl))
    if res.get("ratio") is not None:
        lines.append(f"\ncollab / python-socketio delivered events per server CPU-second: **{res['ratio']:.1f}x** "
                     "(target >= 5x)")
    return "\n".join(lines)


def notes(res: dict) -> list[str]:
    """What the reader needs to trust (or distrust) the table."""
    out = []
    for name, s in res["systems"].items():
        hot = [x for x in s["client_cpu_pct"] + [s["publisher"]["cpu_pct"]] if x >= CLIENT_SATURATED]
        if hot:
            out.append(f"{name}: a client process ran at {max(hot):.0f}% of a core: the load generator may limit "
                       "these numbers; they are a floor.")
        else:
            out.append(f"{name}: busiest client process {max(s['client_cpu_pct']):.0f}% of a core (publisher "
                       f"{s['publisher']['cpu_pct']:.0f}%): the load generator had headroom.")
        storm_hot = [x for j in s["joins"] for x in j["client_cpu_pct"] if x >= CLIENT_SATURATED]
        if storm_hot:
            out.append(f"{name}: during the join storm a client process ran at {max(storm_hot):.0f}% of a core: "
                       "the join rate is a floor.")
        if s["machine_busy_pct"] >= 95:
            out.append(f"{name}: the machine was {s['machine_busy_pct']:.0f}% busy (servers, Redis and clients share "
                       "its cores): server numbers are measured under CPU contention.")
        if s["aborted"]:
            out.append(f"{name}: {s['aborted']}.")
        if s["clients_closed"]:
            out.append(f"{name}: connections closed during the run, by close code: {s['clients_closed']}.")
        if s["publisher"]["errors"] or s["publisher"]["unanswered"]:
            out.append(f"{name}: publish errors {s['publisher']['errors']}, unanswered {s['publisher']['unanswered']}.")
        if s["publisher"]["max_send_lag_ms"] > 50:
            out.append(f"{name}: the publisher fell up to {s['publisher']['max_send_lag_ms']} ms behind its schedule.")
        if s.get("order_gaps"):
            out.append(f"{name}: {s['order_gaps']} frames out of order or with missing offsets.")
        if s["live_attendees"] != s["joins_total"]:
            out.append(f"{name}: only {s['live_attendees']} of {s['joins_total']} attendees were live at the start.")
    return out


def section(profile: str, res: dict) -> str:
    cfg = res["config"]
    m = res["machine"]
    dirty = " (uncommitted changes in collab/)" if m.get("collab_dirty") else ""
    title = (f"## {profile}: {cfg['nodes']} nodes x {cfg['attendees_per_node']:,} attendees, "
             f"{cfg['rate']:g} events/s of ~{cfg['event_bytes']} B for {cfg['duration']:g} s")
    run = (f"Run {res['when']} at collab {m.get('commit')}{dirty} on {m['cpus']} cores / {m['memory_gb']} GB, "
           f"Python {m['python']}, load average before {m['loadavg_before']}. Command: `{res['command']}`")
    lines = [
        title,
        "",
        run,
        "",
        table(res),
        "",
        *(f"- {n}" for n in notes(res)),
    ]
    return "\n".join(lines)


def save(profile: str, res: dict) -> str:
    keep_results(HERE, profile, res, "# Fan-out benchmark results\n\nGenerated by `python -m benchmarks.fanout`; "
                 "see benchmarks/README.md for what each row means.", section)
    return section(profile, res)


def machine() -> dict:
    import os
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True, check=False).stdout.strip()

    return {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30),
            "python": platform.python_version(), "loadavg_before": [round(x, 2) for x in os.getloadavg()],
            # the server code measured: HEAD, plus whether collab/ had uncommitted changes
            "commit": git("rev-parse", "--short", "HEAD"), "collab_dirty": bool(git("status", "--porcelain", "collab"))}


def cell(v) -> str:
    """One value as a results-table cell: thousands separated, booleans as yes / **no**, lists and
    dicts joined. Shared by every benchmark's table."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, list):
        return " / ".join(cell(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {cell(x)}" for k, x in v.items()) or "none"
    return str(v)


def keep_results(here: Path, profile: str, res: dict, heading: str, section) -> None:
    """Keep `res` as `profile` in here/results.json and rebuild here/results.md from every profile kept
    there (quick first, then default, then the rest), under `heading`."""
    jp, mp = here / "results.json", here / "results.md"
    kept = json.loads(jp.read_text()) if jp.exists() else {}
    kept[profile] = res
    jp.write_text(json.dumps(kept, indent=2, default=str) + "\n")
    order = sorted(kept, key=lambda p: (p != "quick", p != "default", p))
    mp.write_text(heading + "\n\n" + "\n\n".join(section(p, kept[p]) for p in order) + "\n")
