"""python -m benchmarks.national [--quick] [options]: see benchmarks/README.md."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.fanout.limits import raise_nofile
from benchmarks.fanout.report import CLIENT_SATURATED, cell, machine, keep_results
from benchmarks.national import group_phase
from benchmarks.national.run import Config, run

_f = cell

HERE = Path(__file__).resolve().parent




def _p(d: dict) -> list:
    return [d.get(k) for k in ("p50", "p95", "p99")]


def _per(total, n):
    return round(1e3 * total / n, 2) if n else None


def rows(r: dict) -> list[tuple[str, str, list]]:
    """The scenario's rows: (label, template, values); the template's {} take the values' cells."""
    j, lt, c, q, p, a = r["join"], r["late"], r["chat"], r["qa"], r["poll"], r["attendance"]
    return [
        ("join: teachers joined / offered (failures)", "{} / {} ({})", [j["ok"], j["offered"], j["failed"]]),
        ("join rate achieved, connect+snapshot+subscribe/s (both nodes)", "{} over {} s", [j["per_second"], j["seconds"]]),
        ("join latency connect->subscribe reply p50 / p95 / p99 ms", "{} / {} / {}", _p(j["latency_ms"])),
        ("snapshot latency during the storm p50 / p95 / p99 ms", "{} / {} / {}", _p(j["snapshot_ms"])),
        ("server CPU µs per join (snapshot included)", "{}", [j["server_cpu_us_per_join"]]),
        ("server CPU % per node during the storm", "{}", [j["server_cpu_pct"]]),
        ("late joiners after start: joined / offered", "{} / {} ({})", [lt["ok"], lt["offered"], lt["failed"]]),
        ("**late joiner snapshot latency p50 / p95 / p99 ms**", "{} / {} / {}", _p(lt["snapshot_ms"])),
        ("late joiner connect->subscribe p50 / p95 / p99 ms", "{} / {} / {}", _p(lt["join_ms"])),
        *([("server CPU s per node from activity.start until the late joiners are in (with video: until every "
            "teacher's program.watch is answered), over s", "{} over {}",
            [[round(x, 1) for x in lt["start_window"]["server_cpu_s"]], round(lt["start_window"]["wall"], 1)])]
          if "start_window" in lt else []),
        ("chat: posted ok (errors)", "{} ({})", [c["posted_ok"], c["post_errors"]]),
        ("chat rate offered / achieved msgs/s", "{} / {}", [c["offered_rate"], c["achieved_rate"]]),
        ("chat deliveries expected / received", "{} / {}", [c["expected_deliveries"], c["chat_delivered"]]),
        ("**chat delivery latency p50 / p95 / p99 ms**", "{} / {} / {}", _p(c["latency_ms"])),
        ("**server CPU µs per delivered event (chat window)**", "{}", [c["server_cpu_us_per_event"]]),
        ("server CPU % per node (chat window)", "{}", [c["server_cpu_pct"]]),
        ("Redis / PostgreSQL CPU % (chat window)", "{} / {}", [c["redis_cpu_pct"], c["postgres_cpu_pct"]]),
        ("Q&A: questions, votes ok (errors)", "{}, {} ({})", [q["questions"], q["votes_ok"], q["vote_errors"]]),
        ("votes sent over / last vote reply after s", "{} / {}", [r["config"]["vote_seconds"], q.get("last_vote_reply_s")]),
        ("sampled clients whose last qa_votes equal the final totals", "{} / {}",
         [q["sampled_with_final_totals"], q["sampled_clients"]]),
        ("server CPU ms per upvote (Q&A window CPU / votes)", "{}", [_per(sum(q["server_cpu_s"]), q["votes_ok"])]),
        ("server CPU % per node (Q&A window)", "{}", [q["server_cpu_pct"]]),
        ("poll answers ok (errors) within", "{} ({}) in {} s", [p["answers_ok"], p["answer_errors"], p["answer_window_s"]]),
        ("poll answers sent over / last answer reply after s", "{} / {}", [p["answer_window_s"], p.get("last_answer_reply_s")]),
        ("**last poll answer -> final tally on every client ms**", "{}", [p["last_answer_to_final_tally_everywhere_ms"]]),
        ("  of which: last answer -> show_results sent / show_results reply ms", "{} / {}",
         [p["show_results_after_last_answer_ms"], p["show_results_reply_ms"]]),
        ("clients that saw the final tally / missing", "{} / {}", [p["clients_seen_final"], p["clients_missing_final"]]),
        ("server CPU ms per poll answer (poll window CPU / answers)", "{}", [_per(sum(p["server_cpu_s"]), p["answers_ok"])]),
        ("server CPU % per node (poll window)", "{}", [p["server_cpu_pct"]]),
        ("**attendance: server seconds within 1 s of client presence**", "{} / {} (rows missing {})",
         [a["match_within_1s"], a["compared"], a["missing_rows"]]),
        ("attendance: all within 1 s after (s since everyone left; n/a: not within 45 s); matching then",
         "{}; {}, rejoiners {}", [a.get("settled_after_s"), a.get("match_when_settled"), a.get("rejoiners_ok_when_settled")]),
        ("attendance |server - client| s p50 / p99 / max (3 s after)", "{} / {} / {}",
         [a["abs_diff_s"][k] for k in ("p50", "p99", "max")]),
        ("rejoiners on the other node: rejoins and seconds right", "{} / {} (rejoined {})",
         [a["rejoiners_ok"], len(a["rejoiners"]), r["rejoin"]["ok"]]),
        ("client workers CPU % of a core: storm", "{}", [j["client_cpu_pct"]]),
        ("client workers CPU % of a core: chat / Q&A / poll windows", "{}; {}; {}",
         [c["client_cpu_pct"], q["client_cpu_pct"], p["client_cpu_pct"]]),
        ("machine CPU busy %: storm / chat / Q&A / poll", "{} / {} / {} / {}",
         [x["machine_busy_pct"] for x in (j, c, q, p)]),
        *([("CPU outside the run (other work on the shared machine), cores: storm / chat / Q&A / poll",
             "{} / {} / {} / {}", [x.get("outside_cores") for x in (j, c, q, p)]),
           ("load average (1 min) before the storm / chat / Q&A / poll", "{} / {} / {} / {}",
            [x.get("load_before") for x in (j, c, q, p)])] if "outside_cores" in j else []),
        ("server errors logged", "{}", [r.get("server_errors_logged")]),
    ]


