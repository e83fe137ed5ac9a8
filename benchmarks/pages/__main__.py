"""python -m benchmarks.pages [--quick] [options]: see benchmarks/README.md ("Pages").

One `collab serve` on a fresh SQLite database, seeded (benchmarks/pages/seed.py); headless chromium
(Debian's, as tests/browsing.py launches it) loads each main page N times cold (a fresh browser
context each time) and N times warm (one context), then measures how fast a live chat message reaches
a room page that is already open. Only 127.0.0.1 is contacted; the server and the browser are stopped
at the end, also on errors."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORKDIR = Path(tempfile.mkdtemp(prefix="collab-bench-pages-"))
# the harness writes server logs to COLLAB_TEST_ARTIFACTS: keep them out of the repository's test-artifacts
os.environ.setdefault("COLLAB_TEST_ARTIFACTS", str(WORKDIR))
sys.path.insert(0, str(ROOT / "tests"))

import harness  # noqa: E402
import psutil  # noqa: E402
from browsing import ARGS, CHROMIUM  # noqa: E402

from benchmarks.fanout.report import cell, machine, keep_results  # noqa: E402
from benchmarks.pages import measure  # noqa: E402
from benchmarks.pages.seed import seed  # noqa: E402
from collab.store import schema  # noqa: E402

_f = cell
ONLINE = "document.querySelector('#conn.online')"


def pages(w: dict) -> list[dict]:
    """Every page measured: name, path, who opens it, the ready condition (a JS expression)."""
    leader = w["studio_users"]["leader"][1]  # a teacher who leads the studio: home shows it and its doc
    org = w["users"]["organizer"][1]
    live, ended = w["live"], w["ended"]
    return [
        {"name": "baseline: /healthz (JSON, no script)", "path": "/healthz", "token": None, "baseline": True,
         "ready": "document.readyState === 'complete'", "ready_text": "load event"},
        {"name": "baseline: /static/collab.css (3.6 KB file)", "path": "/static/collab.css", "token": None,
         "baseline": True, "ready": "document.readyState === 'complete'", "ready_text": "load event"},
        {"name": "home /", "path": "/", "token": leader,
         "ready": f"{ONLINE} && document.querySelector('#activities li a') && "
                  "document.querySelector('#studios > li ul li') && document.querySelector('#feed') && "
                  "document.querySelector('#places:not([hidden])')",
         "ready_text": "`#conn.online`, the activities listed, my studio with its document"},
        {"name": "/activities", "path": "/activities", "token": leader,
         "ready": "(() => { const l = document.querySelector('#list'); const li = l.querySelectorAll(':scope > li');"
                  f" return !l.hasAttribute('aria-busy') && li.length >= {w['upcoming']} && "
                  "[...li].every(x => x.dataset.ready === '1'); })()",
         "ready_text": f"the upcoming tab's {w['upcoming']} items each filled (`data-ready`)"},
        {"name": "room /activities/{id}", "path": f"/activities/{live}", "token": leader,
         "ready": f"{ONLINE} && document.querySelectorAll('#chat > li').length >= {w['live_chat_in_snapshot']}"
                  f" && document.querySelectorAll('#questions > li').length >= "
                  f"{min(w['live_questions_in_snapshot'], 1)}",
         "ready_text": f"`#conn.online` and the snapshot's {w['live_chat_in_snapshot']} messages in `#chat`"},
        {"name": "replay /activities/{id}/replay", "path": f"/activities/{ended}/replay", "token": leader,
         "ready": f"document.querySelectorAll('#record > li').length >= {w['replay_chat'] + w['replay_questions']}",
         "ready_text": f"`#record` holds >= {w['replay_chat']} chat + {w['replay_questions']} questions"},
        {"name": "studio /studios/{id}", "path": f"/studios/{w['studio']}", "token": leader,
         "ready": f"{ONLINE} && document.querySelector('#posts[data-live=\"1\"] > *') && "
                  "document.querySelector('#docs li')",
         "ready_text": "`#conn.online`, posts loaded and subscribed (`#posts[data-live]`), the documents listed"},
        {"name": "document /docs/{id}", "path": f"/docs/{w['doc']}", "token": leader,
         "ready": "document.querySelector('#conn.synced')", "ready_text": "`#conn.synced`"},
        {"name": "attendance /activities/{id}/attendance (organizer)", "path": f"/activities/{ended}/attendance",
         "token": org,
         "ready": f"document.querySelectorAll('#rows tr').length >= {w['attendance_rows']} && "
                  "document.querySelector('#chart-svg svg')",
         "ready_text": f"the {w['attendance_rows']} rows and the chart drawn"},
    ]


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(loads: list[dict]) -> dict:
    ok = [x for x in loads if x.get("ok")]
    out = {"n": len(loads), "failed": len(loads) - len(ok), "errors": sorted({x["error"] for x in loads
                                                                           if not x.get("ok")})[:3]}
    if not ok:
        return out

    def med(key, scale=1.0):
        vals = [x[key] * scale for x in ok if x.get(key) is not None]
        if not vals:
            return None
        m = statistics.median(vals)
        return int(m) if isinstance(m, float) and m.is_integer() and scale == 1.0 and key != "ready" else m

    ready = [x["ready"] for x in ok]
    out.update({
        "ready_p50": pct(ready, 0.5), "ready_p95": pct(ready, 0.95), "ready_max": max(ready),
        "wall_p50": pct([x["wall_ms"] for x in ok], 0.5),
        "ttfb_p50": med("ttfb"), "dcl_p50": med("dom_content_loaded"),
        "requests": med("requests"), "from_cache": med("from_cache"), "not_done": med("not_done"),
        "transfer_kb": med("transfer", 1 / 1024), "body_kb": med("body", 1 / 1024),
        "decoded_kb": med("decoded", 1 / 1024), "ws_kb": med("ws_bytes", 1 / 1024),
        "script_ms": med("ScriptDuration", 1000), "task_ms": med("TaskDuration", 1000),
        "layout_style_ms": (lambda a, b: None if a is None or b is None else a + b)(
            med("LayoutDuration", 1000), med("RecalcStyleDuration", 1000)),
        "heap_mb": med("JSHeapUsedSize", 1 / 2**20),
    })
    return out


async def live_latency(browser, server, w: dict, posts: int, gap: float) -> dict:
    """A teacher's room page, opened after the seeding (a late joiner), ready; then teachers post
    chat messages over /ws one every `gap` s; per message: from just before the Python client sends
    `chat.post` to the moment the page's MutationObserver saw it added to `#chat` (Date.now(), same
    machine clock), and to when Playwright's wait_for_function (polling every 5 ms) returned."""
    ctx = await measure.new_context(browser, w["studio_users"]["member"][1])
    page = await ctx.new_page()
    room = next(p for p in pages(w) if p["name"].startswith("room"))
    await page.goto(server.url + room["path"])
    await page.wait_for_function(room["ready"], timeout=20_000, polling=20)
    await page.evaluate(measure.CHAT_WATCH_JS)
    await asyncio.sleep(1.5)  # the subscribe after the snapshot is answered
    senders = [await harness.WsClient(server.ws_url).open(tok) for _, tok in w["users"]["teachers"][:5]]
    dom_ms, seen_ms, reply_ms, failed = [], [], [], 0
    try:
        for i in range(posts):
            c = senders[i % len(senders)]  # each sender posts every len(senders) * gap s: under 1 post/s
            t0 = time.perf_counter()
            t_send = time.time()
            task = asyncio.create_task(c.call("chat.post", activity_id=w["live"],
                                              body=f"[bench-live-{i}] 老师们好, 这是一条实时消息。"))
            task.add_done_callback(lambda _t, t0=t0: reply_ms.append((time.perf_counter() - t0) * 1000))
            try:
                await page.wait_for_function(f"window.__seen && window.__seen['{i}'] !== undefined",
                                             timeout=10_000, polling=5)
                seen_ms.append((time.perf_counter() - t0) * 1000)
                dom_ms.append(await page.evaluate(f"window.__seen['{i}']") - t_send * 1000)
            except Exception:  # noqa: BLE001 - counted below
                failed += 1
            r = await task
            if "ok" not in r:
                failed += 1
            await asyncio.sleep(max(0.0, gap - (time.perf_counter() - t0)))
    finally:
        for c in senders:
            await c.close()
        await ctx.close()
    return {"posts": posts, "failed": failed,
            "dom_p50": pct(dom_ms, 0.5), "dom_p95": pct(dom_ms, 0.95), "dom_max": max(dom_ms, default=None),
            "wait_p50": pct(seen_ms, 0.5), "wait_p95": pct(seen_ms, 0.95),
            "reply_p50": pct(reply_ms, 0.5), "reply_p95": pct(reply_ms, 0.95)}


