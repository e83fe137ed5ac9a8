"""The real JavaScript Yjs client against `/ws/docs/{id}`: y-websocket's WebsocketProvider (Node, the `ws`
package) on one node and the Python y-websocket client (pycrdt) on another, over real Redis and
PostgreSQL. Concurrent edits with Chinese text and formatting converge, awareness crosses both ways,
an observer's edit is refused the way y-websocket understands, outsiders are closed.

The Node side is tests/js/yjs_peer.mjs with the versions pinned in tests/js/package-lock.json
(`npm ci` is run here when tests/js/node_modules is missing or older than the lockfile)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess

import pytest

import harness
from collab.docs import store
from collab.docs.template import CONTENT
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from studio_seed import new_doc, seed_studio
from yclient import YClient

JS = harness.ROOT / "tests" / "js"
PEER = JS / "yjs_peer.mjs"


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not installed: the Yjs interop tests need Node.js (scripts/test installs nodejs and npm)")
    modules = JS / "node_modules"
    lock = JS / "package-lock.json"
    if not modules.is_dir() or lock.stat().st_mtime > modules.stat().st_mtime:
        npm = shutil.which("npm")
        assert npm is not None, "node is installed but npm is not: cannot install tests/js (apt-get install npm)"
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, f"npm ci in tests/js failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        modules.touch()
    return exe


@pytest.fixture(scope="module")
async def world(redis_url, node):
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    seed = await seed_studio(url)
    a = harness.Server(url, redis_url, name="yjs-a").start(wait=False)
    b = harness.Server(url, redis_url, name="yjs-b").start(wait=False)
    for n in (a, b):
        n.wait()
    yield {"url": url, "a": a, "b": b, "node": node, **seed}
    for n in (a, b):
        n.cleanup()
    await harness.drop_pg_database(url)


class JsPeer:
    """One `node yjs_peer.mjs` process; its JSON-line events collected as they come (and kept, with its
    stderr, in test-artifacts/yjs-peer-*)."""

    _numbers = itertools.count(1)

    def __init__(self, world, node_name: str, who: str, doc_id: int, script: dict, token: str | None = None) -> None:
        self.args = [world["node"], str(PEER), f"ws://127.0.0.1:{world[node_name].port}/ws/docs", str(doc_id),
                     world["users"][who][1] if token is None else token, json.dumps(script, ensure_ascii=False)]
        self.label = f"{who}-{node_name}-doc{doc_id}-{next(self._numbers)}"
        self.events: list[dict] = []
        self.changed = asyncio.Event()
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> "JsPeer":
        harness.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self._stderr = open(harness.ARTIFACTS / f"yjs-peer-{self.label}.stderr", "wb")
        self._log = open(harness.ARTIFACTS / f"yjs-peer-{self.label}.jsonl", "wb")
        self.proc = await asyncio.create_subprocess_exec(*self.args, cwd=JS, stdout=asyncio.subprocess.PIPE,
                                                         stderr=self._stderr)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            self._log.write(line)
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "unparsed", "line": line.decode(errors="replace")})
            self.changed.set()
        self._log.close()
        self.changed.set()

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]

    async def until(self, predicate, timeout: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or (self._reader is not None and self._reader.done()):
                raise AssertionError(f"JS peer {self.label}: condition not met; events {self.events}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def finished(self, timeout: float = 30.0) -> dict:
        """The `done` event, once the process exited 0."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            await self.stop()
            raise AssertionError(f"JS peer {self.label} did not finish; events {self.events}") from None
        await self.stop()
        assert code == 0, f"JS peer {self.label} exited {code}; events {self.events}"
        return self.of("done")[-1]

    async def stop(self) -> None:
        """Kill the process if it is still running (a failed test), and reap it."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self._stderr.close()


def doc_url(node, doc_id) -> str:
    return f"ws://127.0.0.1:{node.port}/ws/docs/{doc_id}"


async def py_client(world, node_name, who, doc_id) -> YClient:
    return await YClient(doc_url(world[node_name], doc_id), world["users"][who][1]).open()


async def stored(url: str, doc_id: int):
    from pycrdt import Doc, Text

    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        s = await store.load(db, doc_id)
    await engine.dispose()
    doc = Doc()
    doc.apply_update(store.merge_state(s.snapshot, s.updates))
    return doc.get(CONTENT, type=Text)


def runs_of_js(delta: list[dict]) -> list[tuple[str, dict]]:
    return _merge([(op["insert"], op.get("attributes") or {}) for op in delta])


def runs_of_py(text) -> list[tuple[str, dict]]:
    return _merge([(s, attrs or {}) for s, attrs in text.diff()])


def _merge(runs: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Adjacent runs with equal formatting as one; null attributes dropped (a format removed)."""
    out: list[tuple[str, dict]] = []
    for s, attrs in runs:
        attrs = {k: v for k, v in attrs.items() if v is not None}
        if out and out[-1][1] == attrs:  # 2 == 2.0: pycrdt reads numbers as floats
            out[-1] = (out[-1][0] + s, attrs)
        else:
            out.append((s, attrs))
    return out


