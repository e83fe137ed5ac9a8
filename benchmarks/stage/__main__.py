"""python -m benchmarks.stage [--quick] [options]: see benchmarks/README.md ("Stage")."""

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

from benchmarks.fanout.limits import raise_nofile
from benchmarks.fanout.report import cell, machine
from benchmarks.stage.run import Config, run

_f = cell

HERE = Path(__file__).resolve().parent
TARGET = 100  # viewers per core at full frame rate (the issue)
NAMES = {"collab": "collab relay (Feed + peers)", "aiortc": "aiortc baseline (MediaRelay, encoder per viewer)"}




ROWS = [
    ("relay CPU, cores (user + system, all threads)", lambda p: _f(p["relay_cores"])),
    ("**viewers per core** (N / relay cores)", lambda p: f"**{_f(p['viewers_per_core'])}**"),
    ("relay CPU ms per second per viewer", lambda p: _f(p["relay_cpu_ms_per_s_per_viewer"])),
    ("relay event loop thread / other threads, cores", lambda p: f"{_f(p['relay_loop_thread_cores'])} / "
                                                                 f"{_f(p['relay_other_threads_cores'])}"),
    ("loop thread: kernel share of its CPU", lambda p: _f(p["relay_loop_thread_system_share"])),
    ("frames per viewer per second, median / min", lambda p: f"{_f(p['fps_median'])} / {_f(p['fps_min'])}"),
    ("**viewers at full frame rate** (median per-second rate >= 28)",
     lambda p: f"{_f(p['full_rate_viewers'])} of {_f(p['n'])} ({p['full_rate_share']:.0%})"),
    ("step at full frame rate", lambda p: _f(p["full_rate"])),
    ("decoding viewers: frames decoded per second, median", lambda p: f"{_f(p['decoded_fps_median'])} "
                                                                      f"({p['decoding_viewers']} viewers)"),
    ("publisher -> viewer latency p50 / p95 / p99 / max ms",
     lambda p: " / ".join(_f(p["latency_ms"][k]) for k in ("p50", "p95", "p99", "max"))),
    ("stamps unreadable / decode errors", lambda p: f"{_f(p['bad_stamps'])} / {_f(p['decode_errors'])}"),
    ("frames per second: made by the publisher / taken from the relay's receiver (by the Feed; by MediaRelay)", lambda p: f"{_f(p.get('publisher_fps'))} / "
                                                                                 f"{_f(p['source_fps'])}"),
    ("relay backlog, frames: waiting for its decoder / decoded, not yet taken (start -> end of window)",
     lambda p: " ; ".join(f"{_f(a)} -> {_f(b)}" for a, b in (p.get("relay_backlog_frames") or {}).values())),
    ("RTP packets / kbit per second per viewer", lambda p: f"{_f(p['sent_packets_per_s_per_viewer'])} / "
                                                          f"{_f(p['sent_kbit_per_s_per_viewer'])}"),
    ("relay event loop lateness (20 ms timer) p50 / p99 / max ms",
     lambda p: " / ".join(_f((p.get("loop_lag_ms") or {}).get(k)) for k in ("p50", "p99", "max"))),
    ("shared encoder: encode ms p50 / p99; one encode's end to the next's start ms p50 / p99",
     lambda p: (f"{_f(p['encode_ms']['p50'])} / {_f(p['encode_ms']['p99'])}; "
                f"{_f(p['encode_end_to_next_start_ms']['p50'])} / {_f(p['encode_end_to_next_start_ms']['p99'])}")
     if p.get("encode_ms") and p["encode_ms"]["p50"] is not None else "n/a"),
    ("relay CPU µs per RTP packet sent (all threads / loop thread)",
     lambda p: f"{_f(p['relay_us_per_packet_sent'])} / {_f(p['loop_thread_us_per_packet_sent'])}"),
    ("packets lost, as the viewers' RTCP reports say", lambda p: _f(p["lost_reported_by_viewers"])),
    ("STUN requests answered by the relay per second (ICE checks, consent)", lambda p: _f(p.get("stun_requests_per_s"))),
    ("viewer processes CPU % of a core", lambda p: _f(p["viewer_procs_cpu_pct"])),
    ("publisher CPU % of a core", lambda p: _f(p["publisher_cpu_pct"])),
    ("machine CPU busy % (2 cores = 100) / outside the run, % of a core",
     lambda p: f"{_f(p['machine_busy_pct'])} / {_f(p['other_cpu_pct'])}"),
    ("load average before / after the window", lambda p: f"{_f(p['load_avg_before'][0])} / "
                                                         f"{_f(p['load_avg_after'][0])}"),
    ("viewers added: seconds until all had frames", lambda p: _f(p["setup"]["all_have_frames_s"])),
]


