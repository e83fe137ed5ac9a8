"""The home page after signing in leaves nothing in the browser's error console: no uncaught
exception, no unhandled rejection, no console error (issue 11, point 3: a socket whose sign-in reply
was still on its way was subscribed twice, and the second refusal went unhandled)."""

from __future__ import annotations

import asyncio

import browsing


def watch_errors(page) -> list[str]:
    """Every uncaught error and console error the page reports, as text."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    return errors


# Marks the moment a page's script asks its Realtime client for a channel.
MARK_SUBSCRIBE = """(() => { let R; Object.defineProperty(window, "Realtime", { configurable: true,
  get() { return R; },
  set(v) { R = v; const sub = v.prototype.subscribe;
           v.prototype.subscribe = function () { window.__asked = true; return sub.apply(this, arguments); }; } }); })();"""


class HeldSocket:
    """The /ws socket's frames from the server reach the page only once released: a slow link on
    which the page's API calls answer before its socket's sign-in reply does."""

    def __init__(self):
        self.held: list = []
        self.ws = None
        self.connect_sent = asyncio.Event()

    async def route(self, ws):
        self.ws = ws
        server = ws.connect_to_server()
        server.on_message(lambda m: ws.send(m) if self.held is None else self.held.append(m))
        ws.on_message(self.from_page(server))

    def from_page(self, server):
        def send(m):
            server.send(m)
            if '"connect"' in m:
                self.connect_sent.set()
        return send

    async def answer_after_connect_sent(self, route):
        """An API route held until the socket is open and has asked to sign in."""
        await self.connect_sent.wait()
        await route.continue_()

    def release(self):
        for m in self.held:
            self.ws.send(m)
        self.held = None


async def sign_in_on_home(page, base_url: str, username: str) -> None:
    await page.goto(base_url + "/")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", "password-" + username)
    await page.click("button[type=submit]")


async def announce_and_see(page, text: str) -> None:
    """A round trip through the feed's subscription: what is posted shows up."""
    await page.fill("#announce-form textarea", text)
    await page.click("#announce-form button")
    await page.wait_for_function(f"document.querySelector('#feed').innerText.includes({text!r})", timeout=10_000)


async def test_home_after_sign_in_logs_no_error(browser, server):
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    errors = watch_errors(page)
    await sign_in_on_home(page, server.url, "org1")
    await page.wait_for_selector("#conn.online", timeout=15_000)
    await announce_and_see(page, "签到后的第一条通知")
    await browsing.shot(page, "home-signed-in-zh")
    assert errors == []
    await context.close()


async def test_home_on_a_slow_socket_subscribes_once_and_logs_no_error(browser, server):
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    errors = watch_errors(page)
    await sign_in_on_home(page, server.url, "org1")
    await page.wait_for_selector("#conn.online", timeout=15_000)
    # signed in, the home page again, now on a slow socket
    held = HeldSocket()
    await page.route_web_socket("**/ws", held.route)
    await page.route("**/api/announcements*", held.answer_after_connect_sent)
    await page.add_init_script(MARK_SUBSCRIBE)
    await page.reload()
    # the socket is open and its sign-in unanswered when the feed loads and the page asks for its channel
    await page.wait_for_function("window.__asked === true", timeout=15_000)
    assert await page.get_attribute("#conn", "class") != "conn online"
    held.release()
    await page.wait_for_selector("#conn.online", timeout=15_000)
    await announce_and_see(page, "after a slow sign-in")
    items = await page.locator("#feed li").all_inner_texts()
    assert [t.split("\n")[0] for t in items].count("after a slow sign-in") == 1
    assert errors == []
    await context.close()