async def http_facts(server) -> dict:
    """How the server serves a page's biggest file and a page: compression and cache headers."""
    import httpx

    out = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for path in ("/static/dist/editor.js", "/"):
            r = await http.get(path, headers={"Accept-Encoding": "gzip, br"})
            out[path] = {k: r.headers.get(k) for k in ("content-encoding", "cache-control", "etag", "last-modified")}
    return out


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


async def run(n: int, latency_posts: int, teachers: int, chat: int, questions: int, log=print) -> dict:
    from playwright.async_api import async_playwright

    url = f"sqlite+aiosqlite:///{WORKDIR / 'bench.db'}"
    await asyncio.to_thread(schema.upgrade, url)
    server = harness.Server(url, name="pages").start()
    log(f"server {server.url}, log {server.log_path}")
    out: dict = {"server_log": str(server.log_path)}
    try:
        sproc = psutil.Process(server.proc.pid)
        log("seeding ...")
        w = await seed(server, url, teachers=teachers, chat=chat, questions=questions, log=log)
        out["world"] = {k: v for k, v in w.items() if k not in ("users", "studio_users")}
        out["http"] = await http_facts(server)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            out["browser"] = browser.version
            try:
                results = []
                for spec in pages(w):
                    t0, c0 = time.monotonic(), cpu_s(sproc)
                    r = await measure.cold_and_warm(browser, server.url + spec["path"], spec["token"],
                                                    spec["ready"], n)
                    loads = 2 * n + 1
                    row = {"name": spec["name"], "path": spec["path"], "ready_text": spec["ready_text"],
                           "baseline": spec.get("baseline", False),
                           "cold": summarize(r["cold"]), "warm": summarize(r["warm"]),
                           "server_cpu_ms_per_load": (cpu_s(sproc) - c0) * 1000 / loads,
                           "seconds": round(time.monotonic() - t0, 1)}
                    results.append(row)
                    log(f"  {spec['name']}: cold p50 {_f(row['cold'].get('ready_p50'))} ms, warm p50 "
                        f"{_f(row['warm'].get('ready_p50'))} ms ({row['seconds']} s)")
                out["pages"] = results
                log("live chat -> open room page ...")
                out["live"] = await live_latency(browser, server, w, latency_posts, 1.1)
            finally:
                await browser.close()
        out["server_alive_at_end"] = server.proc.poll() is None
        out["server_errors_logged"] = server.log().count("Traceback")
    finally:
        server.cleanup()
    return out