def system_table(name: str, s: dict) -> str:
    pts = s["points"]
    if not pts:
        return f"{NAMES.get(name, name)}: no step measured ({s.get('error')})"
    head = ["N viewers", *(f"{p['n']:,}" for p in pts)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, f in ROWS:
        lines.append("| " + " | ".join([label, *(f(p) for p in pts)]) + " |")
    return "\n".join(lines)


def headline(r: dict) -> str:
    lines = [("| | largest N at full frame rate | viewers per core there | latency p50 / p99 there, ms | "
             "per-viewer relay CPU (fit), ms/s | fixed relay CPU (fit), cores | viewers per core beyond the fixed cost | "
             f"first N below full rate | >= {TARGET} viewers per core |"), "|---|---|---|---|---|---|---|---|---|"]
    for name, s in r["systems"].items():
        m = s["summary"]
        met = m["viewers_per_core_at_largest"] is not None and m["viewers_per_core_at_largest"] >= TARGET
        verdict = "yes" if met else ("**no**" if (m["largest_full_rate_n"] or 0) >= TARGET or m["first_below_full_rate_n"]
                                     else f"not shown (N <= {m['largest_full_rate_n']})")
        at = next((p for p in s["points"] if p["n"] == m["largest_full_rate_n"]), None)
        lat = f"{_f(at['latency_ms']['p50'])} / {_f(at['latency_ms']['p99'])}" if at else "n/a"
        lines.append(f"| {NAMES.get(name, name)} | {_f(m['largest_full_rate_n'])} | "
                     f"**{_f(m['viewers_per_core_at_largest'])}** | {lat} | {_f(m.get('per_viewer_ms_cpu_per_s'))} | "
                     f"{_f(m.get('fixed_cores'))} | {_f(m.get('marginal_viewers_per_core'))} | "
                     f"{_f(m['first_below_full_rate_n'])} | {verdict} |")
    return "\n".join(lines)


def profile_table(name: str, s: dict) -> list[str]:
    out = []
    for p in s["points"]:
        prof = p.get("profile")
        if not prof or "loop_ops_us_per_packet" not in prof:
            continue
        out += ["", (f"{NAMES.get(name, name)}, N = {p['n']}: event loop thread, "
                    f"{_f(p['loop_thread_us_per_packet_sent'])} µs per RTP packet sent (measured in the window), split "
                    f"by a py-spy profile ({_f(prof['samples'])} samples) taken after it ({prof['file']}):"), "",
                "| operation (innermost frame) | µs per packet | share | | task (outermost frame) | µs per packet | share |",
                "|---|---|---|---|---|---|---|"]
        ops, tasks = prof["loop_ops_us_per_packet"], prof["loop_tasks_us_per_packet"]
        shares_o, shares_t = dict(prof["loop_ops"]), dict(prof["loop_tasks"])
        for i in range(max(len(ops), len(tasks))):
            o = ops[i] if i < len(ops) else ["", None]
            t = tasks[i] if i < len(tasks) else ["", None]
            out.append(f"| {o[0]} | {_f(o[1]) if o[0] else ''} | {f'{shares_o[o[0]]:.1%}' if o[0] else ''} | | "
                       f"{t[0]} | {_f(t[1]) if t[0] else ''} | {f'{shares_t[t[0]]:.1%}' if t[0] else ''} |")
    return out


def micro_table(r: dict) -> list[str]:
    m = r.get("micro")
    if not m or "error" in m:
        return [f"(send path in isolation: {m.get('error')})"] if m else []
    rows = [("VP8 packetize (Vp8Encoder.pack, per payload)", m["vp8_pack_us"]),
            ("RtpPacket with mid + abs-send-time, serialize, two clock reads", m["rtp_build_serialize_us"]),
            ("SRTP protect (pylibsrtp, AEAD_AES_256_GCM)", m["srtp_protect_us"]),
            ("uvloop UDP transport.sendto over loopback (the sendmsg syscall)", m["udp_sendto_us"]),
            ("an await chain as deep as the sender's", m["await_chain_us"]),
            ((f"the viewer's sender task woken per frame ({m['task_wakeup_per_frame_us']} µs / "
             f"{m['payloads_per_frame']} packets)"), round(m["task_wakeup_per_frame_us"] / m["payloads_per_frame"], 2)),
            ("**sum**", m["sum_per_packet_us"])]
    return ["", (f"aiortc's send path per RTP packet, each step timed alone (micro.py; {m['payloads_per_frame']} "
                f"payloads of ~{m['payload_bytes']} B per frame):"), "", "| step | µs per packet |", "|---|---|",
            *(f"| {k} | {_f(v)} |" for k, v in rows)]


def notes(r: dict) -> list[str]:
    out = []
    c = r["config"]
    if c.get("relay_cpu", -1) >= 0:
        out.append(f"The relay was pinned to CPU {c['relay_cpu']} and the publisher and viewers to the other CPUs "
                   "(--relay-cpu): the relay had a core to itself, the load generator the rest.")
    if c.get("viewer_nice"):
        out.append(f"Viewer processes ran at nice +{c['viewer_nice']}.")
    if c.get("relay_switch_interval"):
        out.append(f"The relay ran with sys.setswitchinterval({c['relay_switch_interval']}).")
    for name, s in r["systems"].items():
        label = NAMES.get(name, name)
        if s.get("error"):
            out.append(f"{label}: stopped by an error: {s['error']}")
        if s.get("stopped") and s["stopped"]["reason"].startswith("machine"):
            out.append(f"{label}: larger N not measured after N = {s['stopped']['n']}: {s['stopped']['reason']}.")
        elif s.get("stopped"):
            p = next(p for p in s["points"] if p["n"] == s["stopped"]["n"])
            why = [(f"the relay took {_f(p['source_fps'])} frames/s from its receiver (the publisher made "
                   f"{_f(p.get('publisher_fps'))})")]
            backlog = (p.get("relay_backlog_frames") or {}).get("source_queue")
            if backlog and backlog[1] is not None and backlog[1] > (backlog[0] or 0) + 5:
                why.append(f"decoded frames waiting for the Feed grew from {backlog[0]} to {backlog[1]} in the window")
            why.append(f"relay {p['relay_cores']:.2f} cores (loop thread {p['relay_loop_thread_cores']:.2f}, decoder and "
                       f"encoder threads {p['relay_other_threads_cores']:.2f}), loop "
                       f"lateness p50 {_f(p.get('loop_lag_ms', {}).get('p50'))} ms")
            why.append(f"machine {p['machine_busy_pct']:.0f}% busy, load average {p['load_avg_after'][0]} on "
                       f"{r['machine']['cpus']} cores, viewer processes {sum(p['viewer_procs_cpu_pct']):.0f}% of a core "
                       "in all")
            out.append(f"{label}: stopped at N = {p['n']}: {p['full_rate_share']:.0%} of viewers at full frame rate; "
                       + "; ".join(why) + ".")
        floor = min((p["latency_ms"]["p50"] for p in s["points"] if p["latency_ms"]["p50"] is not None), default=None)
        for p in s["points"]:
            backlog = (p.get("relay_backlog_frames") or {}).get("source_queue") or [None, None]
            if p["full_rate"] and floor and p["latency_ms"]["p50"] and p["latency_ms"]["p50"] > max(3 * floor, 300):
                out.append(f"{label}, N = {p['n']}: at full frame rate but latency p50 {_f(p['latency_ms']['p50'])} ms "
                           f"({_f(floor)} ms at the smallest N); decoded frames waiting for the relay's Feed at the "
                           f"window's start -> end: {backlog[0]} -> {backlog[1]}; it took {_f(p['source_fps'])} "
                           f"frames/s while the publisher made {_f(p.get('publisher_fps'))}: a backlog formed while the "
                           f"viewers were added ({_f(p['setup']['all_have_frames_s'])} s) and is not dropped, only "
                           "worked off at the difference.")
            if p["machine_busy_pct"] >= 90 and p["full_rate"]:
                out.append(f"{label}, N = {p['n']}: the machine was {p['machine_busy_pct']:.0f}% busy: the relay's "
                           "CPU was measured under contention.")
            if p["other_cpu_pct"] >= 30:
                out.append(f"{label}, N = {p['n']}: processes outside the run used {p['other_cpu_pct']:.0f}% of a core "
                           f"(load average {p['load_avg_before'][0]} before the window).")
            if p["viewers_not_connected"]:
                out.append(f"{label}, N = {p['n']}: {p['viewers_not_connected']} viewers not connected at the end.")
    return out


def section(profile: str, r: dict) -> str:
    c, m = r["config"], r["machine"]
    lines = [(f"## {profile}: one 640x480 30 fps VP8 stage track to N = {', '.join(map(str, c['ns']))} aiortc viewers "
             f"({c['per_proc']} per process), {c['seconds']:g} s per step"),
             "", (f"Run {r['when']} at {m['commit']}{' (collab/ dirty)' if m['collab_dirty'] else ''} on {m['cpus']} "
             f"cores / {m['memory_gb']} GB, Python {m['python']}, load average before {m['loadavg_before']}, took "
             f"{r['elapsed_s']:.0f} s. Command: `{r['command']}`"), "", headline(r)]
    lines += micro_table(r)
    for name, s in r["systems"].items():
        lines += ["", f"### {NAMES.get(name, name)}", "", system_table(name, s)]
        lines += profile_table(name, s)
    lines += ["", *(f"- {n}" for n in notes(r))]
    return "\n".join(lines)


def write(allr: dict) -> None:
    order = sorted(allr.items(), key=lambda kv: (kv[0] != "quick", kv[0] != "default", kv[0]))
    (HERE / "results.json").write_text(json.dumps(allr, indent=2, default=str) + "\n")
    (HERE / "results.md").write_text(
        "# Stage benchmark results\n\nGenerated by `python -m benchmarks.stage`; see benchmarks/README.md "
        "(\"Stage\") for what each row means.\n\n" + "\n\n".join(section(k, v) for k, v in order) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.stage")
    ap.add_argument("--quick", action="store_true", help="N = 5, 20 (10 viewers per process), 8 s windows")
    ap.add_argument("--ns", type=lambda s: [int(x) for x in s.split(",")], default=None, help="e.g. 10,25,50,100")
    ap.add_argument("--systems", type=lambda s: [x for x in s.split(",") if x], default=None,
                    help="collab,aiortc (default both)")
    for f in fields(Config):
        if f.name in ("ns", "systems"):
            continue
        ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=None)
    ap.add_argument("--profile", default="", help="the results section to write (default: quick, default or custom)")
    ns = ap.parse_args()
    cfg = Config()
    if ns.quick:
        cfg.ns, cfg.seconds, cfg.per_proc, cfg.settle = [5, 20], 8.0, 10, 2.0
    for f in fields(Config):
        v = getattr(ns, f.name)
        if v is not None:
            setattr(cfg, f.name, v)
    profile = ns.profile or ("quick" if sys.argv[1:] == ["--quick"] else "default" if not sys.argv[1:] else "custom")
    raise_nofile()
    info = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
            "command": "python -m benchmarks.stage " + shlex.join(sys.argv[1:]), "config": vars(cfg)}
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
