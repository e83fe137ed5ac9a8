"""Real parts for integration tests: server processes, databases, Redis servers, a /ws client."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from collab.auth.actor import Actor
from collab.auth.tokens import issue_token
from collab.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SECRET = "test-secret-" + "x" * 40
def _worker_redis(base: str) -> tuple[str, str]:
    """Each pytest-xdist worker has two Redis databases of its own (its own and a spare for tests that
    need a second deployment): worker N of base DB B uses B-2N and B-2N-1. Leases and streams live in
    the database; the bus prefixes its channels by database because pub/sub is server-wide."""
    head, _, db = base.rpartition("/")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    n = int(worker[2:]) if worker[2:].isdigit() else 0
    own = int(db) - 2 * n
    if own - 1 < 0:
        raise RuntimeError(f"COLLAB_TEST_REDIS {base}: too few databases below it for worker {worker}")
    return f"{head}/{own}", f"{head}/{own - 1}"


REDIS_URL, SPARE_REDIS_URL = _worker_redis(os.environ.get("COLLAB_TEST_REDIS", "redis://127.0.0.1:6379/15"))
PG_URL = os.environ.get("COLLAB_TEST_PG", "postgresql://postgres:postgres@127.0.0.1:5432/test")
ARTIFACTS = Path(os.environ.get("COLLAB_TEST_ARTIFACTS", ROOT / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token_for(user_id: int, role: str = "teacher", name: str = "", ttl: int = 3600, secret: str = SECRET) -> str:
    return issue_token(Settings(secret=secret), Actor(user_id=user_id, role=role, name=name or f"user{user_id}"), ttl)


class Server:
    """One `collab serve` process on its own port."""

    _names = itertools.count(1)

    def __init__(self, database_url: str, redis_url: str = "", name: str | None = None, **settings: Any) -> None:
        self.name = name or f"node{next(self._names)}"
        self.port = free_port()
        self.internal_port = free_port()  # /metrics and the operator's detail (not on the public port)
        self.database_url = database_url
        self.redis_url = redis_url
        self.settings = settings
        self.proc: subprocess.Popen | None = None
        self.datadir = Path(tempfile.mkdtemp(prefix=f"collab-{self.name}-"))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"server-{self.name}-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--internal-port", str(self.internal_port), "--database-url", self.database_url, "--secret", SECRET, "--node-id", self.name]
        if self.redis_url:
            args += ["--redis-url", self.redis_url]
        for key, value in self.settings.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        return args

    def start(self, wait: bool = True, ready: bool = True) -> "Server":
        env = dict(os.environ, COLLAB_DATA_DIR=str(self.datadir), PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            self.wait(ready)
        return self

    def wait(self, ready: bool = True, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        path = "/readyz" if ready else "/healthz"
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not {path} in {timeout}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else None
        if hasattr(self, "_log"):
            self._log.close()
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)


class RedisServer:
    """A throwaway redis-server for tests that stop and restart Redis."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class PushSchema:
    """docs/pushes.schema.json, and why a push does not match it."""

    _loaded: "PushSchema | None" = None

    def __init__(self, path: Path = ROOT / "docs" / "pushes.schema.json") -> None:
        from jsonschema import Draft202012Validator

        schema = orjson.loads(path.read_bytes())
        Draft202012Validator.check_schema(schema)
        self.whole = Draft202012Validator(schema)
        # one validator per definition, to say what is wrong in terms of the event's own type
        self.parts = {name: Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": schema["$defs"]})
                      for name in schema["$defs"]}

    @classmethod
    def load(cls) -> "PushSchema":
        if cls._loaded is None:
            cls._loaded = cls()
        return cls._loaded

    def problems(self, push: dict) -> list[str]:
        if self.whole.is_valid(push):
            return []
        e = push.get("e")
        kind = next((k for k in ("resync", "unsubscribed", "presence") if k in push), None)
        checks = [({"resync": "ResyncPush", "unsubscribed": "UnsubscribedPush", "presence": "PresencePush"}.get(
            kind, "EventPush"), push, ())]
        if isinstance(e, dict) and e.get("type") in self.parts and e["type"][:1].islower():
            checks.insert(0, (e["type"], e, ("e",)))  # first, in the terms of the event's own type
        for name, target, where in checks:
            found = [f"{'/'.join(map(str, (*where, *err.absolute_path))) or '(the push)'}: {err.message}"
                     for err in self.parts[name].iter_errors(target)]
            if found:
                return found
        return [err.message for err in self.whole.iter_errors(push)]


