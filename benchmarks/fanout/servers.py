"""Starting and stopping what the benchmark measures: collab or python-socketio nodes, plus the
PostgreSQL database and Redis db they use. Everything started here is stopped by `Node.stop` /
`drop_database`, which the orchestrator calls in `finally` blocks."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from benchmarks.fanout.limits import raise_nofile

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"  # the only address this benchmark ever talks to


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Node:
    """One server process on its own port, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], port: int, logdir: Path, env: dict[str, str],
                 internal_port: int | None = None) -> None:
        self.name, self.port = name, port
        self.internal_port = internal_port  # a collab node's operations port: /metrics is served there only
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - open for the process's life, closed in stop()
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=raise_nofile,  # noqa: PLW1509 - no threads here
        )
        self.ps = psutil.Process(self.proc.pid)

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}{path}", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready in {timeout}s; see {self.log_path}")

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def cpu_system(self) -> float:
        """Kernel time alone: on loopback it includes most of the TCP work of every write."""
        return self.ps.cpu_times().system

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def start_collab(i: int | str, database_url: str, redis_url: str, secret: str, logdir: Path, extra: list[str],
                 prefix: list[str] | tuple[str, ...] = ()) -> Node:
    """`prefix`: a command the server runs under (`nice -n 10`)."""
    port, internal = free_port(), free_port()
    argv = [*prefix, sys.executable, "-m", "server.cli", "serve", "--host", HOST, "--port", str(port),
            "--internal-port", str(internal), "--database-url", database_url, "--redis-url", redis_url,
            "--secret", secret,
            "--node-id", f"bench-{i}", "--log-json", "true", "--log-level", "warning", *extra]
    return Node(f"collab-{i}", argv, port, logdir, {"COLLAB_DATA_DIR": str(logdir / f"data-{i}")}, internal)


def start_socketio(i: int, redis_url: str, secret: str, logdir: Path, channel: str) -> Node:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "benchmarks.fanout.sio_app:app", "--host", HOST, "--port", str(port),
            "--log-level", "warning", "--no-access-log", "--backlog", "4096"]
    env = {"BENCH_REDIS_URL": redis_url, "BENCH_SECRET": secret, "BENCH_SIO_CHANNEL": channel}
    return Node(f"socketio-{i}", argv, port, logdir, env)


# -- PostgreSQL and Redis --------------------------------------------------------------------------


def _admin_dsn(pg_url: str) -> str:
    return pg_url.replace("postgresql+asyncpg://", "postgresql://")


async def create_database(pg_url: str) -> str:
    """A fresh database next to `pg_url`'s; returns its URL."""
    import asyncpg

    name = "collab_bench_" + secrets.token_hex(4)
    conn = await asyncpg.connect(_admin_dsn(pg_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return pg_url.rpartition("/")[0] + "/" + name


async def drop_database(pg_url: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(pg_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await conn.close()


def migrate(database_url: str) -> None:
    subprocess.run([sys.executable, "-m", "server.cli", "db", "upgrade", "--database-url", database_url],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


async def create_organizer(database_url: str, name: str) -> int:
    from collab.auth.accounts import create_user
    from collab.store.db import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            user = await create_user(db, username="bench_organizer", password="bench-" + secrets.token_hex(8),
                                     display_name=name, role="organizer")
            await db.commit()
            return user.id
    finally:
        await engine.dispose()


def flush_redis(redis_url: str) -> None:
    import redis

    r = redis.Redis.from_url(redis_url)
    try:
        r.flushdb()
    finally:
        r.close()


def redis_cpu(redis_url: str) -> float:
    """Redis's own CPU seconds (INFO cpu), so the report can show what the bus cost."""
    import redis

    r = redis.Redis.from_url(redis_url)
    try:
        info = r.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        r.close()


def run(coro):
    return asyncio.run(coro)
