"""Loading pages in headless chromium and reading what a load cost.

One load: a page (new, in a fresh context for the cold loads, in a kept context for the warm ones)
with a CDP session that has `Performance.enable`d before the navigation; `page.goto(url,
wait_until="commit")`; then the page's ready condition, watched *inside the page* by an init script
(a MutationObserver on the whole document, plus readystatechange/load), which stamps
`performance.now()` (milliseconds since the navigation started) the first time the condition holds.
After that, read once: the Resource Timing entries that had finished by then (plus the navigation
entry: the document), the CDP metrics and the WebSocket bytes received so far."""

from __future__ import annotations

import json
import time

READY_JS = """
(() => {
  const pred = () => { return (%s); };
  let obs = null;
  function check() {
    if (window.__readyAt !== undefined) return;
    let ok = false;
    try { ok = !!pred(); } catch (e) { ok = false; }
    if (ok) { window.__readyAt = performance.now(); if (obs) obs.disconnect(); }
  }
  obs = new MutationObserver(check);
  obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  document.addEventListener("readystatechange", check);
  window.addEventListener("load", () => setTimeout(check, 0));
})();
"""

COLLECT_JS = """
(() => {
  const ready = window.__readyAt;
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource").filter(e => e.responseEnd <= ready);
  const all = [nav, ...res].filter(Boolean);
  return {
    ready: ready,
    requests: all.length,
    transfer: all.reduce((s, e) => s + (e.transferSize || 0), 0),
    body: all.reduce((s, e) => s + (e.encodedBodySize || 0), 0),
    decoded: all.reduce((s, e) => s + (e.decodedBodySize || 0), 0),
    from_cache: res.filter(e => e.transferSize === 0 && e.decodedBodySize > 0).length,
    not_done: performance.getEntriesByType("resource").length - res.length,
    ttfb: nav ? nav.responseStart : null,
    dom_content_loaded: nav ? nav.domContentLoadedEventEnd : null,
  };
})()
"""

CDP_KEYS = ("ScriptDuration", "TaskDuration", "LayoutDuration", "RecalcStyleDuration", "JSHeapUsedSize")


async def load_once(context, url: str, predicate: str, timeout_ms: float = 20_000) -> dict:
    """One measured load of `url` in `context` (whose init scripts already hold the token)."""
    page = await context.new_page()
    ws_bytes = [0]

    def on_ws(ws):
        ws.on("framereceived", lambda payload: ws_bytes.__setitem__(
            0, ws_bytes[0] + len(payload if isinstance(payload, (bytes, bytearray)) else payload.encode())))

    page.on("websocket", on_ws)
    await page.add_init_script(READY_JS % predicate)
    cdp = None
    try:
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
    except Exception:  # noqa: BLE001 - metrics are optional
        cdp = None
    t0 = time.perf_counter()
    try:
        await page.goto(url, wait_until="commit", timeout=timeout_ms)
        await page.wait_for_function("window.__readyAt !== undefined", timeout=timeout_ms, polling=20)
        wall_ms = (time.perf_counter() - t0) * 1000
        out = await page.evaluate(COLLECT_JS)
        out["wall_ms"] = wall_ms
        out["ws_bytes"] = ws_bytes[0]
        if cdp is not None:
            metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
            out.update({k: metrics.get(k) for k in CDP_KEYS})
        out["ok"] = True
    except Exception as exc:  # noqa: BLE001 - a load that never got ready is counted, not fatal
        out = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    finally:
        if cdp is not None:
            try:
                await cdp.detach()
            except Exception:  # noqa: BLE001
                pass
        await page.close()
    return out


async def new_context(browser, token: str | None):
    context = await browser.new_context(locale="en-US")
    if token:
        await context.add_init_script(f"localStorage.setItem('collab_token', {json.dumps(token)})")
    return context


async def cold_and_warm(browser, url: str, token: str | None, predicate: str, n: int) -> dict:
    """n loads each in a fresh context (closed after), then n in one kept context after one unmeasured
    load that fills its cache."""
    cold = []
    for _ in range(n):
        ctx = await new_context(browser, token)
        try:
            cold.append(await load_once(ctx, url, predicate))
        finally:
            await ctx.close()
    warm = []
    ctx = await new_context(browser, token)
    try:
        await load_once(ctx, url, predicate)  # primes the cache
        for _ in range(n):
            warm.append(await load_once(ctx, url, predicate))
    finally:
        await ctx.close()
    return {"cold": cold, "warm": warm}


CHAT_WATCH_JS = """
(() => {
  window.__seen = window.__seen || {};
  const chat = document.getElementById("chat");
  new MutationObserver(muts => {
    const now = Date.now();
    for (const m of muts) for (const n of m.addedNodes) {
      const m2 = /\\[bench-live-(\\d+)\\]/.exec(n.textContent || "");
      if (m2 && !(m2[1] in window.__seen)) window.__seen[m2[1]] = now;
    }
  }).observe(chat, { childList: true, subtree: true });
  return true;
})()
"""