class WsClient:
    """A /ws test client: commands with ids and awaited replies; pushes collected in order.

    While `WsClient.schema` is set (the `validate_pushes` fixture), every push any client receives is
    checked against docs/pushes.schema.json: `push()` raises on one that does not match, and the
    fixture fails the test for any other (a push nobody awaited, a presence line)."""

    schema: PushSchema | None = None
    violations: list[tuple[dict, list[str]]] = []

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: websockets.ClientConnection | None = None
        self.ids = itertools.count(1)
        self.replies: dict[int | None, asyncio.Future] = {}
        self.pushes: asyncio.Queue[dict] = asyncio.Queue()
        self.errors_without_id: list[dict] = []
        self.presence: list[dict] = []  # presence lines, in order
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    async def open(self, token: str | None = None) -> "WsClient":
        self.ws = await websockets.connect(self.url, max_size=None, compression=None, open_timeout=10)
        self._reader = asyncio.create_task(self._read())
        if token is not None:
            r = await self.call("connect", token=token)
            assert "ok" in r, r
        return self

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                for line in frame.split("\n"):
                    if not line:
                        continue
                    msg = orjson.loads(line)
                    if "id" not in msg and WsClient.schema is not None:
                        problems = WsClient.schema.problems(msg)
                        if problems:
                            WsClient.violations.append((msg, problems))
                    if "id" in msg:
                        fut = self.replies.pop(msg["id"], None)
                        if fut is not None and not fut.done():
                            fut.set_result(msg)
                        elif msg["id"] is None:
                            self.errors_without_id.append(msg)
                    elif "presence" in msg:  # a room's count, pushed when it changes: not an event
                        self.presence.append(msg)
                    else:
                        self.pushes.put_nowait(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            for fut in self.replies.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(f"closed {self.close_code}"))
                    fut.exception()  # the caller may have given up waiting: no "never retrieved" noise

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def call(self, cmd: str, timeout: float = 10.0, **args: Any) -> dict:
        cid = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.replies[cid] = fut
        try:
            await self.ws.send(orjson.dumps({"id": cid, "cmd": cmd, "args": args}).decode())
        except websockets.ConnectionClosed as exc:
            self.replies.pop(cid, None)
            fut.cancel()
            raise ConnectionError(f"closed {exc.rcvd.code if exc.rcvd else None}") from None
        return await asyncio.wait_for(fut, timeout)

    async def ok(self, cmd: str, **args: Any) -> dict:
        r = await self.call(cmd, **args)
        assert "ok" in r, r
        return r["ok"]

    async def push(self, timeout: float = 5.0) -> dict:
        msg = await asyncio.wait_for(self.pushes.get(), timeout)
        for bad, problems in WsClient.violations:
            if bad is msg:
                raise AssertionError(f"push not as docs/pushes.schema.json says: {msg}\n" + "\n".join(problems))
        return msg

    async def pushes_until(self, n: int, timeout: float = 10.0) -> list[dict]:
        return [await self.push(timeout) for _ in range(n)]

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader:
            await asyncio.gather(self._reader, return_exceptions=True)


@pytest.fixture
def validate_pushes():
    """Every push received during the test must match docs/pushes.schema.json: an undocumented event
    type or field fails the test. Use it in a module with `from harness import validate_pushes` and
    `pytestmark = pytest.mark.usefixtures("validate_pushes")`."""
    WsClient.schema, WsClient.violations = PushSchema.load(), []
    yield
    WsClient.schema = None
    bad, WsClient.violations = WsClient.violations, []
    assert not bad, "pushes not as docs/pushes.schema.json says:\n" + "\n".join(
        f"{msg}\n  " + "\n  ".join(problems) for msg, problems in bad[:10])


async def create_pg_database() -> str:
    """A fresh PostgreSQL database for one test module; returns its URL."""
    import asyncpg

    name = "collab_t_" + secrets.token_hex(4)
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{name}"


async def pg_database_with(people: list[tuple[str, str]], prefix: str,
                           names: dict[str, str] | None = None) -> tuple[str, dict[str, tuple[int, str]]]:
    """A fresh migrated PostgreSQL database with these accounts (`(name, role)`: username prefix + name,
    display name `names[name]` or name.title()): its URL and {name: (user id, token)}."""
    from collab.auth.accounts import create_user
    from collab.store import schema
    from collab.store.db import make_engine, make_sessionmaker

    url = await create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    users = {}
    async with make_sessionmaker(engine)() as db:
        for name, role in people:
            u = await create_user(db, username=prefix + name, password="password-" + name,
                                  display_name=(names or {}).get(name, name.title()), role=role)
            users[name] = (u.id, token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    return url, users


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = url.rpartition("/")[2]
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class CuttableProxy:
    """A TCP proxy in front of a server whose link can be cut and restored: a teacher's bad network.

    While cut, open connections are dropped and new ones are closed at once (as a dead link looks to
    a browser). Runs in the test's event loop."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.cut_off = False
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "CuttableProxy":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    def cut(self) -> None:
        self.cut_off = True
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def translated_codes() -> set[str]:
    """The error codes webclient/static/page.js has a sentence for (its ERRORS table's keys)."""
    text = (ROOT / "webclient" / "static" / "page.js").read_text()
    block = text[text.index("var ERRORS = {"):]
    return set(re.findall(r"\b([a-z][a-z0-9_]*):\s*(?:\[|[A-Z_]+\b)", block[: block.index("\n  };")]))
