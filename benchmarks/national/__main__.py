"""python -m benchmarks.national [--quick] [options]: see benchmarks/README.md."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.fanout.limits import raise_nofile
from benchmarks.fanout.report import CLIENT_SATURATED, cell, machine, keep_results
from benchmarks.national.run import Config, run

_f = cell

HERE = Path(__file__).resolve().parent




def _p(d: dict) -> str:
    return " / ".join(_f(d.get(k)) for k in ("p50", "p95", "p99"))


def table(r: dict) -> str:
    j, lt, c, q, p, a = r["join"], r["late"], r["chat"], r["qa"], r["poll"], r["attendance"]
    rows = [
        ("join: teachers joined / offered (failures)", f"{_f(j['ok'])} / {_f(j['offered'])} ({_f(j['failed'])})"),
        ("join rate achieved, connect+snapshot+subscribe/s (both nodes)", f"{_f(j['per_second'])} over {_f(j['seconds'])} s"),
        ("join latency connect->subscribe reply p50 / p95 / p99 ms", _p(j["latency_ms"])),
        ("snapshot latency during the storm p50 / p95 / p99 ms", _p(j["snapshot_ms"])),
        ("server CPU µs per join (snapshot included)", _f(j["server_cpu_us_per_join"])),
        ("server CPU % per node during the storm", _f(j["server_cpu_pct"])),
        ("late joiners after start: joined / offered", f"{_f(lt['ok'])} / {_f(lt['offered'])} ({_f(lt['failed'])})"),
        ("**late joiner snapshot latency p50 / p95 / p99 ms**", _p(lt["snapshot_ms"])),
        ("late joiner connect->subscribe p50 / p95 / p99 ms", _p(lt["join_ms"])),
        ("chat: posted ok (errors)", f"{_f(c['posted_ok'])} ({_f(c['post_errors'])})"),
        ("chat rate offered / achieved msgs/s", f"{_f(c['offered_rate'])} / {_f(c['achieved_rate'])}"),
        ("chat deliveries expected / received", f"{_f(c['expected_deliveries'])} / {_f(c['chat_delivered'])}"),
        ("**chat delivery latency p50 / p95 / p99 ms**", _p(c["latency_ms"])),
        ("**server CPU µs per delivered event (chat window)**", _f(c["server_cpu_us_per_event"])),
        ("server CPU % per node (chat window)", _f(c["server_cpu_pct"])),
        ("Redis / PostgreSQL CPU % (chat window)", f"{_f(c['redis_cpu_pct'])} / {_f(c['postgres_cpu_pct'])}"),
        ("Q&A: questions, votes ok (errors)", f"{_f(q['questions'])}, {_f(q['votes_ok'])} ({_f(q['vote_errors'])})"),
        ("votes sent over / last vote reply after s", f"{_f(r['config']['vote_seconds'])} / {_f(q.get('last_vote_reply_s'))}"),
        ("sampled clients whose last qa_votes equal the final totals", f"{_f(q['sampled_with_final_totals'])} / {_f(q['sampled_clients'])}"),
        ("server CPU ms per upvote (Q&A window CPU / votes)",
         _f(round(1e3 * sum(q["server_cpu_s"]) / q["votes_ok"], 2) if q["votes_ok"] else None)),
        ("server CPU % per node (Q&A window)", _f(q["server_cpu_pct"])),
        ("poll answers ok (errors) within", f"{_f(p['answers_ok'])} ({_f(p['answer_errors'])}) in {_f(p['answer_window_s'])} s"),
        ("poll answers sent over / last answer reply after s", f"{_f(p['answer_window_s'])} / {_f(p.get('last_answer_reply_s'))}"),
        ("**last poll answer -> final tally on every client ms**", _f(p["last_answer_to_final_tally_everywhere_ms"])),
        ("  of which: last answer -> show_results sent / show_results reply ms",
         f"{_f(p['show_results_after_last_answer_ms'])} / {_f(p['show_results_reply_ms'])}"),
        ("clients that saw the final tally / missing", f"{_f(p['clients_seen_final'])} / {_f(p['clients_missing_final'])}"),
        ("server CPU ms per poll answer (poll window CPU / answers)",
         _f(round(1e3 * sum(p["server_cpu_s"]) / p["answers_ok"], 2) if p["answers_ok"] else None)),
        ("server CPU % per node (poll window)", _f(p["server_cpu_pct"])),
        ("**attendance: server seconds within 1 s of client presence**", f"{_f(a['match_within_1s'])} / {_f(a['compared'])} (rows missing {_f(a['missing_rows'])})"),
        ("attendance: all within 1 s after (s since everyone left; n/a: not within 45 s); matching then",
         f"{_f(a.get('settled_after_s'))}; {_f(a.get('match_when_settled'))}, rejoiners {_f(a.get('rejoiners_ok_when_settled'))}"),
        ("attendance |server - client| s p50 / p99 / max (3 s after)", " / ".join(_f(a["abs_diff_s"][k]) for k in ("p50", "p99", "max"))),
        ("rejoiners on the other node: rejoins and seconds right", f"{_f(a['rejoiners_ok'])} / {_f(len(a['rejoiners']))} (rejoined {_f(r['rejoin']['ok'])})"),
        ("client workers CPU % of a core: storm", _f(j["client_cpu_pct"])),
        ("client workers CPU % of a core: chat / Q&A / poll windows",
         f"{_f(c['client_cpu_pct'])}; {_f(q['client_cpu_pct'])}; {_f(p['client_cpu_pct'])}"),
        ("machine CPU busy %: storm / chat / Q&A / poll",
         " / ".join(_f(x["machine_busy_pct"]) for x in (j, c, q, p))),
        ("server errors logged", _f(r.get("server_errors_logged"))),
    ]
    return "\n".join(["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


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
        if name == "fast_limits":
            ap.add_argument("--fast-limits", action="store_true")
            continue
        ap.add_argument("--" + name.replace("_", "-"), type=type(default), default=None)
    ap.add_argument("--profile", default="")
    ns = ap.parse_args()
    cfg = Config()
    if ns.quick:
        cfg.teachers, cfg.late, cfg.join_seconds, cfg.chat_seconds = 2000, 200, 15.0, 20.0
    for name in vars(Config()):
        v = getattr(ns, name)
        if v not in (None, False):
            setattr(cfg, name, v)
    profile = ns.profile or ("quick" if ns.quick else "default" if sys.argv[1:] == [] else "custom")
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
    return "\n".join([
        f"## {profile}: {c['teachers']:,} teachers ({c['late']} late) over {c['nodes']} nodes, "
        f"chat {c['chat_rate']:g}/s for {c['chat_seconds']:g} s",
        "", f"Run {r['when']} at {m['commit']}{' (collab/ dirty)' if m['collab_dirty'] else ''} on {m['cpus']} cores / "
        f"{m['memory_gb']} GB, load before {m['loadavg_before']}. Command: `{r['command']}`", "",
        table(r), "", *(f"- {n}" for n in notes(r))])


if __name__ == "__main__":
    main()
