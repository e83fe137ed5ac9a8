"""Several real `collab serve` processes sharing PostgreSQL and Redis: fan-out between nodes, presence
across nodes, a node killed or shut down under its clients, Redis restarted mid-stream (empty, and with
its data kept), a slow consumer.

Every node is a separate process. Channels are unique per test (and per run), so a test never sees
another's events, presence or history. Waiting is always "poll until, with a deadline": nothing here
sleeps and then assumes something happened.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import orjson
import pytest

import harness
from harness import validate_pushes  # noqa: F401  (fixture)
from collab.store import schema

pytestmark = [pytest.mark.redis, pytest.mark.postgres,
              pytest.mark.usefixtures("validate_pushes")]  # every push as docs/pushes.schema.json says

PRESENCE_TTL = 3.0

# Flags every node of this module runs with: short presence expiry, quick slow-consumer detection with
# small outboxes, and command limits high enough for one publisher to post hundreds of announcements.
NODE_FLAGS: dict[str, Any] = dict(
    presence_ttl=PRESENCE_TTL,
    slow_consumer_grace=1,
    outbox_soft_bytes=65536,
    outbox_hard_bytes=262144,
    command_rate=5000,
    command_burst=5000,
)


def unique_channel(name: str) -> str:
    return f"announce:{name}-{secrets.token_hex(4)}"


def node_name(role: str) -> str:
    return f"{role}-{secrets.token_hex(3)}"  # node ids must not collide in the shared Redis


async def until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05,
                required: bool = True) -> float | None:
    """Poll `predicate` until it holds; return how long that took. At the deadline, fail with `what`
    (or, if not `required`, return None and let the caller's own assertions say what is wrong)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            if not required:
                return None
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - start


def start_nodes(database_url: str, redis_url: str, roles: list[str], **flags: Any) -> list[harness.Server]:
    nodes = [harness.Server(database_url, redis_url, name=node_name(r), **{**NODE_FLAGS, **flags}) for r in roles]
    try:
        for n in nodes:
            n.start(wait=False)
        for n in nodes:
            n.wait()
    except BaseException:
        for n in nodes:
            n.cleanup()
        raise
    return nodes


async def stop_nodes(nodes: list[harness.Server]) -> None:
    await asyncio.gather(*(asyncio.to_thread(n.cleanup) for n in nodes))


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def database_url():
    """Overrides conftest's sqlite/postgres pair: nodes of a cluster need one database they all share.
    (conftest's `users` fixture creates its accounts in this one.)"""
    url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    yield url
    await harness.drop_pg_database(url)


@pytest.fixture(scope="module")
async def cluster(database_url, users, redis_url):
    """Three long-lived nodes A, B, C on the shared test Redis. Tests never stop these."""
    nodes = await asyncio.to_thread(start_nodes, database_url, redis_url, ["a", "b", "c"])
    yield nodes
    await stop_nodes(nodes)


@pytest.fixture
async def spawn(database_url, users, redis_url):
    """Start extra nodes for one test (the ones a test kills); all are stopped afterwards."""
    started: list[harness.Server] = []

    async def start(*roles: str, redis: str | None = None, **flags: Any) -> list[harness.Server]:
        nodes = await asyncio.to_thread(start_nodes, database_url, redis or redis_url, list(roles), **flags)
        started.extend(nodes)
        return nodes

    yield start
    await stop_nodes(started)


@pytest.fixture
async def clients(spawn):
    """Open /ws clients (connected with a token); every one is closed at the end of the test, before
    any node is stopped (this fixture depends on `spawn`, so it is torn down first)."""
    opened: list[harness.WsClient] = []

    async def open_client(node: harness.Server, token: str) -> harness.WsClient:
        c = await harness.WsClient(node.ws_url).open(token)
        opened.append(c)
        return c

    yield open_client
    await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)


@pytest.fixture
async def http():
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as h:
        yield h


class DurableRedis(harness.RedisServer):
    """A throwaway redis-server that keeps its data across SIGKILL (append-only file, fsync on every
    write), like a production Redis with persistence: restarted on the same port and directory, it
    comes back with every channel's epoch, offsets and history."""

    def __init__(self, datadir: Path) -> None:
        super().__init__()
        self.datadir = datadir

    def start(self) -> "DurableRedis":
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.datadir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # PONG, not just an open port: the AOF must be loaded
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("redis-server did not start")


