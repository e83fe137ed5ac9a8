"""realtime.js, the reference client of `/ws` (webclient/static/realtime.js), against docs/protocol.md.

Two kinds of case, both running the unchanged script in Node (tests/js/realtime/env.mjs gives it the
`ws` package's WebSocket and a clock that records the waits it asks for):

- the protocol cases of tests/js/realtime/protocol.test.mjs (`node --test`), against a scripted server
  that sends exactly the documented frames: connect, replies by id, the subscribe reply's position,
  duplicates, recovery, `resync`, `unsubscribed`, presence, refused resubscriptions, the backoff and
  what the client does for each close code. Each is a test here, failing with node's report;
- a page's client (tests/js/realtime/peer.mjs) against a real `collab serve`: announcements as they are
  posted, what a cut link missed (once each, in order), a restarted node (a new epoch: the page is told
  to reload), a refused token and an oversized frame (offline, no retry)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time

import pytest

import harness
import nodetests

JS = harness.ROOT / "tests" / "js"
CASES = JS / "realtime" / "protocol.test.mjs"
PEER = JS / "realtime" / "peer.mjs"
CASE_NAMES = nodetests.cases(CASES, call="scenario")


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not installed (scripts/test installs nodejs and npm)")
    modules = JS / "node_modules"
    lock = JS / "package-lock.json"
    if not (modules / "ws").is_dir() or lock.stat().st_mtime > modules.stat().st_mtime:
        npm = shutil.which("npm")
        assert npm is not None, "node is installed but npm is not: cannot install tests/js (apt-get install npm)"
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"npm ci in tests/js failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        modules.touch()
    return exe


# -- the protocol cases, against the scripted server ----------------------------------------------------

@pytest.fixture(scope="module")
def protocol_run(node):
    """One `node --test` run of every case (TAP), shared by the tests below."""
    return nodetests.run(CASES)


def test_the_protocol_cases_are_all_found():
    assert len(CASE_NAMES) >= 20, CASE_NAMES  # a changed pattern must not make the cases below vanish


@pytest.mark.parametrize("name", CASE_NAMES)
def test_protocol_case(protocol_run, name):
    nodetests.check(protocol_run, CASES, name)


# -- a page's client against a real server -----------------------------------------------------------------

class Page:
    """One `node peer.mjs` process: realtime.js as a page holds it. What it reports is kept in `lines`."""

    def __init__(self, node: str, ws_url: str, token: str) -> None:
        self.args = [node, str(PEER), ws_url, token]
        self.lines: list[dict] = []
        self.changed = asyncio.Event()
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> "Page":
        self.proc = await asyncio.create_subprocess_exec(*self.args, cwd=JS, stdin=asyncio.subprocess.PIPE,
                                                         stdout=asyncio.subprocess.PIPE,
                                                         stderr=asyncio.subprocess.STDOUT,
                                                         limit=1 << 20)  # a line may hold a large frame
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc and self.proc.stdout
        while line := await self.proc.stdout.readline():
            try:
                self.lines.append(json.loads(line))
            except ValueError:  # node's own words (a crash, a warning): kept, for the failure's report
                self.lines.append({"stderr": line.decode(errors="replace").rstrip()})
            self.changed.set()

    async def do(self, **msg) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        await self.proc.stdin.drain()

    async def wait(self, pred, what: str, timeout: float = 15.0) -> dict:
        """The first line (of all so far) for which `pred` holds."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if pred(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} in {timeout}s; the page said:\n" +
                                     "\n".join(json.dumps(x, ensure_ascii=False)[:300] for x in self.lines[-40:]))
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def states(self) -> list:
        return [(x["state"], x["code"]) for x in self.lines if "state" in x]

    def events(self, ch: str) -> list[dict]:
        return [x["event"] for x in self.lines if "event" in x and x["ch"] == ch]

    def sent(self) -> list[dict]:
        return [json.loads(line) for x in self.lines if "sent" in x for line in x["sent"].split("\n")]

    async def command(self, tag: str, cmd: str, **args) -> dict:
        await self.do(do="command", tag=tag, cmd=cmd, args=args)
        return await self.wait(lambda x: x.get("reply") == tag, f"reply to {cmd}")

    async def close(self) -> None:
        if self.proc and self.proc.returncode is None:
            try:
                await self.do(do="exit")
                await asyncio.wait_for(self.proc.wait(), 5)
            except (ConnectionError, asyncio.TimeoutError):
                self.proc.kill()
                await self.proc.wait()
        if self._reader:
            await asyncio.gather(self._reader, return_exceptions=True)