WINDOWS = ("join", "chat", "qa", "poll")


def video_rows(r: dict, without: dict | None) -> list[tuple[str, str, list]]:
    """The video rows (the run with video; `without`: the run without, for the node CPU the video added)."""
    v = r.get("video") or {}
    if not v:
        return []
    t, nx, ev = v.get("teachers", {}), v.get("nginx", {}), v.get("node_events", {})
    vw = {k: r[k].get("video", {}) for k in WINDOWS}
    parts, st = v.get("parts", {}), v.get("stalls", {})
    whole = parts.get("whole", {})
    maker = "media" if v.get("media_node") else "node0"  # where the program was made
    made_on = "the media node" if v.get("media_node") else "node 0"
    tiers = t.get("tiers", {})
    spread = round((t["heard_last_ns"] - t["heard_first_ns"]) / 1e6) if t.get("heard_first_ns") else None
    out = [
        ("**video: teachers who asked program.watch / were told tier program / tier webrtc (errors)**",
         "{} / {} / {} ({})", [t.get("asked"), tiers.get("program", 0), tiers.get("webrtc", 0), t.get("errors")]),
        ("video: presenter published -> on stage s; activity.start -> program's parts through nginx s",
         "{}; {}", [v.get("publish_s"), v.get("parts_listed_after_start_s")]),
        ("video: teachers who heard the program-on push (of all; the rest joined after it), within ms of each other",
         "{} (of {}), {}", [t.get("heard_on"), t.get("teachers"), spread]),
        ("video: program.watch asks caused by the program-on push (teachers with no address yet); answered "
         "p50 / p95 / p99 / max ms", "{}; {} / {} / {} / {}",
         [t.get("answer_ms", {}).get("n", 0), *[t.get("answer_ms", {}).get(k) for k in ("p50", "p95", "p99", "max")]]),
        ("video: simulated LL-HLS viewers through 1 nginx: viewers (rungs), fetching after ramp, running at the end",
         "{} ({}), {}, {}", [v["viewers"]["n"], ", ".join(v["viewers"]["rungs"]), v.get("viewers_fetching"),
                              v["viewers"]["running_at_end"]]),
        ("video: parts fetched per viewer-second, whole / chat / Q&A / poll (a part is 0.5 s: 2 keeps up)",
         "{} / {} / {} / {}", [parts.get(k, {}).get("parts_per_viewer_s") for k in ("whole", "chat", "qa", "poll")]),
        ("**video: part available at the origin -> fetched through nginx p50 / p95 / p99 / max ms**",
         "{} / {} / {} / {}", [whole.get("ms", {}).get(k) for k in ("p50", "p95", "p99", "max")]),
        ("video: same, p99 ms in the chat / Q&A / poll windows", "{} / {} / {}",
         [parts.get(k, {}).get("ms", {}).get("p99") for k in ("chat", "qa", "poll")]),
        ("video: of which: available -> the viewer's blocking reload answered p50 / p95 ms; then -> the part arrived "
         "p50 / p95 ms", "{} / {}; {} / {}",
         [v.get("split", {}).get("whole", {}).get(k, {}).get(p) for k in ("reload_answered_ms", "then_part_ms")
          for p in ("p50", "p95")]),
        ("video: nginx's time for parts HIT / MISS, blocking reloads HIT / MISS, p50 ms",
         "{} / {}, {} / {}", [v.get("nginx_times_ms", {}).get(k, {}).get("p50") for k in
                              ("part HIT", "part MISS", "blocking HIT", "blocking MISS")]),
        ("**video: stalls (a viewer > 3 parts behind the origin): viewers / all, stalls, viewer-seconds**",
         "{} / {}, {}, {}", [st.get("whole", {}).get(k) for k in ("viewers_stalled", "viewers", "stalls", "viewer_seconds")]),
        ("video: the origin without a new part for > 3 parts (every player runs dry): times, longest wait s",
         "{}, {}", [sum(g["gaps"] for g in v.get("origin_gaps", {}).get("whole", {}).values()),
                    max((g["longest_s"] or 0 for g in v.get("origin_gaps", {}).get("whole", {}).values()), default=None)]),
        ("video: origin requests per URL through nginx, parts mean / max; blocking reloads mean / max",
         "{} / {}; {} / {}", [nx.get("part", {}).get("per_url_mean"), nx.get("part", {}).get("per_url_max"),
                              nx.get("blocking", {}).get("per_url_mean"), nx.get("blocking", {}).get("per_url_max")]),
        ("video: requests at nginx / that reached an origin, per s", "{} / {}",
         [round(nx["requests"] / nx["seconds"], 1) if nx.get("seconds") else None,
          round(sum(x["origin_requests"] for x in (nx.get("part", {}), nx.get("blocking", {}), nx.get("playlist", {}))
                    if x) / nx["seconds"], 1) if nx.get("seconds") else None]),
        ("video: HLS requests the nodes answered per s, node 0 / node 1, chat window (collab_program_requests; "
         "the prober's ~12/s go to the producing node)",
         "{}", [vw["chat"].get("hls_requests_per_s")]),
        (f"**video: {made_on}'s program threads (compose + encode 720p + 360p), % of a core: chat / Q&A / poll**",
         "{} / {} / {}", [_pct(vw[k].get("node0_program_threads_cores")) for k in ("chat", "qa", "poll")]),
    ]
    if v.get("media_node"):
        out.append(("video: the media node's whole process (program threads, relay link, notices), % of a core: "
                    "chat / Q&A / poll", "{} / {} / {}",
                    [_pct(vw[k].get("people_cores", {}).get("media")) for k in ("chat", "qa", "poll")]))
    if without and not v.get("media_node") and "start_window" in r["late"] and "start_window" in without["late"]:
        sw1, sw0 = r["late"]["start_window"], without["late"]["start_window"]
        prog = sw1.get("video", {}).get("node0_program_threads_cores", 0.0) * sw1["wall"]
        extra_s = sum(sw1["server_cpu_s"]) - sum(sw0["server_cpu_s"]) - prog
        out.append(("video: server CPU ms per program.watch at the start, at most: (start-window CPU with - without - "
                    "program threads) / asks on the program-on push; the presenter's relay and HLS answers are in it too",
                    "{}", [round(1e3 * extra_s / t["heard_on"], 2)
                                                                     if t.get("heard_on") else None]))
    if without:
        extra = []
        for k in ("chat", "qa", "poll"):
            w0, w1 = without[k]["server_cpu_pct"], r[k]["server_cpu_pct"]
            prog = 0.0 if v.get("media_node") else _pct(vw[k].get("node0_program_threads_cores")) or 0.0
            extra.append([round(b - a - (prog if i == 0 else 0.0), 1) for i, (a, b) in enumerate(zip(w0, w1))])
        out.append(("video: the nodes' other video work (relay, program.watch, bus, HLS answers), with - without - "
                    "program threads, % of a core per node: chat / Q&A / poll (below 0: a full machine makes the "
                    "nodes' batches bigger and cheaper per item)", "{}; {}; {}", extra))
    whole_ev = ev.get("whole", {})
    out += [
        (f"**video: program behind its clock on {made_on}: times (frames skipped), whole; chat / Q&A / poll**",
         "{} ({}); {} / {} / {}", [whole_ev.get(maker, {}).get("behind"), whole_ev.get(maker, {}).get("frames_skipped"),
                                  *[ev.get(k, {}).get(maker, {}).get("frames_skipped") for k in ("chat", "qa", "poll")]]),
        ("video: program started / stopped while watched (all nodes); runs the viewers saw anew",
         "{} / {}; {}", [sum(x.get("started", 0) for x in whole_ev.values()),
                         sum(x.get("stopped", 0) for x in whole_ev.values()), v["viewers"]["new_runs_seen"]]),
        ("video: people's processes, % of a core (chat window): presenter / viewers / nginx / prober",
         "{} / {} / {} / {}", [_pct(vw["chat"].get("people_cores", {}).get(k)) for k in ("publisher", "viewers", "nginx", "prober")]),
    ]
    return out