@pytest.fixture
def own_redis(tmp_path):
    """Throwaway redis-servers (for the restart tests), `durable` ones keeping their data in a
    directory of the test's own; all killed at the end."""
    servers: list[harness.RedisServer] = []

    def start(port: int | None = None, durable: bool = False) -> harness.RedisServer:
        rs = DurableRedis(tmp_path) if durable else harness.RedisServer()
        if port is not None:
            rs.port = port
        servers.append(rs)
        return rs.start()

    yield start
    for rs in servers:
        rs.stop()


# -- client-side helpers ----------------------------------------------------------------------------


class Follower:
    """What a real client does with one channel: remember (epoch, offset) for recovery, drop the second
    copy of an event by e.id, notice resyncs. Keeps the raw pushes so tests can check the server too."""

    def __init__(self, open_client, token: str, channel: str) -> None:
        self.open_client = open_client
        self.token = token
        self.channel = channel
        self.client: harness.WsClient | None = None
        self.epoch: str | None = None
        self.offset: int | None = None
        self.first_offset: int | None = None  # the subscribe position of the first join
        self.ids: list[str] = []  # distinct event ids, in arrival order
        self.seen: set[str] = set()
        self.raw: list[dict] = []  # every push, as received, over all connections
        self.offsets: list[int] = []  # every non-null offset, as received
        self.resyncs: list[dict] = []
        self.not_recovered = 0

    async def join(self, node: harness.Server) -> dict:
        """Connect to `node` and subscribe, from the last known position if there is one."""
        self.client = await self.open_client(node, self.token)
        args: dict[str, Any] = {"channel": self.channel}
        if self.epoch is not None:
            args["since"] = {"epoch": self.epoch, "offset": self.offset}
        r = await self.client.ok("subscribe", **args)
        if self.epoch is None or r.get("recovered") is False:
            if self.epoch is not None:
                self.not_recovered += 1
            self.epoch, self.offset = r["epoch"], r["offset"]
            if self.first_offset is None:
                self.first_offset = r["offset"]
        return r

    def absorb(self) -> "Follower":
        """Take every push received so far (never waits)."""
        q = self.client.pushes
        while not q.empty():
            self.take(q.get_nowait())
        return self

    def take(self, push: dict) -> None:
        assert push.get("ch") == self.channel, push
        self.raw.append(push)
        if "resync" in push:
            self.resyncs.append(push["resync"])
            self.epoch, self.offset = push["resync"]["epoch"], push["resync"]["offset"]
            return
        if push["o"] is not None:
            self.offsets.append(push["o"])
            self.offset = push["o"]
        eid = push["e"]["id"]
        if eid not in self.seen:
            self.seen.add(eid)
            self.ids.append(eid)

    def has(self, ids) -> bool:
        self.absorb()
        return self.seen.issuperset(ids)

    def raw_ids(self) -> list[str]:
        return [p["e"]["id"] for p in self.raw if "e" in p]