@pytest.fixture(scope="module")
async def server(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("the client's protocol does not depend on the database kind; storage is covered elsewhere")
    s = harness.Server(database_url).start()
    yield s
    s.cleanup()


@pytest.fixture
async def pages(node):
    opened: list[Page] = []

    async def open_page(ws_url: str, token: str) -> Page:
        p = await Page(node, ws_url, token).start()
        opened.append(p)
        return p
    yield open_page
    for p in opened:
        await p.close()


async def post(server, users, body: str) -> dict:
    org = await harness.WsClient(server.ws_url).open(users["org1"][1])
    try:
        return await org.ok("announce.post", channel="announce:all", body=body)
    finally:
        await org.close()


def online(x: dict) -> bool:
    return x.get("state") == "online"


async def test_a_page_connects_subscribes_and_hears_announcements_as_they_are_posted(server, users, pages):
    page = await pages(server.ws_url, users["teacher1"][1])
    await page.wait(online, "online")
    await page.do(do="subscribe", channel="announce:all")
    sub = (await page.wait(lambda x: "subscribed" in x, "the subscribe reply"))["subscribed"]
    assert sub["channel"] == "announce:all" and isinstance(sub["epoch"], str) and isinstance(sub["offset"], int)
    posted = await post(server, users, "教研活动明天开始：请提前进入候场。")
    got = await page.wait(lambda x: "event" in x, "the announcement")
    assert got["event"]["body"] == "教研活动明天开始：请提前进入候场。" and got["o"] == posted["offset"] > sub["offset"]
    # commands and their replies by id: the server's clock; a refusal with its code, the socket still open
    before = time.time() * 1000
    pong = await page.command("p", "ping")
    assert abs(pong["ok"]["t"] - before) < 60_000, pong
    refused = await page.command("a", "announce.post", channel="announce:all", body="a teacher may not")
    assert refused["error"]["code"] == "forbidden"
    assert (await page.command("p2", "ping"))["ok"]["t"] >= pong["ok"]["t"]
    ids = [m["id"] for m in page.sent()]
    assert ids == sorted(set(ids)) and page.sent()[0] == {"id": 1, "cmd": "connect", "args": {"token": users["teacher1"][1]}}
    assert page.states() == [("connecting", None), ("online", None)]


async def test_after_a_cut_link_the_page_gets_what_it_missed_once_each_and_in_order(server, users, pages):
    link = await harness.CuttableProxy(server.port).start()
    try:
        page = await pages(f"ws://127.0.0.1:{link.port}/ws", users["teacher2"][1])
        await page.wait(online, "online")
        await page.do(do="subscribe", channel="announce:all")
        sub = (await page.wait(lambda x: "subscribed" in x, "the subscribe reply"))["subscribed"]
        first = await post(server, users, "第 1 条")
        await page.wait(lambda x: "event" in x, "the first announcement")
        link.cut()
        await page.wait(lambda x: x.get("state") == "reconnecting", "reconnecting")
        missed = [await post(server, users, f"第 {i} 条") for i in (2, 3, 4)]
        link.restore()
        await page.wait(lambda x: len([y for y in page.lines if online(y)]) == 2 and online(x), "online again", 30)
        await page.wait(lambda x: len(page.events("announce:all")) >= 4, "the missed announcements")
        live = await post(server, users, "第 5 条")
        await page.wait(lambda x: len(page.events("announce:all")) >= 5, "the next one")
        await asyncio.sleep(0.3)
        got = page.events("announce:all")
        assert [e["body"] for e in got] == [f"第 {i} 条" for i in range(1, 6)]
        assert [x["o"] for x in page.lines if "event" in x] == [first["offset"], *(m["offset"] for m in missed), live["offset"]]
        resubscribe = [m for m in page.sent() if m["cmd"] == "subscribe"][-1]
        assert resubscribe["args"]["since"] == {"epoch": sub["epoch"], "offset": first["offset"]}
        assert not [x for x in page.lines if "resync" in x]  # history covered the gap: nothing to reload
    finally:
        await link.close()


async def test_a_restarted_node_has_lost_its_history_and_the_page_is_told_to_reload(database_url, users, pages):
    if database_url.startswith("postgresql"):
        pytest.skip("the client's protocol does not depend on the database kind")
    node_ = harness.Server(database_url, name="rt-restart").start()  # the in-process bus: history lives and dies with it
    try:
        page = await pages(node_.ws_url, users["teacher1"][1])
        await page.wait(online, "online")
        await page.do(do="subscribe", channel="announce:all")
        sub = (await page.wait(lambda x: "subscribed" in x, "the subscribe reply"))["subscribed"]
        await post(node_, users, "重启之前")
        await page.wait(lambda x: "event" in x, "the announcement")
        await asyncio.to_thread(node_.stop)
        await page.wait(lambda x: x.get("state") == "reconnecting", "reconnecting")
        assert ("reconnecting", 4012) in page.states()  # the node said it was going: reconnect at once
        await asyncio.to_thread(node_.start)
        resync = await page.wait(lambda x: "resync" in x, "the resync", 40)
        assert resync["resync"]["recovered"] is False and resync["resync"]["epoch"] != sub["epoch"]
        await post(node_, users, "重启之后")
        await page.wait(lambda x: len(page.events("announce:all")) == 2, "the announcement after the restart")
        assert [e["body"] for e in page.events("announce:all")] == ["重启之前", "重启之后"]
    finally:
        node_.cleanup()


async def test_a_refused_token_leaves_the_page_offline_and_it_does_not_try_again(server, pages):
    page = await pages(server.ws_url, harness.token_for(2, secret="another-secret-" + "y" * 40))
    await page.wait(lambda x: x.get("state") == "offline", "offline")
    await asyncio.sleep(1.5)  # several backoffs' worth
    states = page.states()
    assert states[0] == ("connecting", None) and states[-1] == ("offline", 4001), states
    assert states[1][0] == "unauthorized" and states[1][1]["code"] == "token_signature", states
    assert len(states) == 3 and sum(1 for m in page.sent() if m["cmd"] == "connect") == 1


async def test_an_oversized_frame_closes_with_4009_and_the_page_does_not_resend_it(server, users, pages):
    page = await pages(server.ws_url, users["teacher1"][1])
    await page.wait(online, "online")
    await page.do(do="command", tag="big", cmd="ping", args={"pad": "x" * 70_000})
    reply = await page.wait(lambda x: x.get("reply") == "big", "the command's end")
    assert reply["error"]["code"] == "disconnected"
    await page.wait(lambda x: x.get("state") == "offline", "offline")
    await asyncio.sleep(1.5)
    assert page.states()[-1] == ("offline", 4009)
    assert sum(1 for m in page.sent() if m["cmd"] == "connect") == 1