def _pct(cores):
    return None if cores is None else round(100 * cores, 1)


def _d(a, b) -> str:
    """with - without, for numbers (lists element by element); blank for anything else."""
    if isinstance(a, bool) or isinstance(b, bool):
        return ""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        d = round(b - a, 2)
        return "0" if d == 0 else ("+" if d > 0 else "") + _f(d)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        parts = [_d(x, y) for x, y in zip(a, b)]
        return " / ".join(parts) if any(parts) else ""
    return ""


def _cell(template: str, values: list) -> str:
    return template.format(*(_f(v) for v in values))


def table(r: dict) -> str:
    return "\n".join(["| metric | value |", "|---|---|",
                      *(f"| {k} | {_cell(t, vs)} |" for k, t, vs in rows(r) + group_phase.rows(r) + video_rows(r, None))])


def compare(runs: dict) -> str:
    """Each row without and with video side by side, with the difference; then the video rows."""
    a, b = runs.get("without"), runs["with"]
    out = ["| metric | without video | with video | with - without |", "|---|---|---|---|"]
    if a is not None:
        for (k, t, va), (_, _, vb) in zip(rows(a), rows(b)):
            diff = "" if k.startswith(("load average", "CPU outside")) else " / ".join(x for x in (_d(x, y) for x, y in zip(va, vb)) if x)
            out.append(f"| {k} | {_cell(t, va)} | {_cell(t, vb)} | {diff} |")
    else:
        out += [f"| {k} | | {_cell(t, vs)} | |" for k, t, vs in rows(b)]
    ga = group_phase.rows(a) if a is not None else []
    for i, (k, t, vb) in enumerate(group_phase.rows(b)):
        out.append(f"| {k} | {_cell(t, ga[i][2]) if i < len(ga) else ''} | {_cell(t, vb)} | |")
    out += [f"| {k} | | {_cell(t, vs)} | |" for k, t, vs in video_rows(b, a)]
    return "\n".join(out)