class Publisher:
    """An organizer posting announcements over /ws, remembering what the server accepted."""

    def __init__(self, client: harness.WsClient, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.ids: list[str] = []  # ids of posts answered ok, in posting order
        self.offsets: list[int | None] = []
        self.bodies: list[str] = []
        self.errors: list[dict] = []

    async def post(self, body: str) -> dict:
        r = await self.client.call("announce.post", channel=self.channel, body=body)
        if "ok" in r:
            self.ids.append(r["ok"]["id"])
            self.offsets.append(r["ok"]["offset"])
            self.bodies.append(body)
        else:
            self.errors.append(r)
        return r

    async def run(self, n: int, interval: float, prefix: str, stop: asyncio.Event | None = None) -> None:
        for i in range(n):
            if stop is not None and stop.is_set():
                return
            await self.post(f"{prefix} {i}")
            await asyncio.sleep(interval)


async def api_announcement_ids(http: httpx.AsyncClient, node: harness.Server, token: str, channel: str) -> list[str]:
    """What a client reloads on resync: the channel's announcements from the HTTP API."""
    r = await http.get(node.url + "/api/announcements", params={"channel": channel},
                       headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["announcements"]]


async def readyz(http: httpx.AsyncClient, node: harness.Server) -> tuple[int, dict]:
    """Readiness as the operator reads it: with each check, on the node's internal port."""
    r = await http.get(node.ops_url + "/readyz")
    return r.status_code, r.json()


async def until_async(probe, timeout: float, what: str, interval: float = 0.1):
    """Like `until`, for an async probe returning a value or None (None means: not yet)."""
    start = time.monotonic()
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def _when(coro, predicate):
    """For `until_async`: the awaited value if it satisfies `predicate`, else None."""
    value = await coro
    return value if predicate(value) else None


class RawWebSocket:
    """A /ws client on a plain blocking socket with a small receive buffer, so the test decides when
    (and whether) anything is read. Client frames are masked as RFC 6455 requires."""

    def __init__(self, port: int, rcvbuf: int = 4096) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sets the window
        # A small MSS too: the server's kernel sizes its send buffer in segments, and loopback's 64 KB
        # segments would let it absorb megabytes before the server's own outbox sees any backlog.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.buf = bytearray()
        self.ids = 0
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        end = self.buf.index(b"\r\n\r\n") + 4
        head = bytes(self.buf[:end])
        del self.buf[:end]
        assert head.startswith(b"HTTP/1.1 101"), head

    def _recv(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            self._recv()

    def send_text(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        mask = os.urandom(4)
        if n < 126:
            header = bytes((0x81, 0x80 | n))
        elif n < 65536:
            header = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            header = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def read_frame(self) -> tuple[int, bytes]:
        self._need(2)
        opcode, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        pos = 2
        if n == 126:
            self._need(4)
            n, pos = int.from_bytes(self.buf[2:4], "big"), 4
        elif n == 127:
            self._need(10)
            n, pos = int.from_bytes(self.buf[2:10], "big"), 10
        self._need(pos + n)
        payload = bytes(self.buf[pos : pos + n])
        del self.buf[: pos + n]
        return opcode, payload

    def call(self, cmd: str, **args: Any) -> dict:
        self.ids += 1
        cid = self.ids
        self.send_text(orjson.dumps({"id": cid, "cmd": cmd, "args": args}).decode())
        while True:
            opcode, payload = self.read_frame()
            assert opcode == 1, (opcode, payload[:200])
            for line in payload.split(b"\n"):
                msg = orjson.loads(line)
                if msg.get("id") == cid:
                    assert "ok" in msg, msg
                    return msg["ok"]

    def read_until_close(self) -> tuple[int | None, int]:
        """Resume reading: consume everything up to the close frame. Returns (close code or None if the
        connection ended without one, number of data frames read first)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        frames = 0
        try:
            while True:
                opcode, payload = self.read_frame()
                if opcode == 0x8:
                    return (int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None), frames
                frames += 1
        except (EOFError, ConnectionResetError, socket.timeout):
            return None, frames

    def close(self) -> None:
        self.sock.close()


# -- 1. fan-out between nodes -----------------------------------------------------------------------


async def test_event_from_one_node_reaches_subscribers_on_the_others_in_order(cluster, clients, users):
    a, b, c = cluster
    channel = unique_channel("fanout")
    followers = [Follower(clients, users[u][1], channel) for u in ("teacher1", "teacher2", "expert1", "admin1")]
    for f, node in zip(followers, [b, b, c, c]):
        await f.join(node)
    pub = Publisher(await clients(a, users["org1"][1]), channel)
    n = 100
    for i in range(n):
        await pub.post(f"fanout {i}")
    assert pub.errors == []

    await until(lambda: all(f.has(pub.ids) for f in followers), 15, "100 announcements on nodes B and C")
    start = followers[0].first_offset
    assert pub.offsets == list(range(start + 1, start + n + 1))  # the publisher's view: one offset each
    for f in followers:
        f.absorb()
        assert [p["e"]["body"] for p in f.raw] == [f"fanout {i}" for i in range(n)]  # all, once, in order
        assert f.raw_ids() == pub.ids
        assert f.offsets == pub.offsets  # contiguous, increasing, the same offsets on every node
        assert f.epoch == followers[0].epoch and not f.resyncs


# -- 2. presence across nodes -----------------------------------------------------------------------


async def test_presence_is_summed_over_nodes_and_a_killed_node_drops_out_within_the_ttl(
    cluster, spawn, clients, users
):
    a, b, _ = cluster
    (v,) = await spawn("victim")
    channel = unique_channel("presence")
    # Distinct users per node, so the user count is unambiguous: A 2 sockets of 1 user, B 1, V 3.
    placement = [(a, "teacher1"), (a, "teacher1"), (b, "teacher2"), (v, "expert1"), (v, "org1"), (v, "admin1")]
    for node, user in placement:
        c = await clients(node, users[user][1])
        await c.ok("subscribe", channel=channel)
    watchers = {node.name: await clients(node, users["teacher2"][1]) for node in (a, b, v)}  # not subscribed

    async def counts(node) -> dict:
        return await watchers[node.name].ok("presence", channel=channel)

    for node in (a, b, v):
        got = await until_async(
            lambda node=node: _when(counts(node), lambda r: r["clients"] == 6 and r["users"] == 5),
            5, f"presence 6 clients / 5 users seen from {node.name}",
        )
        assert got["node_clients"] == {a.name: 2, b.name: 1, v.name: 3}[node.name], got

    t0 = time.monotonic()
    await asyncio.to_thread(v.kill)
    for node in (a, b):
        await until_async(
            lambda node=node: _when(counts(node), lambda r: r["clients"] == 3 and r["users"] == 2),
            PRESENCE_TTL + 3, f"the killed node's clients to leave the counts seen from {node.name}",
            interval=0.05,
        )
    elapsed = time.monotonic() - t0
    # The node's last refresh was before it died, so its entry has expired presence_ttl after that.
    assert elapsed <= PRESENCE_TTL + 1.0, f"dead node still counted {elapsed:.1f}s after SIGKILL"
    assert (await counts(a))["node_clients"] == 2


# -- 3 and 5. a node goes away under its clients ----------------------------------------------------


async def _clients_move_to_another_node(cluster, spawn, clients, users, sig: int) -> tuple[harness.Server, float]:
    """Followers on a doomed node V; an organizer on C posts steadily; V gets `sig`; the followers
    reconnect to B from their last (epoch, offset) while posting goes on. Checks every follower got
    every announcement exactly once, in order; returns V and when it was signalled."""
    _, b, c = cluster
    (v,) = await spawn("doomed")
    channel = unique_channel("failover")
    followers = [Follower(clients, users[u][1], channel) for u in ("teacher1", "teacher2", "expert1")]
    for f in followers:
        await f.join(v)
    pub = Publisher(await clients(c, users["org1"][1]), channel)
    n = 60
    posting = asyncio.create_task(pub.run(n, 0.02, "failover"))
    try:
        await until(lambda: all(len(f.absorb().ids) >= 10 for f in followers), 10, "first events via V")

        v.proc.send_signal(sig)
        signalled_at = time.monotonic()
        codes = [await f.client.wait_closed(15) for f in followers]
        posted_when_closed = len(pub.ids)
        for f in followers:
            f.absorb()
        if sig == signal.SIGTERM:
            assert codes == [4012] * len(followers), f"close codes on graceful shutdown: {codes}"
        # Away for a while: at least 10 more announcements are published meanwhile.
        await until(lambda: len(pub.ids) >= posted_when_closed + 10 or posting.done(), 10, "posts while away")
        assert len(pub.ids) >= posted_when_closed + 10, "the publisher finished too early for this test"
        for f in followers:
            r = await f.join(b)
            assert r["recovered"] is True, r
            assert r["epoch"] == f.epoch
        await posting
    finally:
        posting.cancel()

    assert pub.errors == [] and len(pub.ids) == n
    await until(lambda: all(f.has(pub.ids) for f in followers), 10, "every announcement after the move")
    start = followers[0].first_offset
    for f in followers:
        f.absorb()
        assert f.raw_ids() == pub.ids  # nothing missing, nothing twice, in order
        assert [p["e"]["body"] for p in f.raw] == [f"failover {i}" for i in range(n)]
        assert f.offsets == list(range(start + 1, start + n + 1)) == pub.offsets
        assert not f.resyncs and f.not_recovered == 0
    return v, signalled_at


async def test_clients_of_a_killed_node_recover_everything_on_another_node(cluster, spawn, clients, users):
    await _clients_move_to_another_node(cluster, spawn, clients, users, signal.SIGKILL)


async def test_graceful_shutdown_closes_with_4012_and_clients_recover_elsewhere(cluster, spawn, clients, users):
    v, signalled_at = await _clients_move_to_another_node(cluster, spawn, clients, users, signal.SIGTERM)
    # The node finishes its shutdown promptly once its clients have left, without errors. (uvicorn
    # re-raises the signal it handled after a graceful shutdown, so the exit status is -SIGTERM.)
    code = await asyncio.to_thread(v.proc.wait, 15)
    took = time.monotonic() - signalled_at
    assert code in (0, -signal.SIGTERM), f"exit status {code} after SIGTERM:\n{v.log()[-2000:]}"
    assert took < 5, f"shutdown took {took:.1f}s"
    errors = [line for line in v.log().splitlines() if '"level": "error"' in line or "Traceback" in line]
    assert errors == [], errors


# -- 4. Redis restarted mid-stream ------------------------------------------------------------------


async def test_redis_restart_loses_no_recorded_announcement(own_redis, spawn, clients, users, http):
    redis1 = own_redis()
    p, s = await spawn("pub", "sub", redis=redis1.url)
    channel = unique_channel("redis-restart")
    followers = [
        Follower(clients, users["teacher1"][1], channel),
        Follower(clients, users["teacher2"][1], channel),
        Follower(clients, users["expert1"][1], channel),  # on the publisher's own node
    ]
    for f, node in zip(followers, [s, s, p]):
        await f.join(node)
    first_epoch = followers[0].epoch
    pub = Publisher(await clients(p, users["org1"][1]), channel)
    for i in range(5):
        await pub.post(f"before {i}")
    before = list(pub.ids)
    await until(lambda: all(f.has(before) for f in followers), 10, "the first announcements")

    stop = asyncio.Event()
    posting = asyncio.create_task(pub.run(30, 0.15, "during", stop))  # at most 40 posts in all (API shows 50)
    try:
        await until(lambda: len(pub.ids) >= 7, 10, "posts with Redis up")
        redis1.stop()  # SIGKILL: nothing is saved
        for node in (p, s):
            status, body = await until_async(
                lambda node=node: _when(readyz(http, node), lambda r: r[0] == 503), 10, f"{node.name} unready"
            )
            assert body["checks"]["bus"] == "unreachable", body
        posted_down = len(pub.ids)
        await until(lambda: len(pub.ids) >= posted_down + 4 or posting.done(), 15, "posts with Redis down")

        own_redis(port=redis1.port)  # a new, empty Redis on the same port
        for node in (p, s):
            await until_async(lambda node=node: _when(readyz(http, node), lambda r: r[0] == 200),
                              20, f"{node.name} ready again")
        stop.set()
        await posting
    finally:
        posting.cancel()

    assert pub.errors == [], pub.errors  # the database never went away: every post was recorded
    assert None in pub.offsets, "no post happened while the bus was down"
    for i in range(5):
        await pub.post(f"after {i}")
    after = pub.ids[-5:]
    assert pub.errors == [] and None not in pub.offsets[-5:]
    assert len(pub.ids) <= 50

    # Every announcement whose post was answered ok is in the database.
    recorded = await api_announcement_ids(http, s, users["teacher1"][1], channel)
    assert recorded == pub.ids

    await until(lambda: all(f.has(after) for f in followers), 15, "live events after Redis came back")
    for f in followers:
        f.absorb()
        if f.resyncs:
            # A resync means "reload": after reloading, the client has everything.
            reloaded = await api_announcement_ids(http, s, f.token, channel)
            assert f.seen | set(reloaded) >= set(pub.ids)
        else:
            assert f.seen >= set(pub.ids), f"lost {sorted(set(pub.ids) - f.seen)} without a resync"
        # New events arrive with the offsets of the new epoch, which the client has learned.
        got = {p["e"]["id"]: p["o"] for p in f.raw if "e" in p and p["e"]["id"] in after}
        assert [got[i] for i in after] == pub.offsets[-5:], (got, pub.offsets[-5:])
        assert f.epoch != first_epoch

    # A client that reconnects from where it is recovers from the new epoch, no reload needed.
    position = await (await clients(s, users["teacher1"][1])).ok("subscribe", channel=channel)
    for f in followers:
        assert (f.epoch, f.offset) == (position["epoch"], position["offset"])




async def test_announcements_posted_while_redis_is_down_reach_other_nodes_when_it_returns(
    own_redis, spawn, clients, users, http
):
    """Like the restart test, but Redis keeps its data (persistence on, as in production): the epoch
    does not change, so nothing forces a resync; what was posted meanwhile must arrive as events."""
    redis1 = own_redis(durable=True)
    p, s = await spawn("pub", "sub", redis=redis1.url)
    channel = unique_channel("redis-durable")
    followers = [Follower(clients, users[u][1], channel) for u in ("teacher1", "teacher2", "expert1")]
    for f, node in zip(followers, [s, s, p]):
        await f.join(node)
    pub = Publisher(await clients(p, users["org1"][1]), channel)
    for i in range(3):
        await pub.post(f"before {i}")
    await until(lambda: all(f.has(pub.ids) for f in followers), 10, "the first announcements")

    redis1.stop()
    for node in (p, s):
        await until_async(lambda node=node: _when(readyz(http, node), lambda r: r[0] == 503), 10, "unready")
    for i in range(3):
        await pub.post(f"while down {i}")
    assert pub.offsets[-3:] == [None] * 3
    own_redis(port=redis1.port, durable=True)  # back, with its data
    for node in (p, s):
        await until_async(lambda node=node: _when(readyz(http, node), lambda r: r[0] == 200), 20, "ready")
    for i in range(3):
        await pub.post(f"after {i}")
    assert pub.errors == []

    await until(lambda: all(f.has(pub.ids[-3:]) for f in followers), 10, "live events after Redis came back")
    # What was posted while Redis was down is published when it returns, before these: allow a moment.
    await until(lambda: all(f.has(pub.ids) or f.resyncs for f in followers), 3, "", required=False)
    for f in followers:
        f.absorb()
        if f.resyncs:
            reloaded = await api_announcement_ids(http, s, f.token, channel)
            assert f.seen | set(reloaded) >= set(pub.ids)
        else:
            missing = [b for b, i in zip(pub.bodies, pub.ids) if i not in f.seen]
            assert missing == [], f"never delivered, and no resync to tell the client to reload: {missing}"


# -- 6. slow consumer -------------------------------------------------------------------------------


def _slow_consumer_closes(metrics_text: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith("collab_slow_consumer_closes_total "):
            return float(line.split()[1])
    return 0.0


async def test_slow_consumer_is_closed_with_4008_while_others_on_its_node_keep_up(cluster, clients, users, http):
    a, b, _ = cluster
    channel = unique_channel("slow")
    raw = await asyncio.to_thread(RawWebSocket, b.port)
    tasks: list[asyncio.Task] = []
    try:
        await asyncio.to_thread(raw.call, "connect", token=users["teacher1"][1])
        await asyncio.to_thread(raw.call, "subscribe", channel=channel)
        # From here on the raw client reads nothing, until node B says it closed it.

        normal = await clients(b, users["teacher2"][1])
        await normal.ok("subscribe", channel=channel)
        arrived: dict[str, float] = {}
        order: list[str] = []

        async def receive() -> None:
            while True:
                push = await normal.pushes.get()
                arrived[push["e"]["id"]] = time.monotonic()
                order.append(push["e"]["id"])

        base = _slow_consumer_closes((await http.get(b.ops_url + "/metrics")).text)

        async def watch_then_read() -> tuple[int | None, int]:
            """Resume reading as soon as B counts a slow-consumer close: the server drops the connection
            2 s after its close frame if the peer does not answer, and the frame must be read first."""
            while _slow_consumer_closes((await http.get(b.ops_url + "/metrics")).text) <= base:
                await asyncio.sleep(0.05)
            return await asyncio.to_thread(raw.read_until_close)

        tasks += [asyncio.create_task(receive()), asyncio.create_task(watch_then_read())]
        receiver, closing = tasks
        org = await clients(a, users["org1"][1])
        answered: dict[str, float] = {}
        ids: list[str] = []
        filler = "x" * 1490

        async def post(i: int) -> None:
            r = await org.ok("announce.post", channel=channel, body=f"{i:06d} {filler}")
            answered[r["id"]] = time.monotonic()
            ids.append(r["id"])

        i = 0
        after_close = None
        while after_close is None or i < after_close + 100:  # and keep going a while after the close
            await asyncio.gather(*(post(i + k) for k in range(20)))  # pipelined: 20 in flight
            i += 20
            if after_close is None and closing.done():
                after_close = i
            assert i <= 4000, "the raw client was never closed as a slow consumer"
        code, frames = await asyncio.wait_for(closing, 15)
        assert code == 4008, f"closed with {code} after {frames} data frames"

        await until(lambda: set(arrived) >= set(ids), 5, "the normal subscriber to get every event")
        assert order == ids  # each once, in order
        lags = sorted(arrived[e] - answered[e] for e in ids)
        assert lags[-1] < 1.0, f"slowest delivery {lags[-1]:.2f}s after the post was answered"
    finally:
        for t in tasks:
            t.cancel()
        raw.close()
