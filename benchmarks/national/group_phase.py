"""The group phase of the national activity (`--groups`, docs/groups.md), run after the discussion's
chat window so the rows before it are measured as without it:

    the host's activity.next_phase into a group_discussion phase (--group-size, random) -> every
    teacher hears groups_formed and asks group.mine (groups.py) -> the nodes' RSS with every group
    formed and nobody in any (idle groups) -> every teacher subscribes to its group's channel -> chat in
    one group of --group-chat-every -> --group-docs groups' notes opened (group.notes by a member, then
    a y-websocket client on node 0 with a ticket) -> node 0's RSS per open document.

The host moves on afterwards (run.py's next phase). `call` is run.py's call_all and `window` makes one
of its CPU windows: lent, so that this module needs nothing from run.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from typing import Awaitable, Callable

from benchmarks.docs.yws import HOST, YClient
from benchmarks.fanout.measure import percentiles_ms
from benchmarks.fanout.rawws import upgrade_request
from benchmarks.fanout.tokens import mint
from benchmarks.national.groups import chat_plan, chatting, expected_deliveries, per_item_kb

MB = 1 << 20


def plan(size: int) -> dict:
    """The agenda's group phase, after the discussion."""
    return {"kind": "group_discussion", "title": "分组研讨", "minutes": 20,
            "groups": {"size": size, "assign": "random",
                       "questions": ["本节课的教学目标达成了吗？", "哪个环节最值得借鉴？"]}}