def notes(r: dict) -> list[str]:
    out = []
    hot = max(r["join"]["client_cpu_pct"] + r["chat"]["client_cpu_pct"] + r["qa"]["client_cpu_pct"]
              + r["poll"]["client_cpu_pct"])
    out.append(f"busiest client worker: {hot:.0f}% of a core" + (
        " - the load generator may limit these numbers" if hot >= CLIENT_SATURATED else " (headroom left)"))
    lags = {k: r[k]["max_send_lag_ms"] for k in ("chat", "qa", "poll")}
    out.append(f"max send lag behind schedule ms (chat / votes / poll answers): {_f(list(lags.values()))}")
    if r["attendance"]["worst"]:
        out.append(f"attendance mismatches (server - client s, user): {r['attendance']['worst']}")
    for x in r["attendance"]["rejoiners"]:
        if not x["ok"]:
            out.append(f"rejoiner {x}")
    if r["chat"]["closed"]:
        out.append(f"connections closed during chat: {r['chat']['closed']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.national")
    ap.add_argument("--quick", action="store_true", help="2,000 teachers, shorter windows")
    for name, default in vars(Config()).items():
        if isinstance(default, bool):
            ap.add_argument("--" + name.replace("_", "-"), action="store_true")
            continue
        ap.add_argument("--" + name.replace("_", "-"), type=type(default), default=None)
    ap.add_argument("--profile", default="")
    ns = ap.parse_args()
    cfg = Config()
    if ns.quick:
        cfg.teachers, cfg.late, cfg.join_seconds, cfg.chat_seconds, cfg.viewers = 2000, 200, 15.0, 20.0, 200
    for name in vars(Config()):
        v = getattr(ns, name)
        if v is not None and v is not False:  # 0 is a value (--front-row 0, --people-nice 0)
            setattr(cfg, name, v)
    video = cfg.video or cfg.video_only
    args = sys.argv[1:]  # where the database and Redis are does not change what is measured
    neutral = ("--redis-url", "--pg-url", "--quiet-wait")  # options that do not change what is measured
    plain = [a for k, a in enumerate(args) if a not in ("--quick", "--video", "--groups", *neutral)
             and (k == 0 or args[k - 1] not in neutral)]
    profile = ns.profile or ("custom" if plain else ("quick" if ns.quick else "default") + ("-video" if video else "")
                             + ("-groups" if cfg.groups else ""))
    raise_nofile()
    info = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
            "command": "python -m benchmarks.national " + shlex.join(sys.argv[1:]), "config": vars(cfg)}
    res = {**info, **run(cfg)}
    sec = section(profile, res)
    print(sec)
    keep_results(HERE, profile, res, "# National activity benchmark results\n\nGenerated by `python -m benchmarks.national`; "
         "see benchmarks/README.md.", section)


