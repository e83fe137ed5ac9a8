"""python -m benchmarks.audience [--quick] [options]: see benchmarks/README.md ("Audience")."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.audience.browser import hls_js_version
from benchmarks.audience.run import Config, run
from benchmarks.fanout.limits import raise_nofile
from benchmarks.fanout.report import cell, machine

HERE = Path(__file__).resolve().parent
_f = cell


def _d(d: dict | None, scale: float = 1.0, unit: str = "") -> str:
    """p50 / p95 / p99 of a dist() (n samples)."""
    if not d or not d.get("n"):
        return "n/a"
    v = lambda k: _f(round(d[k] * scale, 2)) if d.get(k) is not None else "n/a"
    return f"{v('p50')} / {v('p95')} / {v('p99')}{unit} (n = {d['n']:,})"


def _goal(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def headline(r: dict) -> list[str]:
    s = r["steps"]
    rows = []
    lat = s.get("latency", {})
    for name, p in (lat.get("hls") or {}).items():
        a = p["ages_ms"]
        ok = (a["p50"] <= 3000 and a["p95"] <= 5000) if a.get("n") else None
        rows.append((f"HLS glass-to-glass, hls.js {name} from node {lat.get('hls_node')} (p50 / p95 / p99)", _d(a, 1e-3, " s"),
                     "p50 <= 3 s, p95 <= 5 s", _goal(ok)))
    cdn = s.get("cdn", {})
    if cdn.get("hls_via_nginx"):
        a = cdn["hls_via_nginx"]["ages_ms"]
        ok = (a["p50"] <= 3000 and a["p95"] <= 5000) if a.get("n") else None
        rows.append((f"HLS glass-to-glass through nginx, {cdn['viewers']:,} other viewers ({cdn['rung']})",
                     _d(a, 1e-3, " s"), "p50 <= 3 s, p95 <= 5 s", _goal(ok)))
    if lat.get("webrtc"):
        a = lat["webrtc"]["ages_ms"]
        rows.append(("WebRTC glass-to-glass, aiortc viewer on node 0 (p50 / p95 / p99)", _d(a, 1e-3, " s"),
                     "<= 0.5 s", _goal(a["p95"] <= 500 if a.get("n") else None)))
    relay = s.get("relay", {})
    if relay.get("latency_ms"):
        a = relay["latency_ms"]
        rows.append((f"WebRTC publisher -> viewer in the relay benchmark (N = {relay['n']}, no node)",
                     f"{_f(a.get('p50'))} / {_f(a.get('p95'))} / {_f(a.get('p99'))} ms", "<= 0.5 s",
                     _goal(a["p95"] <= 500 if a.get("p95") is not None else None)))
    for step, label in (("latency", "one publisher"), ("cpu", "five tiles")):
        for target, t in (s.get(step, {}).get("part_timing") or {}).items():
            rows.append((f"parts within 0.85-1.0 x the {_f(t['part_target_s'])} s target, {target} ({label})",
                         f"{t['share_within_85_100']:.1%} of {t['parts']}" if t["parts"] else "n/a", "", ""))
    for target, t in (lat.get("part_timing") or {}).items():
        rows.append((f"blocked reload answered - part first seen by polling every 50 ms, {target} (p50 / p95 / p99)",
                     _d(t["blocked_answer_minus_first_seen_ms"], 1, " ms"), "about 0 or below", ""))
    origin = s.get("origin", {})
    relay_vpc = relay.get("viewers_per_core")
    if origin.get("points"):
        p = origin["points"][-1]
        rows.append((f"origin CPU per HLS viewer-second, node {origin['node']}, N = {p['n']} at {origin['rung']} (above the node's idle)",
                     f"{_f(p['marginal_us_per_viewer_s'])} µs ({_f(p['us_per_viewer_s'])} µs with the idle)", "", ""))
        vpc = p["marginal_viewers_per_core"]
        rows.append(("HLS viewers per core (origin)", f"{_f(vpc)} ({_f(p['viewers_per_core'])} with the idle)", "", ""))
        if relay_vpc:
            ratio = vpc / relay_vpc if vpc else None
            rows.append((f"HLS viewers per core / the relay's at N = {relay['n']} ({_f(relay_vpc)})",
                         f"{_f(round(ratio, 1)) if ratio else 'n/a'}x", ">= 20x", _goal(ratio >= 20 if ratio else None)))
        rows.append(("simulated viewers' worker CPU, % of a core", _f(p["clients"]["client_cpu_pct"]), "< 90", ""))
    elif relay_vpc:
        rows.append((f"relay viewers per core at N = {relay['n']}", _f(relay_vpc), "", ""))
    if cdn.get("origin"):
        o = cdn["origin"]
        rows.append((f"origin requests per URL through {cdn['instances']} nginx, {cdn['viewers']:,} viewers: parts / blocking reloads (mean, max)",
                     f"{_f(o['part']['per_url_mean'])}, {_f(o['part']['per_url_max'])} / "
                     f"{_f(o['blocking']['per_url_mean'])}, {_f(o['blocking']['per_url_max'])}",
                     f"about {cdn['instances']}", _goal(o["part"]["per_url_max"] is not None
                                                       and o["part"]["per_url_max"] <= cdn["instances"])))
    cpu = s.get("cpu", {})
    if cpu.get("with"):
        d = cpu["with"]["cores"]["node0"] - cpu["without"]["cores"]["node0"]
        rows.append(("program (compose + encode 720p30 and 360p30, five tiles): node 0 CPU with - without, cores",
                     f"{d:.2f} ({cpu['without']['cores']['node0']:.2f} -> {cpu['with']['cores']['node0']:.2f})",
                     "<= 1 core", _goal(d <= 1.0)))
        a, b = cpu["without"]["webrtc_viewer"], cpu["with"]["webrtc_viewer"]
        rows.append(("WebRTC viewer's frame rate without / with the program (min 1 s)",
                     f"{_f(a['fps'])} ({_f(a['fps_min_1s'])}) / {_f(b['fps'])} ({_f(b['fps_min_1s'])})", "no drop",
                     _goal(b["fps"] is not None and a["fps"] is not None and b["fps"] >= a["fps"] - 1)))
    windows = program_windows(r)
    if windows:
        skipped = [(k, e["node0"]["frames_skipped"], e["node0"]["behind"]) for k, e in windows]
        rows.append(("program behind its clock on node 0: frames skipped (times) in the windows of "
                     + ", ".join(k for k, _, _ in skipped), " / ".join(f"{f} ({t})" for _, f, t in skipped), "0",
                     _goal(all(f == 0 for _, f, _ in skipped))))
        restarts = [(k, sum(n["program_started"] + n["program_stopped"] for n in e.values())) for k, e in windows]
        epochs = max((t.get("epochs", 1) for st in ("cpu", "latency") for t in (s.get(st, {}).get("part_timing") or {}).values()),
                     default=1)
        rows.append(("program started or stopped during the windows (starts + stops; runs seen by the prober)",
                     " / ".join(str(n) for _, n in restarts) + f" ({epochs})", "0 (1)",
                     _goal(all(n == 0 for _, n in restarts) and epochs <= 1)))
    out = ["| measured | value | goal | met |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return out


def program_windows(r: dict) -> list[tuple[str, dict]]:
    """(name, node_events) of every window measured while the program was made."""
    s = r["steps"]
    out = []
    if (s.get("cpu") or {}).get("with"):
        out.append(("five tiles", s["cpu"]["with"]["node_events"]))
    if (s.get("latency") or {}).get("node_events"):
        out.append(("latency", s["latency"]["node_events"]))
    for p in (s.get("origin") or {}).get("points") or []:
        out.append((f"origin N = {p['n']}", p["window"]["node_events"]))
    if (s.get("cdn") or {}).get("window"):
        out.append(("nginx", s["cdn"]["window"]["node_events"]))
    return out


def details(r: dict) -> list[str]:
    s = r["steps"]
    out: list[str] = []
    cpu = s.get("cpu", {})
    if cpu.get("with"):
        out += ["", "### Program CPU (step 1)", "",
                f"On stage: {cpu.get('on_stage')} publications; `program.watch` said live {cpu.get('program_live_s')} s after "
                f"`activity.start`, and both nodes' playlists listed 4 parts after {cpu.get('program_start_s')} s; rungs: {', '.join(v['resolution'] + ' ' + str(v['bandwidth']) for v in cpu.get('rungs') or [])}.",
                "", "| | without the program (lobby) | with it (live) |", "|---|---|---|"]
        w0, w1 = cpu["without"], cpu["with"]
        for k in w1["cores"]:
            out.append(f"| {k}, cores | {_f(w0['cores'].get(k))} | {_f(w1['cores'].get(k))} |")
        out.append(f"| node 0: busiest threads (cores; new = started with the program) | "
                   f"{', '.join(_f(t[1]) for t in w0['node0_threads'])} | "
                   f"{', '.join(_f(t[1]) + ('' if t[2] else ' new') for t in w1['node0_threads'])} |")
        out.append(f"| Redis, cores | {_f(w0['redis_cores'])} | {_f(w1['redis_cores'])} |")
        out.append(f"| machine busy % / outside the run, cores | {_f(w0['machine_busy_pct'])} / {_f(w0['other_cores'])} | "
                   f"{_f(w1['machine_busy_pct'])} / {_f(w1['other_cores'])} |")
        out.append(f"| WebRTC viewer fps (min 1 s) | {_f(w0['webrtc_viewer']['fps'])} ({_f(w0['webrtc_viewer']['fps_min_1s'])}) | "
                   f"{_f(w1['webrtc_viewer']['fps'])} ({_f(w1['webrtc_viewer']['fps_min_1s'])}) |")
        out.append("")
        out.append("Line-up: " + "; ".join(f"{k}: {'ok' if 'ok' in v else v.get('error')}" for k, v in cpu["lineup"].items()))
    lat = s.get("latency", {})
    if lat.get("hls"):
        out += ["", "### Latency (step 2)", "",
                f"Window {lat['window_s']} s; chromium {lat['browser'].get('chromium')}, hls.js {lat['browser'].get('hls_js')} "
                f"(lowLatencyMode), both players in one page, {lat['browser_cpu_pct']}% of a core for chromium.", "",
                "| player | glass-to-glass p50 / p95 / p99 / max ms | stamps read / unread | frames/s | hls.js latency / target s | stalls | errors |",
                "|---|---|---|---|---|---|---|"]
        for name, p in lat["hls"].items():
            a = p["ages_ms"]
            out.append(f"| hls.js {name} ({_f(p['height'])}p) | {_f(a.get('p50'))} / {_f(a.get('p95'))} / {_f(a.get('p99'))} / {_f(a.get('max'))} | "
                       f"{_f(p['read'])} / {_f(p['unread'])} | {_f(p['frames_per_s'])} | {_f(p['hls_js_latency_s'])} / "
                       f"{_f(p['target_latency_s'])} | {_f(p['stalls'])} | {', '.join(p['errors']) or '-'} |")
        wr = lat["webrtc"]
        a = wr["ages_ms"]
        out.append(f"| WebRTC (aiortc, node 0) | {_f(a.get('p50'))} / {_f(a.get('p95'))} / {_f(a.get('p99'))} / {_f(a.get('max'))} | "
                   f"{_f(a.get('n'))} / {_f(wr['unread'])} | {_f(wr['fps'])} | | | |")
    for step in ("cpu", "latency"):
        pt = s.get(step, {}).get("part_timing")
        if not pt:
            continue
        out += ["", f"Part timing ({'step 1, five tiles' if step == 'cpu' else 'step 2, one publisher'}):", "",
                "| playlist | parts | within 0.85-1.0 x target | duration min / p50 / max s | independent | segments (min-max s) | "
                "blocked answer - first seen p50 / p95 / p99 ms | blocking wait p50 / p95 ms | media end -> first seen p50 / p95 ms |",
                "|---|---|---|---|---|---|---|---|---|"]
        for label, t in pt.items():
            d, g = t["duration_s"] or {}, t["segments"] or {}
            b, w, m = t["blocked_answer_minus_first_seen_ms"], t["blocking_wait_ms"], t["media_end_to_first_seen_ms"]
            out.append(f"| {label} | {t['parts']} | {_f(t['share_within_85_100'])} | {_f(d.get('min'))} / {_f(d.get('p50'))} / {_f(d.get('max'))} | "
                       f"{t['independent_parts']} | {_f(g.get('n'))} ({_f(g.get('min'))}-{_f(g.get('max'))}) | "
                       f"{_f(b.get('p50'))} / {_f(b.get('p95'))} / {_f(b.get('p99'))} | {_f(w.get('p50'))} / {_f(w.get('p95'))} | "
                       f"{_f(m.get('p50'))} / {_f(m.get('p95'))} |")
    origin = s.get("origin", {})
    if origin.get("points"):
        b = origin["baseline"]
        key = f"node{origin['node']}"
        out += ["", f"### Origin CPU per HLS viewer (step 3): node {origin['node']}, {origin['rung']}, simulated hls.js viewers", "",
                f"Node {origin['node']} with no HLS viewer: {_f(b['cores'][key])} cores.", "",
                f"| N viewers | node {origin['node']} cores | µs per viewer-second (above idle) | viewers per core (above idle) | requests/s | µs per request | "
                "parts per viewer per s | Mbit/s out | blocking wait p50 / p95 ms | statuses | worker CPU % | machine busy % |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in origin["points"]:
            c = p["clients"]
            out.append(f"| {p['n']:,} | {_f(p['node_cores'])} | {_f(p['us_per_viewer_s'])} ({_f(p['marginal_us_per_viewer_s'])}) | "
                       f"{_f(p['viewers_per_core'])} ({_f(p['marginal_viewers_per_core'])}) | {_f(c['requests_per_s'])} | "
                       f"{_f(p['us_per_request'])} | {_f(c['parts_per_viewer_s'])} | {_f(c['mbit_per_s'])} | "
                       f"{_f(c['blocking_wait_ms'].get('p50'))} / {_f(c['blocking_wait_ms'].get('p95'))} | "
                       f"{', '.join(f'{k}: {v}' for k, v in sorted(c['statuses'].items()))} | {_f(c['client_cpu_pct'])} | "
                       f"{_f(p['window']['machine_busy_pct'])} |")
    prof = origin.get("profile")
    if prof and prof.get("ops"):
        out += ["", f"Node {origin['node']} profiled with py-spy after the last window ({_f(prof['busy_samples'])} busy samples "
                f"of {_f(prof['samples'])}, {prof['file']}), by the innermost recognised frame; µs are the shares of "
                "the µs per request measured in that window:", "", "| operation | share | µs per request |", "|---|---|---|"]
        us = dict(prof.get("us_per_request") or [])
        out += [f"| {k} | {v:.1%} | {_f(us.get(k))} |" for k, v in prof["ops"]]
    elif prof:
        out += ["", f"py-spy: {prof.get('error')}"]
    cdn = s.get("cdn", {})
    if cdn.get("origin"):
        o, w, c = cdn["origin"], cdn["window"], cdn["clients"]
        out += ["", f"### nginx in front (step 4): {cdn['instances']} instances, both nodes behind each, {cdn['viewers']:,} viewers at {cdn['rung']}", "",
                "| | |", "|---|---|",
                f"| viewers fetching / parts per viewer per s | {_f(c['running'])} / {_f(c['parts_per_viewer_s'])} |",
                f"| requests/s to nginx / Mbit/s out | {_f(c['requests_per_s'])} / {_f(c['mbit_per_s'])} |",
                f"| parts: URLs / origin requests (per URL mean, max) | {_f(o['part']['urls'])} / {_f(o['part']['origin_requests'])} "
                f"({_f(o['part']['per_url_mean'])}, {_f(o['part']['per_url_max'])}) |",
                f"| blocking reloads: URLs / origin requests (per URL mean, max) | {_f(o['blocking']['urls'])} / "
                f"{_f(o['blocking']['origin_requests'])} ({_f(o['blocking']['per_url_mean'])}, {_f(o['blocking']['per_url_max'])}) |",
                f"| plain playlists: URLs / origin requests | {_f(o['playlist']['urls'])} / {_f(o['playlist']['origin_requests'])} |",
                "| blocking reload time at nginx by cache status, p50 / p95 s | " + "; ".join(
                    f"{k} {v.get('p50')} / {v.get('p95')} (n = {v['n']})" for k, v in sorted(o["blocking_wait_s"].items())) + " |",
                f"| viewers' blocking wait p50 / p95 ms | {_f(c['blocking_wait_ms'].get('p50'))} / {_f(c['blocking_wait_ms'].get('p95'))} |",
                f"| nodes cores | {_f(w['cores']['node0'])} / {_f(w['cores']['node1'])} |",
                f"| nginx cores (per instance) | {_f(w['nginx_cores'])} |",
                f"| worker CPU % | {_f(c['client_cpu_pct'])} |",
                f"| statuses seen by viewers | {', '.join(f'{k}: {v}' for k, v in sorted(c['statuses'].items()))} |",
                f"| machine busy % | {_f(w['machine_busy_pct'])} |"]
        hv = cdn.get("hls_via_nginx") or {}
        if hv.get("ages_ms", {}).get("n"):
            a = hv["ages_ms"]
            out.append(f"| hls.js through nginx: glass-to-glass p50 / p95 / p99 ms | {_f(a['p50'])} / {_f(a['p95'])} / {_f(a['p99'])} |")
    relay = s.get("relay", {})
    if relay:
        out += ["", f"Relay (step 5, benchmarks/stage's collab relay): N = {relay.get('n')}, {_f(relay.get('relay_cores'))} cores, "
                f"{_f(relay.get('viewers_per_core'))} viewers per core, full frame rate {relay.get('full_rate')}, machine "
                f"{_f(relay.get('machine_busy_pct'))}% busy" + (f"; error: {relay['error']}" if relay.get("error") else "") + "."]
    notes = []
    errors: dict[str, int] = {}
    for _, events in program_windows(r):
        for node, e in events.items():
            for msg, k in e["errors"].items():
                errors[f"{node}: {msg}"] = errors.get(f"{node}: {msg}", 0) + k
    for msg, k in sorted(errors.items(), key=lambda kv: -kv[1])[:8]:
        notes.append(f"Logged {k} times in the windows: `{msg}`")
    if r.get("setup_error"):
        notes.append(f"The nodes did not start, so no step that needs them ran: {r['setup_error'][:600]}")
    for step, v in s.items():
        if isinstance(v, dict) and v.get("error"):
            notes.append(f"Step {step} stopped: {v['error'][:600]}")
    if notes:
        out += ["", *(f"- {n}" for n in notes)]
    return out


def section(profile: str, r: dict) -> str:
    c, m = r["config"], r["machine"]
    lines = [f"## {profile}", "",
             (f"Run {r['when']} at {m['commit']}{' (collab/ dirty)' if m['collab_dirty'] else ''} on {m['cpus']} cores / "
              f"{m['memory_gb']} GB, Python {m['python']}, load average before {m['loadavg_before']}, took {r['elapsed_s']:.0f} s. "
              f"hls.js {r.get('hls_js')}. Command: `{r['command']}`"),
             "", f"Steps: {', '.join(c['steps'])}.", "", *headline(r), *details(r)]
    return "\n".join(lines)


def write(allr: dict) -> None:
    order = sorted(allr.items(), key=lambda kv: (kv[0] != "quick", kv[0] != "default", kv[0]))
    (HERE / "results.json").write_text(json.dumps(allr, indent=2, default=str) + "\n")
    (HERE / "results.md").write_text(
        "# Audience benchmark results\n\nGenerated by `python -m benchmarks.audience`; see benchmarks/README.md "
        "(\"Audience\") for what each row means.\n\n" + "\n\n".join(section(k, v) for k, v in order) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.audience")
    ap.add_argument("--quick", action="store_true", help="shorter windows, fewer viewer steps (< 6 min)")
    lists = {"steps": str, "origin_ns": int}
    for f in fields(Config):
        if f.name in lists:
            ap.add_argument("--" + f.name.replace("_", "-"), default=None,
                            type=lambda s, t=lists[f.name]: [t(x) for x in s.split(",") if x])
        else:
            ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=None)
    ap.add_argument("--profile", default="", help="the results section to write (default: quick, default or custom)")
    ns = ap.parse_args()
    cfg = Config()
    if ns.quick:
        cfg.cpu_seconds, cfg.latency_seconds, cfg.origin_ns, cfg.origin_seconds = 10.0, 30.0, [100, 300], 10.0
        cfg.cdn_seconds, cfg.relay_seconds = 20.0, 8.0
    for f in fields(Config):
        v = getattr(ns, f.name)
        if v is not None:
            setattr(cfg, f.name, v)
    profile = ns.profile or ("quick" if sys.argv[1:] == ["--quick"] else "default" if not sys.argv[1:] else "custom")
    raise_nofile()
    info = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
            "command": "python -m benchmarks.audience " + shlex.join(sys.argv[1:]), "config": vars(cfg),
            "hls_js": hls_js_version()}
    t0 = time.monotonic()
    res = {**info, **run(cfg, log=lambda s: print(s, flush=True))}
    res["elapsed_s"] = round(time.monotonic() - t0, 1)
    res["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    sec = section(profile, res)
    print(sec)
    jp = HERE / "results.json"
    allr = json.loads(jp.read_text()) if jp.exists() else {}
    allr[profile] = res
    write(allr)


if __name__ == "__main__":
    main()
