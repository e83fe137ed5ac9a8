"""Fan-out benchmark: N attendees on one channel across nodes, events at a fixed rate, collab vs
python-socketio on the same machine, Redis and workload.

    .venv/bin/python -m benchmarks.fanout            # the issue's scenario: 2 x 5,000 attendees, 100 ev/s, 60 s
    .venv/bin/python -m benchmarks.fanout --quick    # 2 x 1,000 attendees, 20 s

Writes benchmarks/fanout/results.md and results.json (one section per profile). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, datetime

from benchmarks.fanout import report
from benchmarks.fanout.limits import raise_nofile
from benchmarks.fanout.run import Config, run


def parse(argv: list[str]) -> tuple[str, Config]:
    d = Config()
    p = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1,000 attendees per node for 20 s")
    p.add_argument("--attendees-per-node", type=int)
    p.add_argument("--nodes", type=int, default=d.nodes)
    p.add_argument("--rate", type=float, default=d.rate, help="events per second, all senders together")
    p.add_argument("--duration", type=float, help="seconds of publishing")
    p.add_argument("--client-procs", type=int, default=d.client_procs, help="attendee worker processes")
    p.add_argument("--event-bytes", type=int, default=d.event_bytes)
    p.add_argument("--collab-setting", action="append", default=[], metavar="NAME=VALUE",
                   help="pass a setting to the collab servers, e.g. flush_interval_large=0.05 (repeatable); "
                        "by default they run with their own defaults")
    p.add_argument("--drain-timeout", type=float, default=d.drain_timeout)
    p.add_argument("--systems", default=",".join(d.systems), help="comma-separated: collab,socketio")
    p.add_argument("--pg-url", default=d.pg_url, help="an existing database; a fresh one is created next to it")
    p.add_argument("--redis-url", default=d.redis_url, help="this Redis db is FLUSHed at the start of each system")
    p.add_argument("--py-spy", default="", metavar="DIR", help="record py-spy profiles of the servers into DIR")
    p.add_argument("--profile", help="name of the results section (default: quick, default or custom)")
    a = p.parse_args(argv)
    per_node = a.attendees_per_node or (1000 if a.quick else d.attendees_per_node)
    duration = a.duration or (20.0 if a.quick else d.duration)
    cfg = Config(attendees_per_node=per_node, nodes=a.nodes, rate=a.rate, duration=duration,
                 client_procs=a.client_procs, event_bytes=a.event_bytes, collab_settings=a.collab_setting,
                 drain_timeout=a.drain_timeout, pg_url=a.pg_url, redis_url=a.redis_url,
                 systems=[s.strip() for s in a.systems.split(",") if s.strip()], py_spy=a.py_spy)
    for host in (a.pg_url, a.redis_url):  # traffic goes to this machine only
        if "127.0.0.1" not in host and "localhost" not in host:
            p.error(f"only local services are allowed: {host}")
    is_default = (per_node, duration, a.nodes, a.rate) == (d.attendees_per_node, d.duration, d.nodes, d.rate)
    standard = not a.collab_setting and (a.client_procs, a.event_bytes) == (d.client_procs, d.event_bytes)
    profile = a.profile or ("quick" if standard and a.quick and per_node == 1000 and duration == 20.0 else
                            "default" if standard and is_default else "custom")
    return profile, cfg


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    profile, cfg = parse(argv)
    raise_nofile()
    started = report.machine()
    res = run(cfg)
    res["machine"] = started
    res["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    res["command"] = " ".join([".venv/bin/python -m benchmarks.fanout", *map(shlex.quote, argv)])
    c, s = res["systems"].get("collab"), res["systems"].get("socketio")
    if c and s and c["events_per_cpu_s"] and s["events_per_cpu_s"]:
        res["ratio"] = round(c["events_per_cpu_s"] / s["events_per_cpu_s"], 2)
    print(report.save(profile, res))


if __name__ == "__main__":
    main()