def section(profile: str, r: dict) -> str:
    c, m = r["config"], r["machine"]
    head = (f"## {profile}: {c['teachers']:,} teachers ({c['late']} late) over {c['nodes']} nodes, "
            f"chat {c['chat_rate']:g}/s for {c['chat_seconds']:g} s"
            + (f", then a group phase (groups of {c['group_size']})" if c.get("groups") else ""))
    ran = f"Run {r['when']} at {m['commit']}{' (collab/ dirty)' if m['collab_dirty'] else ''} on {m['cpus']} cores / " \
          f"{m['memory_gb']} GB"
    if "runs" not in r:
        return "\n".join([head, "", f"{ran}, load before {m['loadavg_before']}. Command: `{r['command']}`", "",
                          table(r), "", *(f"- {n}" for n in notes(r))])
    runs = r["runs"]
    for x in runs.values():
        x.setdefault("config", c)
    loads = "; ".join(f"before the run {k} video {x.get('load_before')} (machine {x.get('quiet', {}).get('busy_pct')}% "
                      f"busy after waiting {x.get('quiet', {}).get('waited_s')} s for other work)" for k, x in runs.items())
    v = runs["with"].get("video") or {}
    lines = [head + f"; without and with video ({c['viewers']:,} LL-HLS viewers at {c['video_rungs']} through "
                    f"nginx, front row {c['front_row']})", "",
             f"{ran}. Load average (1, 5, 15 min): {loads}. Command: `{r['command']}`", "", compare(runs), ""]
    for k, x in runs.items():
        lines += [f"- {k} video: {n}" for n in notes(x)]
    if v:
        lines += [f"- with video: {n}" for n in video_notes(runs["with"])]
    return "\n".join(lines)


def video_notes(r: dict) -> list[str]:
    v = r["video"]
    out = [f"viewers' requests by answer: {_f(v['viewers']['statuses'])}",
           f"parts the prober saw available at the producing node, per rung: {_f(v.get('origin_parts'))}; prober errors "
           f"{_f(v.get('prober_errors'))}; viewer parts it had not seen: {_f(v['parts']['whole'].get('not_seen_by_prober'))} "
           f"(e.g. {v['parts']['whole'].get('not_seen_sample')})",
           f"nginx: {_f(v['nginx'].get('statuses'))}",
           f"latest part a viewer fetched: {_f(v['stalls']['whole'].get('worst_part_s'))} s after it was available; "
           f"stalls per window (chat / Q&A / poll): {_f([v['stalls'][k]['stalls'] for k in ('chat', 'qa', 'poll')])}, "
           f"origin gaps > 1.5 s then: {_f([sum(g['gaps'] for g in v['origin_gaps'][k].values()) for k in ('chat', 'qa', 'poll')])}; "
           f"teachers' program.watch "
           f"asks {_f(v['teachers'].get('asks'))} (on joining, and on the program-on push without an address); answers settled "
           f"{_f(v.get('answers_settled_s'))} s after the viewers fetched"]
    errs = {k: x["errors"] for k, x in v.get("node_events", {}).get("whole", {}).items() if x["errors"]}
    if errs:
        out.append(f"node errors while watched: {errs}")
    return out


if __name__ == "__main__":
    main()