def _n(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _ms(d: dict, *keys: str) -> str:
    return " / ".join(_f(d.get(k)) for k in keys)


def table(r: dict) -> str:
    head = ("| page | ready when | cold: ready p50 / p95 ms | warm: ready p50 / p95 ms | cold: first byte / "
            "DOMContentLoaded p50 ms | requests cold / warm (warm from cache) | KB transferred cold / warm "
            "(bodies, decoded) | WebSocket KB received by ready | cold, renderer main thread ms from page "
            "creation to ready (CDP): script / all tasks / layout+style | server CPU ms per load |")
    lines = [head, "|" + "---|" * 10]
    for p in r["pages"]:
        c, wm = p["cold"], p["warm"]
        if "ready_p50" not in c or "ready_p50" not in wm:
            lines.append(f"| {p['name']} | {p['ready_text']} | **failed**: {c.get('errors') or wm.get('errors')} "
                         "| | | | | | | |")
            continue
        fails = "" if not (c["failed"] or wm["failed"]) else f" (**{c['failed']}+{wm['failed']} loads failed**)"
        lines.append(
            f"| {p['name']}{fails} | {p['ready_text']} | {_ms(c, 'ready_p50', 'ready_p95')} | "
            f"{_ms(wm, 'ready_p50', 'ready_p95')} | {_ms(c, 'ttfb_p50', 'dcl_p50')} | "
            f"{_f(_n(c['requests']))} / {_f(_n(wm['requests']))} ({_f(_n(wm['from_cache']))}) | "
            f"{_f(c['transfer_kb'])} / {_f(wm['transfer_kb'])} ({_f(c['body_kb'])}, {_f(c['decoded_kb'])}) | "
            f"{_f(c['ws_kb'])} | {_ms(c, 'script_ms', 'task_ms', 'layout_style_ms')} | "
            f"{_f(p['server_cpu_ms_per_load'])} |")
    lv = r["live"]
    lines += ["", "| live event to an open room page | value |", "|---|---|",
              (f"| chat.post sent (Python, /ws) -> message added to the page's `#chat` (in-page MutationObserver, "
               f"Date.now()), p50 / p95 / max ms, {lv['posts']} posts 1.1 s apart | "
               f"{_ms(lv, 'dom_p50', 'dom_p95', 'dom_max')} |"),
              (f"| the same, until Playwright's `wait_for_function` (polling 5 ms) returned in Python, p50 / p95 ms "
               f"| {_ms(lv, 'wait_p50', 'wait_p95')} |"),
              (f"| for comparison: chat.post sent -> its reply back at the poster (Python), p50 / p95 ms | "
               f"{_ms(lv, 'reply_p50', 'reply_p95')} |"),
              f"| posts failed or not seen within 10 s | {_f(lv['failed'])} |"]
    return "\n".join(lines)


def notes(r: dict) -> list[str]:
    w = r["world"]
    out = [
        (f"world: live activity {w['live']} in its discussion phase (4 phases) with {w['chat_posted']['live']} "
         f"chat messages and {w['questions_asked']['live']} questions, posted over /ws by "
         f"{r['config']['teachers']} teachers; its snapshot carries {w['live_chat_in_snapshot']} messages and "
         f"{w['live_questions_in_snapshot']} questions. Ended activity {w['ended']}: "
         f"{w['replay_chat']} messages and {w['replay_questions']} questions in its replay, "
         f"{w['attendance_rows']} attendance rows. {w['upcoming']} upcoming activities; a studio with 30 posts "
         f"and one lesson-plan document (the template). Seeding took {w['seconds']} s."),
        f"browser: {r['browser']} (Debian's chromium, headless, `{' '.join(ARGS)}`), viewport 1280x720, en-US",
    ]
    out += [
        ("cold = a fresh browser context per load (empty HTTP cache, new connections) in an already running "
         "chromium; the server, its caches, SQLite and the OS page cache are warm (the same pages are loaded "
         "again and again). warm = one context, after one unmeasured load that fills its cache; a new tab per load."),
        ("ready is stamped inside the page (`performance.now()`, from the navigation's start) by an init script's "
         "MutationObserver the first time the condition holds: the DOM is there, painting is not included."),
        ("requests and KB: the navigation entry (the document) plus the Resource Timing entries finished by ready; "
         "KB transferred is `transferSize` (headers + body on the wire, 0 for a cache hit), bodies "
         "`encodedBodySize`, decoded `decodedBodySize`. WebSocket KB: payload of the frames the page had received "
         "when Python saw it ready (the /ws upgrade itself is not a Resource Timing entry, not counted)."),
        ("main thread: CDP `Performance.getMetrics` (ScriptDuration, TaskDuration, LayoutDuration + "
         "RecalcStyleDuration) on a session enabled before the navigation and read just after ready, so its window "
         "also holds the new tab's about:blank and the reads themselves: the baselines show that fixed part."),
        ("server CPU per load: user + system CPU of the server process (psutil, 10 ms ticks) over the page's "
         "2N + 1 loads, divided by them; it includes the /ws connect, snapshot or subscribe a page makes."),
        ("live event: the page is a teacher's room opened after all the seeding (a late joiner), ready, then 1.5 s "
         "for its subscribe; 5 teachers take turns posting (each under the 1 post/s limit). The time includes the "
         "server's database insert, its 20 ms flush interval (`flush_interval`, a channel's events gather that "
         "long before its frame goes out), the page's handling and its DOM insert; the two clocks are the same "
         "machine's wall clock (Python `time.time()`, the page's `Date.now()`)."),
        (f"p95 of {r['config']['n']} loads is interpolated between the two slowest"
         + (" (with 5 loads it is nearly the maximum)." if r["config"]["n"] <= 5 else ".")),
    ]
    h = r.get("http", {})
    if h:
        js, doc = h.get("/static/dist/editor.js", {}), h.get("/", {})
        out.append(f"HTTP as served (asked with `Accept-Encoding: gzip, br`): static files Content-Encoding "
                   f"{js.get('content-encoding') or 'none'}, Cache-Control {js.get('cache-control') or 'none'} "
                   f"(ETag {'yes' if js.get('etag') else 'no'}, Last-Modified "
                   f"{'yes' if js.get('last-modified') else 'no'}"
                   + ("; with no Cache-Control chromium keeps them fresh heuristically, from Last-Modified"
                      if not js.get("cache-control") else "") + "); pages Content-Encoding "
                   f"{doc.get('content-encoding') or 'none'}, Cache-Control {doc.get('cache-control') or 'none'}")
    if w.get("failures_n"):
        out.append(f"seeding: {w['failures_n']} commands refused, e.g. {w['failures']}")
    if not r.get("server_alive_at_end", True):
        out.append("**the server exited during the run**")
    if r.get("server_errors_logged"):
        out.append(f"server log has {r['server_errors_logged']} tracebacks ({r['server_log']})")
    for p in r["pages"]:
        for kind in ("cold", "warm"):
            if p[kind].get("failed"):
                out.append(f"{p['name']} {kind}: {p[kind]['failed']} of {p[kind]['n']} loads failed: "
                           f"{p[kind]['errors']}")
    return out


def section(profile: str, r: dict) -> str:
    c, m = r["config"], r["machine"]
    return "\n".join([
        f"## {profile}: {c['n']} cold + {c['n']} warm loads per page, {c['latency_posts']} live posts", "",
        (f"Run {r['when']} at {m['commit']}{' (collab/ had uncommitted changes)' if m['collab_dirty'] else ''} on "
         f"{m['cpus']} cores / {m['memory_gb']} GB, Python {m['python']}, load average before "
         f"{m['loadavg_before']}, after {r['loadavg_after']}; the run took {r['seconds']} s. "
         f"Command: `{r['command']}`"), "",
        "Times are medians/percentiles over the loads; sizes, counts and main-thread times are medians. "
        "Everything on one machine over 127.0.0.1: no network latency or bandwidth is in these figures.", "",
        table(r), "", *(f"- {n}" for n in notes(r))])


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.pages")
    ap.add_argument("--quick", action="store_true", help="5 cold + 5 warm loads per page, 10 live posts")
    ap.add_argument("--n", type=int, default=None, help="loads per page and cache state (default 20, quick 5)")
    ap.add_argument("--latency-posts", type=int, default=None, help="live chat posts (default 20, quick 10)")
    ap.add_argument("--teachers", type=int, default=50)
    ap.add_argument("--chat", type=int, default=200)
    ap.add_argument("--questions", type=int, default=30)
    ap.add_argument("--profile", default="")
    ns = ap.parse_args()
    n = ns.n or (5 if ns.quick else 20)
    posts = ns.latency_posts or (10 if ns.quick else 20)
    profile = ns.profile or ("quick" if ns.quick and len(sys.argv) == 2 else "default" if sys.argv[1:] == []
                             else "custom")
    t0 = time.monotonic()
    info = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
            "command": "python -m benchmarks.pages " + shlex.join(sys.argv[1:]),
            "config": {"n": n, "latency_posts": posts, "teachers": ns.teachers, "chat": ns.chat,
                       "questions": ns.questions}}
    res = {**info, **asyncio.run(run(n, posts, ns.teachers, ns.chat, ns.questions))}
    res["seconds"] = round(time.monotonic() - t0)
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    sec = section(profile, res)
    print(sec)
    keep_results(HERE, profile, res, "# Page-load benchmark results\n\nGenerated by `python -m benchmarks.pages`; see "
         "benchmarks/README.md (\"Pages\") for what each column means.", section)


if __name__ == "__main__":
    main()