def _ticket(port: int, doc_id: int, token: str) -> str:
    req = urllib.request.Request(f"http://{HOST}:{port}/api/docs/{doc_id}/ticket", method="POST",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["ticket"]


async def open_notes(port: int, doc_id: int, token: str) -> tuple[YClient, int]:
    """A y-websocket client on the notes, opened as a page does (a ticket, then the socket) and synced;
    and the ns that took."""
    t0 = time.perf_counter_ns()
    ticket = await asyncio.to_thread(_ticket, port, doc_id, token)
    client = YClient(port, doc_id, "", track=False)
    client.request = upgrade_request(HOST, port, f"/ws/docs/{doc_id}?ticket={ticket}")  # not yws's ?token=
    await asyncio.get_running_loop().create_connection(lambda: client, HOST, port)
    await asyncio.wait_for(asyncio.shield(client.synced), 30)
    return client, time.perf_counter_ns() - t0


async def _rss(nodes, settle: float = 2.0) -> list[int]:
    await asyncio.sleep(settle)
    return [n.rss() for n in nodes]


async def run(cfg, nodes, workers, host, aid: int, secret: str,
              call: Callable[..., Awaitable[list]], window: Callable[[], object]) -> dict:
    nw = len(workers)
    await call(workers, "groups_arm")
    rss0 = await _rss(nodes)

    # (a) assignment: the host's command, the groups_formed push, every teacher's group.mine answer
    whole, win = window(), window()
    whole.start()
    win.start()
    t_cmd = time.time_ns()
    await host.call("activity.next_phase", {"activity_id": aid})
    t_reply = time.time_ns()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = await call(workers, "groups_mine")
        if sum(g["answered"] + sum(g["errors"].values()) for g in got) >= sum(g["live"] for g in got):
            break
        await asyncio.sleep(0.2)
    assign_w = win.stop()
    full = await call(workers, "groups_mine", [{"full": True}] * nw)
    formed = next((g["formed"] for g in full if g["formed"]), None) or {}
    groups: dict[int, list[int]] = {}
    group_of: dict[int, int] = {}
    worker_of: dict[int, int] = {}
    for i, g in enumerate(full):
        for uid, gid in g["members"]:
            groups.setdefault(gid, []).append(uid)
            group_of[uid], worker_of[uid] = gid, i
    sizes = sorted(len(m) for m in groups.values())
    res: dict = {"assign": {
        "host_command_ms": round((t_reply - t_cmd) / 1e6, 1), "groups": formed.get("groups"),
        "members": formed.get("members"), "live": sum(g["live"] for g in full), "seats": sum(g["seats"] for g in full),
        "heard": sum(g["heard"] for g in full), "answered": sum(g["answered"] for g in full),
        "asks": sum(g["asks"] for g in full), "errors": _merge(g["errors"] for g in full),
        "groups_answered": len(groups), "group_sizes": [sizes[0], sizes[-1]] if sizes else None,
        "formed_ms": percentiles_ms([x - t_cmd for g in full for x in g["formed_ns"]], (50, 95, 100)),
        "mine_ms": percentiles_ms([x - t_cmd for g in full for x in g["mine_ns"]]), **assign_w}}
    rss1 = await _rss(nodes)
    res["idle"] = {"rss_before": rss0, "rss_after": rss1,
                   "kb_per_group": [per_item_kb(a, b, len(groups)) for a, b in zip(rss0, rss1)]}

    # every teacher on its group's channel, as the page does
    subs = await call(workers, "groups_subscribe")
    subscribed: dict[int, set[int]] = {}
    for s in subs:
        for uid in s["subscribed"]:
            subscribed.setdefault(group_of[uid], set()).add(uid)
    rss2 = await _rss(nodes)
    res["subscribe"] = {"ok": sum(s["ok"] for s in subs), "errors": _merge(s["errors"] for s in subs),
                        "ms": percentiles_ms([x for s in subs for x in s["ns"]]), "rss_after": rss2,
                        "kb_per_group": [per_item_kb(a, b, len(subscribed)) for a, b in zip(rss1, rss2)]}

    # (b) chat inside one group of every --group-chat-every
    tasks: list[list] = [[] for _ in range(nw)]
    for delay, uid, gid in chat_plan(groups, cfg.group_chat_every, cfg.group_chat_interval, cfg.group_chat_seconds):
        tasks[worker_of[uid]].append((delay, uid, "group.post", {"activity_id": aid, "group_id": gid, "body": "@gstamp"}))
    win.start()
    posted = await call(workers, "do", [{"tasks": t, "keep": True} for t in tasks])
    posts = [(k["message"]["user"]["id"], k["message"]["group_id"]) for p in posted for k in p["kept"]]
    expected = expected_deliveries(posts, subscribed)
    deadline, last, still = time.monotonic() + 15, -1, 0.0
    while time.monotonic() < deadline:
        got = sum(r["received"] for r in await call(workers, "groups_report"))
        if got >= expected:
            break
        still = still + 0.5 if got == last else 0.0
        if still >= 2.0:
            break
        last = got
        await asyncio.sleep(0.5)
    chat_w = win.stop()
    reps = await call(workers, "groups_report")
    talking = chatting(groups, cfg.group_chat_every)
    res["chat"] = {"groups": len(talking), "of": len(groups), "posted_ok": len(posts),
                   "post_errors": _merge(p["errors"] for p in posted),
                   "offered_rate": round(len(talking) / cfg.group_chat_interval, 1),
                   "max_send_lag_ms": max((p["max_lag_ms"] for p in posted), default=None),
                   "expected": expected, "received": sum(r["received"] for r in reps),
                   "own": sum(r["own"] for r in reps), "leaks": sum(r["leaks"] for r in reps),
                   "latency_ms": percentiles_ms([x for r in reps for x in r["latencies_ns"]]), **chat_w}

    # (c) notes: made on the first group.notes, opened with y-websocket clients on node 0
    docs_for = sorted(groups)[: cfg.group_docs]
    asks: list[list] = [[] for _ in range(nw)]
    for gid in docs_for:
        uid = min(groups[gid])
        asks[worker_of[uid]].append((uid, gid))
    rss3 = await _rss(nodes)
    made = [x for part in await call(workers, "groups_notes", asks) for x in part]
    docs = [(uid, doc) for uid, _, doc, _ in made if isinstance(doc, int)]
    port = nodes[0].port
    gate = asyncio.Semaphore(20)

    async def opened(uid: int, doc: int):
        async with gate:
            try:
                return await open_notes(port, doc, mint(secret, uid, "teacher"))
            except Exception as exc:  # noqa: BLE001 - counted
                return f"{type(exc).__name__}: {str(exc)[:40]}"

    clients = await asyncio.gather(*(opened(u, d) for u, d in docs))
    ok = [c for c in clients if isinstance(c, tuple)]
    rss4 = await _rss(nodes)
    whole_w = whole.stop()
    for c, _ in ok:
        c.close()
    res["notes"] = {"asked": len(docs_for), "made": len(docs), "ask_errors": _count(d for _, _, d, _ in made
                                                                                    if not isinstance(d, int)),
                    "ask_ms": percentiles_ms([ns for _, _, d, ns in made if isinstance(d, int)]),
                    "open": len(ok), "open_errors": _count(c for c in clients if not isinstance(c, tuple)),
                    "open_ms": percentiles_ms([ns for _, ns in ok]), "rss_before": rss3, "rss_after": rss4,
                    "kb_per_doc": per_item_kb(rss3[0], rss4[0], len(ok)),
                    "mb_other_nodes": [round((b - a) / MB, 1) for a, b in zip(rss3[1:], rss4[1:])]}
    res["window"] = whole_w
    return res


def _merge(dicts) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def _count(xs) -> dict:
    return dict(Counter(xs))


# -- the table's rows (__main__.py) ---------------------------------------------------------------------


def _mb(before: list[int], after: list[int]) -> list[float]:
    return [round((b - a) / MB, 1) for a, b in zip(before, after)]


def rows(r: dict) -> list[tuple[str, str, list]]:
    """The group phase's rows: (label, template, values), as __main__.rows."""
    g = r.get("groups")
    if not g:
        return []
    a, idle, sub, c, n, w = g["assign"], g["idle"], g["subscribe"], g["chat"], g["notes"], g["window"]
    size = r["config"].get("group_size")
    return [
        (f"**groups: the host's next_phase into the group phase (groups of {size}, random) answered ms**",
         "{}", [a["host_command_ms"]]),
        ("groups: formed / teachers assigned (the server's groups_formed) / live teachers; smallest / largest group",
         "{} / {} / {}; {}", [a["groups"], a["members"], a["live"], a["group_sizes"]]),
        ("**groups: next_phase sent -> groups_formed push p50 / p95 / max ms**", "{} / {} / {}",
         [a["formed_ms"][k] for k in ("p50", "p95", "p100")]),
        ("**groups: next_phase sent -> the teacher holds its group.mine answer p50 / p95 / p99 / max ms**",
         "{} / {} / {} / {}", [a["mine_ms"][k] for k in ("p50", "p95", "p99", "p100")]),
        ("groups: teachers who heard groups_formed / hold their group; group.mine asks (errors)",
         "{} / {}; {} ({})", [a["heard"], a["answered"], a["asks"], a["errors"]]),
        ("groups: server CPU s per node from next_phase until every answer, over s", "{} over {}",
         [[round(x, 2) for x in a["server_cpu_s"]], round(a["wall"], 1)]),
        ("groups: server CPU ms per group.mine ask (that window's CPU of both nodes, the forming included, / asks)",
         "{}", [round(1e3 * sum(a["server_cpu_s"]) / a["asks"], 2) if a["asks"] else None]),
        ("**groups: idle groups: node RSS growth, forming + every group.mine answered, MB per node (KB per group)**",
         "{} ({})", [_mb(idle["rss_before"], idle["rss_after"]), idle["kb_per_group"]]),
        ("groups: every teacher subscribed to its group's channel: ok (errors); subscribe p50 / p99 ms; "
         "node RSS growth MB per node (KB per group)", "{} ({}); {} / {}; {} ({})",
         [sub["ok"], sub["errors"], sub["ms"]["p50"], sub["ms"]["p99"], _mb(idle["rss_after"], sub["rss_after"]),
          sub["kb_per_group"]]),
        ("groups: chat in 1 group of {} ({} of {} groups, a message every {} s each, {}/s in all): posted ok (errors)"
         .format(r["config"].get("group_chat_every"), c["groups"], c["of"], r["config"].get("group_chat_interval"),
                 c["offered_rate"]), "{} ({})", [c["posted_ok"], c["post_errors"]]),
        ("**groups: chat deliveries to group-mates expected / received; messages seen outside their group**",
         "{} / {}; {}", [c["expected"], c["received"], c["leaks"]]),
        ("**groups: chat post -> group-mates' receipt p50 / p95 / p99 ms**", "{} / {} / {}",
         [c["latency_ms"][k] for k in ("p50", "p95", "p99")]),
        ("groups: server CPU % per node (group chat window)", "{}", [c["server_cpu_pct"]]),
        ("groups: notes: group.notes asked / made (errors), p50 / p95 ms (made on the first ask)", "{} / {} ({}), {} / {}",
         [n["asked"], n["made"], n["ask_errors"], n["ask_ms"]["p50"], n["ask_ms"]["p95"]]),
        ("groups: notes opened on node 0 with y-websocket clients (ticket + open + sync): open (errors), p50 / p95 ms",
         "{} ({}), {} / {}", [n["open"], n["open_errors"], n["open_ms"]["p50"], n["open_ms"]["p95"]]),
        ("**groups: memory per open group document: node 0 RSS growth / documents, KB (other node MB)**",
         "{} ({})", [n["kb_per_doc"], n["mb_other_nodes"]]),
        ("groups: server CPU % per node over the group window (next_phase until the notes are open, s)",
         "{} ({})", [w["server_cpu_pct"], round(w["wall"], 1)]),
        ("groups: machine CPU busy %; CPU outside the run, cores (group window)", "{}; {}",
         [w["machine_busy_pct"], w.get("outside_cores")]),
    ]