def has_run(runs, piece: str, attrs: dict) -> bool:
    return any(piece in s and a == attrs for s, a in runs)


def names(states) -> set[str]:
    return {s["user"]["name"] for s in states.values() if s and isinstance(s.get("user"), dict)}


async def test_js_and_python_members_edit_at_once_on_two_nodes_and_converge(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    py = await py_client(world, "b", "member", doc_id)
    js = await JsPeer(world, "a", "co_leader", doc_id, {
        "user": {"name": "JS 副组长", "color": "#3366cc"},
        "steps": [
            {"insert": "JS开头 ", "at": 0},
            {"sleep": 20},
            {"transact": [{"insert": "粗体文字", "at": "end", "attrs": {"bold": True}},
                          {"insert": " 普通", "after": "粗体文字"}]},  # {}: not bold though it follows bold
            {"sleep": 20},
            {"transact": [{"insert": "\nJS 小节标题", "at": "end"},
                          {"insert": "\n", "after": "JS 小节标题", "attrs": {"header": 2}}]},  # a line format
            {"sleep": 20},
            {"insert": "【中间】", "after": "JS开"},  # inside a run of mixed ASCII and Chinese
            {"insert": "表情🙂结束", "at": "end"},  # a surrogate pair: 2 UTF-16 units, 4 UTF-8 bytes
            {"insert": "JS-END", "at": "end"},
            {"wait_awareness": "Python 成员"},
            {"wait_text": "PY-END"},
        ],
    }).start()
    try:
        await js.until(lambda p: p.of("synced"))
        synced = js.of("synced")[0]
        # the server's template (written by pycrdt) as the JS client reads it
        assert synced["text"].startswith("函数的概念\n教学目标 (Objectives)\n"), synced
        # Python edits at the same time as the JS client, without waiting for it
        await py.say({"user": {"name": "Python 成员", "color": "#cc6633"}})
        for i in range(4):
            await py.insert(0, f"PY{i} ", {})
            await py.insert(len(py.text), f" 来自Python{i}", {})
            await asyncio.sleep(0.015)
        await py.insert(len(py.text), "Python斜体", {"italic": True})
        await py.until(lambda c: "JS-END" in c.content, timeout=20)
        await py.insert(len(py.text), " PY-END", {})
        done = await js.finished()
    finally:
        await js.stop()

    # both ended with the same document, and it is what is stored
    await py.until(lambda c: c.content == done["text"])
    assert py.content == done["text"]
    await asyncio.sleep(0.3)
    on_disk = await stored(world["url"], doc_id)
    assert str(on_disk) == done["text"]
    content = done["text"]
    for piece in ("JS开【中间】头 ", "粗体文字 普通", "JS 小节标题", "表情🙂结束", "JS-END", "PY0 ", "PY3 ",
                  " 来自Python0", " 来自Python3", "Python斜体", "PY-END"):
        assert piece in content, (piece, content)

    # formatting crossed both ways: the JS runs as pycrdt reads them, the Python run as Yjs reads it
    js_runs, py_runs = runs_of_js(done["delta"]), runs_of_py(py.text)
    assert py_runs == js_runs
    assert runs_of_py(on_disk) == js_runs
    assert has_run(py_runs, "粗体文字", {"bold": True})
    assert not has_run(py_runs, " 普通", {"bold": True})
    heading = next(i for i, (s, _) in enumerate(py_runs) if s.endswith("JS 小节标题"))
    assert py_runs[heading + 1] == ("\n", {"header": 2})  # the line format on the JS heading's newline
    assert has_run(js_runs, "Python斜体", {"italic": True})
    assert ("\n", {"header": 1}) in js_runs  # the template's title line, as Yjs reads it
    await py.close()


async def test_awareness_crosses_between_the_js_and_python_clients(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    py = await py_client(world, "b", "member", doc_id)
    js = await JsPeer(world, "a", "leader", doc_id, {
        "user": {"name": "JS 组长", "color": "#3366cc"},
        "steps": [{"wait_awareness": "Python 成员"}, {"say": "saw python"}, {"wait_text": "BYE"}],
    }).start()
    try:
        await js.until(lambda p: p.of("synced"))
        # Python hears the state the JS client announced on connecting, under the JS client's id
        await py.until(lambda c: "JS 组长" in names(c.awareness))
        js_ids = [cid for cid, s in py.awareness.items() if s and s.get("user", {}).get("name") == "JS 组长"]
        assert len(js_ids) == 1 and py.awareness[js_ids[0]]["user"]["color"] == "#3366cc"
        # and the JS client hears Python's, then a later change of it (a cursor)
        await py.say({"user": {"name": "Python 成员", "color": "#cc6633"}, "cursor": None})
        await js.until(lambda p: p.of("said"))
        await py.say({"user": {"name": "Python 成员", "color": "#cc6633"}, "cursor": {"anchor": 2, "head": 5}},
                     clock=2)
        await js.until(lambda p: any(s.get("cursor") == {"anchor": 2, "head": 5}
                                     for e in p.of("awareness") for s in e["states"].values() if s))
        await py.insert(len(py.text), "BYE", {})
        done = await js.finished()
    finally:
        await js.stop()
    assert done["awareness"][str(py.doc.client_id)]["user"]["name"] == "Python 成员"  # a 53-bit pycrdt id
    assert js_ids[0] == done["client_id"]
    # the JS client withdrew its state when it left
    await py.until(lambda c: c.awareness.get(js_ids[0], "present") is None)
    await py.close()


async def test_a_js_client_opening_the_document_on_another_node_sees_who_is_already_there(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    py = await py_client(world, "b", "member", doc_id)
    await py.say({"user": {"name": "Python 成员", "color": "#cc6633"}})
    await asyncio.sleep(0.3)
    # the document is open on node B only; the JS client is the first on node A
    js = await JsPeer(world, "a", "leader", doc_id, {
        "user": {"name": "JS 组长", "color": "#3366cc"}, "steps": [{"wait_text": "BYE"}]}).start()
    try:
        await js.until(lambda p: p.of("synced"))
        await js.until(lambda p: any("Python 成员" in names(e["states"]) for e in p.of("awareness")), timeout=3)
        seen = True
        await py.insert(len(py.text), "BYE", {})
        await js.finished()
    finally:
        await js.stop()
    await py.close()
    # a room opened on a node asks the others who is there (it used to start empty, so a newcomer saw
    # nobody until they re-announced: y-websocket does every 15 s, the Python client never)
    assert seen


async def test_a_js_observer_is_refused_keeps_its_socket_and_follows_the_others(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    py = await py_client(world, "b", "member", doc_id)
    js = await JsPeer(world, "a", "observer", doc_id, {
        "user": {"name": "JS 观察员", "color": "#999999"},
        "steps": [
            {"insert": "观察员JS的修改 ", "at": 0},
            {"wait_denied": 1},
            {"wait_text": "成员在拒绝之后写的"},
        ],
    }).start()
    try:
        await js.until(lambda p: p.of("permission-denied"))
        await py.insert(len(py.text), " 成员在拒绝之后写的", {})
        done = await js.finished()
    finally:
        await js.stop()
    denied = js.of("permission-denied")
    assert len(denied) == 1 and denied[0]["kind"] == 0
    assert "observers" in denied[0]["reason"], denied
    # y-websocket's own handler took the message (it reports denials with console.warn)
    assert any("Permission denied" in w["text"] and "observers" in w["text"] for w in js.of("warn")), js.events
    # the socket stayed open: no close before the end, and the member's later edit arrived
    assert done["closes"] == [] and done["synced"]
    assert done["text"].endswith(" 成员在拒绝之后写的")
    assert done["text"].startswith("观察员JS的修改 ")  # the observer's own copy keeps its local edit
    await asyncio.sleep(0.3)
    assert "观察员JS的修改" not in py.content
    assert "观察员JS的修改" not in str(await stored(world["url"], doc_id))
    assert str(await stored(world["url"], doc_id)) == py.content
    await py.close()


async def test_js_outsiders_and_refused_tickets_are_closed_before_any_document_data(world):
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    outsider = await JsPeer(world, "a", "outsider", doc_id, {"sync": False, "steps": [{"wait_closes": 1}]}).start()
    # a forged ticket, used for every retry: y-websocket's own reconnect, refused again
    forged = await JsPeer(world, "b", "leader", doc_id, {"sync": False, "ticket": "bm90LmEudGlja2V0.AAAA",
                                                        "steps": [{"wait_closes": 2}]}).start()
    bad_token = await JsPeer(world, "a", "leader", doc_id, {"sync": False, "steps": [{"sleep": 1000}]},
                             token=world["users"]["leader"][1][:-4] + "AAAA").start()
    try:
        out_done = await outsider.finished()
        forged_done = await forged.finished()
        bad_done = await bad_token.finished()
    finally:
        for p in (outsider, forged, bad_token):
            await p.stop()
    assert [c["code"] for c in out_done["closes"]] == [4003], out_done
    assert out_done["closes"][0]["reason"] == "not a member of this studio"
    assert [(c["code"], c["reason"]) for c in forged_done["closes"][:2]] == [(4011, "ticket_invalid")] * 2
    # a token the API refuses gets no ticket, so no socket is even tried
    assert bad_token.of("ticket-refused") == [{**bad_token.of("ticket-refused")[0], "status": 401,
                                               "code": "token_signature"}]
    assert bad_done["closes"] == [] and bad_done["frames_in"] == 0
    for done in (out_done, forged_done, bad_done):
        assert not done["synced"] and done["frames_in"] == 0 and done["text"] == "", done


async def test_a_killed_nodes_cursors_leave_the_other_nodes_and_come_back_with_it(world, redis_url):
    """Three nodes. A stock Yjs client on the victim node is seen by a Python client on A and a stock Yjs
    client on B; the victim is killed with SIGKILL: the survivors withdraw its state within seconds (it
    used to stay about 32 s, until y-protocols' own timeout). The victim is restarted on its port, the
    client reconnects with a fresh ticket, and both see it again at once (a state withdrawn at clock c+1
    would be ignored when it returns at clock c: the survivors tell it it was removed, and y-protocols
    answers that with a higher clock)."""
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    victim = harness.Server(world["url"], redis_url, name="yjs-victim").start()
    ghost, watcher = "被终止节点上的组长", "B 节点上的成员"
    try:
        py = await py_client(world, "a", "co_leader", doc_id)
        world_v = {**world, "victim": victim}
        doomed = await JsPeer(world_v, "victim", "leader", doc_id, {
            "user": {"name": ghost, "color": "#c33"}, "timeout": 90000, "steps": [{"wait_text": "END"}]}).start()
        watch = await JsPeer(world, "b", "member", doc_id, {
            "user": {"name": watcher, "color": "#36c"}, "timeout": 90000,
            "steps": [{"wait_awareness": ghost}, {"say": "seen"}, {"wait_no_awareness": ghost}, {"say": "gone"},
                      {"wait_awareness": ghost}, {"say": "back"}, {"wait_text": "END"}]}).start()
        try:
            await py.until(lambda c: ghost in names(c.awareness), timeout=20)
            await watch.until(lambda p: any(e["label"] == "seen" for e in p.of("said")))
            ghost_id = next(cid for cid, s in py.awareness.items() if s and s["user"]["name"] == ghost)
            loop = asyncio.get_running_loop()
            killed = loop.time()
            victim.kill()
            await py.until(lambda c: c.awareness.get(ghost_id, "present") is None, timeout=10)
            py_gone = loop.time() - killed
            await watch.until(lambda p: any(e["label"] == "gone" for e in p.of("said")), timeout=10)
            js_gone = loop.time() - killed
            print(f"withdrawn after SIGKILL: python client {py_gone:.2f} s, stock Yjs client {js_gone:.2f} s")
            (harness.ARTIFACTS / "docs-awareness-withdraw.txt").write_text(
                f"python client {py_gone:.2f} s\nstock Yjs client {js_gone:.2f} s\n")

            victim.start()  # the same port: the provider's reconnect finds it
            await watch.until(lambda p: any(e["label"] == "back" for e in p.of("said")), timeout=30)
            await py.until(lambda c: ghost in names(c.awareness), timeout=10)
            assert [e["status"] for e in doomed.of("status")].count("connected") >= 2  # it did reconnect
            await py.insert(len(py.text), "END", {})
            done = await doomed.finished(timeout=30)
            assert done["text"].endswith("END")
            await watch.finished(timeout=30)
        finally:
            await doomed.stop()
            await watch.stop()
        await py.close()
    finally:
        victim.cleanup()


def documented_snippet() -> str:
    """The Node example of docs/documents.md, as a reader would copy it: the first js block."""
    text = (harness.ROOT / "docs" / "documents.md").read_text()
    return text.split("```js\n", 1)[1].split("```", 1)[0]


async def test_the_documented_node_snippet_runs_on_node_and_reconnects_after_a_restart(world, redis_url, tmp_path):
    """docs/documents.md's snippet, unchanged, under `node` (Node 20: no global WebSocket) against a real
    node: it syncs the document with a ticket, and after the node restarts it reconnects with a fresh
    one and syncs what was written meanwhile on the other node. No URL it opens carries the token."""
    doc_id = await new_doc(world["url"], world["studio"], world["users"]["leader"][0])
    (tmp_path / "snippet.mjs").write_text(documented_snippet())
    (tmp_path / "node_modules").symlink_to(JS / "node_modules")  # the pinned yjs, y-websocket, ws
    node = harness.Server(world["url"], redis_url, name="yjs-snippet").start()
    token = world["users"]["member"][1]
    env = {"PATH": os.environ["PATH"], "COLLAB_URL": node.url, "COLLAB_TOKEN": token, "COLLAB_DOC": str(doc_id)}
    proc = await asyncio.create_subprocess_exec(world["node"], "snippet.mjs", cwd=tmp_path, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async def until_printed(piece: str, count: int, timeout: float = 30) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            out = await peek()
            if out.count(piece) >= count:
                return out
            assert asyncio.get_running_loop().time() < deadline, f"snippet printed {out!r}"
            await asyncio.sleep(0.1)

    seen = bytearray()

    async def peek() -> str:
        try:
            seen.extend(await asyncio.wait_for(proc.stdout.read(65536), 0.1))
        except asyncio.TimeoutError:
            pass
        return seen.decode(errors="replace")

    try:
        out = await until_printed("函数的概念", 1)  # synced: the lesson-plan template
        node.stop()  # SIGTERM: 4012, and the node is away for a while
        other = await py_client(world, "b", "leader", doc_id)
        await other.insert(len(other.text), "重启期间写的", {})
        await asyncio.sleep(1.0)
        node.start()
        out = await until_printed("重启期间写的", 1)  # synced again, on a fresh ticket
        assert out.count("函数的概念") >= 2
        await other.close()
    finally:
        proc.kill()
        _, err = await proc.communicate()
        node.cleanup()
    (harness.ARTIFACTS / "docs-node-snippet.stderr").write_bytes(err)
    assert token not in err.decode() and token not in out
    assert b"not defined" not in err, err  # e.g. "WebSocket is not defined" without the polyfill
