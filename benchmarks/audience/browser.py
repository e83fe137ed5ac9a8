"""The hls.js viewer: headless Debian chromium (Playwright's Python package, `/usr/bin/chromium`; it
cannot download browsers here) in a helper process, showing page.html from `<origin>/bench/` so the
page and the playlists share an origin. The page's files (page.html, page.js and hls.js from
`benchmarks/audience/node_modules`, installed by `npm ci` there) are answered by Playwright's router:
nothing is added to the server or to nginx."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
HLS_JS = HERE / "node_modules" / "hls.js" / "dist" / "hls.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding"]
FILES = {"page.html": (HERE / "page.html", "text/html; charset=utf-8"),
         "page.js": (HERE / "page.js", "text/javascript"),
         "hls.min.js": (HLS_JS, "text/javascript")}


def hls_js_version() -> str | None:
    import json

    pkg = HLS_JS.parents[1] / "package.json"
    return json.loads(pkg.read_text())["version"] if pkg.exists() else None


@dataclass
class BrowserSpec:
    pass


def browser_main(pipe, spec: BrowserSpec) -> None:
    from benchmarks.stage.procs import serve

    serve(pipe, lambda: Browser())


class Browser:
    def __init__(self) -> None:
        self.pw = self.browser = self.page = None

    async def open(self, origin: str) -> dict:
        from playwright.async_api import async_playwright

        from benchmarks.audience.stamp import GEOMETRY

        if not HLS_JS.exists():
            raise RuntimeError(f"{HLS_JS} is missing: run `npm ci` in benchmarks/audience")
        self.pw = await async_playwright().start()
        self.browser = await self.pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = await self.browser.new_context(viewport={"width": 1400, "height": 900})

        async def serve_file(route) -> None:
            name = route.request.url.split("?", 1)[0].rsplit("/", 1)[-1]
            path, kind = FILES.get(name, (None, None))
            if path is None:
                await route.fulfill(status=404, body="")
            else:
                await route.fulfill(status=200, body=path.read_bytes(), headers={"Content-Type": kind})

        await context.route(f"{origin}/bench/**", serve_file)
        self.page = await context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: len(self.console) < 50 and self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: len(self.console) < 50 and self.console.append(f"error: {e}"))
        await self.page.goto(f"{origin}/bench/page.html")
        await self.page.evaluate("g => window.bench.setup(g)", GEOMETRY)
        version = await self.page.evaluate("Hls.version")
        return {"hls_js": version, "chromium": self.browser.version}

    async def start(self, arg: dict) -> dict:
        """arg: {name, url, height, options}: options go to hls.js's config as they are"""
        await self.page.evaluate("a => window.bench.start(a.name, a.url, a.height, a.options)", arg)
        return {}

    async def take(self, _=None) -> dict:
        return {"players": await self.page.evaluate("window.bench.take()"), "console": self.console[-10:]}

    async def cpu(self, _=None) -> float:
        """CPU seconds of every chromium process (the children of this helper)."""
        total = 0.0
        for p in psutil.Process().children(recursive=True):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    async def stop(self, _=None) -> dict:
        if self.page is not None:
            await self.page.evaluate("window.bench.stop()")
        return {}

    async def close(self, _=None) -> None:
        if self.browser is not None:
            await self.browser.close()
        if self.pw is not None:
            await self.pw.stop()
