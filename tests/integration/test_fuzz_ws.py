"""A frame fuzzer over `/ws` and `/ws/docs`: malformed JSON, wrong types in every argument of every
command, huge and deeply nested frames, binary frames, and random Yjs messages, from several sockets at
once (a teacher, an outsider, an expert observing a studio's lesson plan), against a real node.

What must hold: the node stays up and keeps serving everyone else (a bystander's feed arrives all
along); every refusal carries a code the web client translates (webclient/static/page.js) and every
close a code the protocol documents (docs/protocol.md, docs/documents.md); nothing stored is damaged
(the activity as it was, the lesson plan's text as it was); the node's memory returns to about its
level. A few thousand frames in the default run; `-m slow` sends over 100,000."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import psutil
import pytest
import websockets

import harness
from yclient import YClient, fetch_ticket

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("COLLAB_FUZZ_SEED", "20261206"))
# Argument names the commands read (docs/protocol.md and the parts' commands): each gets every type.
ARG_NAMES = ["activity_id", "channel", "since", "epoch", "text", "body", "question_id", "message_id",
             "poll_id", "option", "options", "choice", "user_id", "publisher_id", "offer", "answer",
             "candidate", "token", "phase", "index", "seconds", "reason", "emoji", "source", "doc_id",
             "limit", "kind", "title", "state", "duration", "mode", "id", "to"]


def documented_closes(doc: str) -> set[int]:
    return {int(c) for c in re.findall(r"^\| (4\d\d\d) \|", (ROOT / "docs" / doc).read_text(), re.M)}


def command_names() -> list[str]:
    """Every command a node serves, from the composition root (built, not started)."""
    from collab.settings import Settings
    from server.app import create_app

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", secret="x" * 32))
    return sorted(app.state.services.registry._handlers)


class Frames:
    """Bad frames of every kind, from one seeded random source (a failure names the seed)."""

    def __init__(self, rng: random.Random, commands: list[str]) -> None:
        self.rng, self.commands = rng, commands

    def value(self, depth: int = 0):
        r = self.rng
        kind = r.randrange(14 if depth < 3 else 10)
        return [0, 1, -1, 2**63, 2**70, 1.5, 1e308, "", "中文😀" * r.randrange(1, 40), "\x00",
                "activity:1", None, True][kind] if kind < 13 else (
            [self.value(depth + 1) for _ in range(r.randrange(4))] if r.random() < 0.5
            else {r.choice(ARG_NAMES): self.value(depth + 1) for _ in range(r.randrange(4))})

    def envelope(self) -> dict:
        r = self.rng
        args = {name: (1 if name == "activity_id" and r.random() < 0.5 else self.value())
                for name in r.sample(ARG_NAMES, r.randrange(0, 6))}
        return {"id": r.randrange(1, 10**9), "cmd": r.choice(self.commands), "args": args}

    def next(self) -> tuple[str, str | bytes]:
        """(kind, frame)"""
        r, x = self.rng, self.rng.random()
        if x < 0.45:
            return "command", json.dumps(self.envelope(), ensure_ascii=False)
        if x < 0.60:  # the envelope itself of the wrong shape
            env = self.envelope()
            field = r.choice(["id", "cmd", "args"])
            env[field] = self.value()
            return "shape", json.dumps(env if r.random() < 0.8 else [env], ensure_ascii=False)
        if x < 0.78:  # not JSON: cut short, or noise
            text = json.dumps(self.envelope(), ensure_ascii=False)
            if r.random() < 0.5:
                return "malformed", text[: r.randrange(1, max(2, len(text)))]
            return "malformed", bytes(r.randrange(1, 256) for _ in range(r.randrange(1, 300))).decode("latin-1")
        if x < 0.85:  # nested beyond any parser's patience
            depth = r.choice([100, 1100, 5000])
            return "nested", "[" * depth + "]" * depth if r.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
        if x < 0.99:  # a valid command, the right types, arguments that do not exist
            return "command", json.dumps({"id": r.randrange(1, 10**9), "cmd": r.choice(self.commands),
                                          "args": {"activity_id": r.choice([1, 999999]), "channel": "activity:1",
                                                   "text": "你好" * r.randrange(1, 50)}}, ensure_ascii=False)
        if x < 0.995:
            return "huge", '{"id":1,"cmd":"ping","args":{"pad":"' + "x" * 70_000 + '"}}'
        return "binary", bytes(r.randrange(256) for _ in range(r.randrange(1, 64)))

    def yjs(self) -> bytes:
        """A y-websocket message, or something shaped like one."""
        r = self.rng
        noise = bytes(r.randrange(256) for _ in range(r.randrange(0, 200)))
        head = r.choice([b"\x00\x00", b"\x00\x01", b"\x00\x02", b"\x01", b"\x03", b"\x00", b"", bytes([r.randrange(256)])])
        if r.random() < 0.3:  # a length that lies
            return head + bytes([0xFF, 0xFF, 0xFF, 0x7F]) + noise
        return head + bytes([len(noise) & 0x7F]) + noise


@pytest.fixture(scope="module")
def node():
    d = tempfile.mkdtemp(prefix="collab-fuzz-ws-")
    url = f"sqlite+aiosqlite:///{d}/fuzz.db"
    server = harness.Server(url, name="fuzz-ws", command_rate=100000, command_burst=100000)
    env = dict(os.environ, COLLAB_DATA_DIR=str(server.datadir))
    for cmd in (["db", "upgrade"], ["demo", "--secret", harness.SECRET]):
        subprocess.run([sys.executable, "-m", "server.cli", *cmd, "--database-url", url],
                       cwd=ROOT, env=env, check=True, capture_output=True)
    server.start()
    tokens = {}
    for who in ("organizer", "teacher1", "teacher2", "expert"):
        r = httpx.post(server.url + "/api/auth/login", json={"username": who, "password": "collab-demo"})
        tokens[who] = r.json()["token"]
    yield server, tokens
    server.cleanup()


class Tally:
    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.closes: dict[int, int] = {}
        self.frames = 0
        self.expected = 0  # frames that do not close the socket: each is answered
        self.replies = 0


async def quiet(reader: asyncio.Task, tally: Tally) -> None:
    """Until the answers stop coming."""
    while not reader.done():
        before = tally.replies
        await asyncio.sleep(0.05)
        if tally.replies == before:
            return


async def fuzz_ws(url: str, token: str, frames: Frames, n: int, tally: Tally) -> None:
    """Send `n` frames over `/ws`, connecting again whenever the node closes the socket."""
    sent = 0
    while sent < n:
        async with websockets.connect(url, max_size=None) as ws:
            await ws.send(json.dumps({"id": 1, "cmd": "connect", "args": {"token": token}}))
            assert "ok" in json.loads(await ws.recv()), "connect refused"  # then the garbage, connected

            async def read() -> None:
                async for message in ws:
                    for line in (message if isinstance(message, str) else message.decode()).split("\n"):
                        msg = json.loads(line)
                        if "error" in msg:
                            code = msg["error"]["code"]
                            tally.codes[code] = tally.codes.get(code, 0) + 1
                        tally.replies += "id" in msg

            reader = asyncio.create_task(read())
            try:
                while sent < n and not reader.done():
                    kind, frame = frames.next()
                    closing = kind in ("huge", "binary")  # the node closes the socket for these
                    if closing:
                        await quiet(reader, tally)  # the frames before it answered first
                    await ws.send(frame)
                    sent += 1
                    tally.frames += 1
                    tally.expected += not closing
                    if closing:
                        await asyncio.wait_for(ws.wait_closed(), 10)
                        break
                    if sent % 50 == 0:
                        await asyncio.sleep(0.01)  # let the replies drain (a flood is tested elsewhere)
                await quiet(reader, tally)
            except websockets.ConnectionClosed:
                pass
            finally:
                reader.cancel()
            if reader.done() and not reader.cancelled():
                failed = reader.exception()
                if failed is not None and not isinstance(failed, websockets.ConnectionClosed):
                    raise failed
        code = ws.close_code
        if code is not None and code != 1000:
            tally.closes[code] = tally.closes.get(code, 0) + 1


async def fuzz_doc(url: str, token: str, frames: Frames, n: int, tally: Tally) -> None:
    sent = 0
    while sent < n:
        ticket = await fetch_ticket(url, token)
        async with websockets.connect(f"{url}?ticket={ticket}", max_size=None) as ws:
            try:
                while sent < n:
                    frame = frames.yjs() if frames.rng.random() < 0.95 else "not a y-websocket frame"
                    await ws.send(frame)
                    sent += 1
                    tally.frames += 1
                    if sent % 20 == 0:
                        await asyncio.sleep(0.01)
                await asyncio.sleep(0.2)
            except websockets.ConnectionClosed:
                pass
        code = ws.close_code
        if code is not None and code != 1000:
            tally.closes[code] = tally.closes.get(code, 0) + 1


async def run_fuzz(node, ws_frames: int, doc_frames: int) -> None:
    server, tokens = node
    rng = random.Random(SEED)
    frames = Frames(rng, command_names())
    auth = {"Authorization": f"Bearer {tokens['organizer']}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        activity_before = (await http.get("/api/activities/1", headers=auth)).json()
    doc_url = server.ws_url + "/docs/1"
    leader = await YClient(doc_url, tokens["teacher1"]).open()
    text_before = leader.content
    # the bystanders: the organizer announces, a teacher reads, all along
    org = await harness.WsClient(server.ws_url).open(tokens["organizer"])
    reader = await harness.WsClient(server.ws_url).open(tokens["teacher2"])
    await reader.ok("subscribe", channel="announce:fuzz")
    proc = psutil.Process(server.proc.pid)

    ws_tally, doc_tally = Tally(), Tally()
    await fuzz_ws(server.ws_url, tokens["teacher1"], frames, 300, Tally())  # warm up: every path loaded once
    rss_before = proc.memory_info().rss
    rounds = 10
    for i in range(rounds):
        await asyncio.gather(
            fuzz_ws(server.ws_url, tokens["teacher1"], frames, ws_frames // rounds // 2, ws_tally),
            fuzz_ws(server.ws_url, tokens["teacher2"], frames, ws_frames // rounds // 2, ws_tally),
            fuzz_doc(doc_url, tokens["expert"], frames, doc_frames // rounds, doc_tally))
        await org.ok("announce.post", channel="announce:fuzz", body=f"round {i}")
        assert (await reader.push(timeout=10))["e"]["body"] == f"round {i}"  # served all along
    await asyncio.sleep(1.0)
    rss_after = proc.memory_info().rss
    print(f"/ws: {ws_tally.frames} frames ({ws_tally.expected} to answer), {ws_tally.replies} answers, codes {ws_tally.codes}, closes {ws_tally.closes}; "
          f"/ws/docs: {doc_tally.frames} frames, closes {doc_tally.closes}; "
          f"RSS {rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MiB (seed {SEED})")

    assert server.proc.poll() is None and httpx.get(server.url + "/readyz").status_code == 200
    untranslated = set(ws_tally.codes) - harness.translated_codes()
    assert not untranslated, f"refusals page.js cannot say: {untranslated}"
    assert "internal" not in ws_tally.codes, ws_tally.codes  # no fault of ours, only refusals
    assert set(ws_tally.closes) <= documented_closes("protocol.md"), ws_tally.closes
    assert set(doc_tally.closes) <= documented_closes("documents.md"), doc_tally.closes
    # each frame is answered (frames sent just before one that closed the socket may not be)
    assert ws_tally.replies > 0.8 * ws_tally.expected, (ws_tally.replies, ws_tally.expected)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        activity_after = (await http.get("/api/activities/1", headers=auth)).json()
    assert activity_after == activity_before  # a teacher's garbage changed nothing of the activity
    late = await YClient(doc_url, tokens["teacher1"]).open()
    assert late.content == text_before  # an observer's random Yjs bytes wrote nothing
    assert rss_after - rss_before < 64 * 2**20, (rss_before, rss_after)
    for c in (leader, late):
        await c.close()
    await org.close()
    await reader.close()


async def test_a_few_thousand_bad_frames_refused_with_documented_codes_and_nothing_lost(node):
    await run_fuzz(node, ws_frames=3000, doc_frames=1000)


@pytest.mark.slow
async def test_a_hundred_thousand_bad_frames(node):
    await run_fuzz(node, ws_frames=100_000, doc_frames=20_000)
