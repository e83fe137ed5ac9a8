"""One sign-in storm: teachers of a few schools (each school one NAT address) sign in with their right
passwords through `POST /api/auth/login`, arriving evenly over a few seconds, on two collab nodes over
Redis and PostgreSQL; optionally an attacker sprays wrong passwords over the same names from addresses
of its own, open loop, the whole time. Run with the throttle off and on (`--signin-throttle`).

The nodes trust 127.0.0.1 as their proxy, so X-Forwarded-For carries each request's client address.
Teachers hold no device cookie (each signs in as from a new browser: the case the throttle could hurt).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.fanout.measure import MachineCpu
from benchmarks.fanout.servers import (Node, create_database, drop_database, flush_redis, migrate, redis_cpu,
                                       start_collab)

PASSWORD = "bench-password-right"


@dataclass
class Config:
    teachers: int = 400  # per storm
    schools: int = 4  # NAT addresses the teachers share
    arrival_seconds: float = 40.0  # teachers press "sign in" evenly over this
    nodes: int = 2
    attack_rate: float = 20.0  # wrong passwords per second during the attacked storm
    attacker_addresses: int = 2
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/13"  # FLUSHed before each setting


def _percentiles(samples: list[float]) -> dict[str, float | None]:
    s = sorted(samples)
    at = lambda p: round(s[min(len(s) - 1, int(len(s) * p / 100))] * 1000, 1) if s else None  # noqa: E731
    return {"p50": at(50), "p95": at(95), "p99": at(99)}


async def _users(database_url: str, teachers: int) -> None:
    """Teachers in one statement, all with the same Argon2 hash (made once; verifying it costs the same)."""
    from sqlalchemy import insert

    from collab.auth.passwords import hash_password
    from collab.store.db import make_engine, make_sessionmaker
    from collab.store.models import User

    digest = hash_password(PASSWORD)
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            await db.execute(insert(User), [dict(username=f"t{i}", password_hash=digest, display_name=f"Teacher {i}",
                                                 role="teacher") for i in range(teachers)])
            await db.commit()
    finally:
        await engine.dispose()


async def _login(http: httpx.AsyncClient, node: Node, username: str, password: str, address: str) -> tuple[int | str, float]:
    """The answer's status (or the client error's name: ReadTimeout, ConnectError) and its latency."""
    start = time.perf_counter()
    try:
        r = await http.post(f"http://127.0.0.1:{node.port}/api/auth/login", json={"username": username, "password": password},
                            headers={"X-Forwarded-For": address})
        status: int | str = r.status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return status, time.perf_counter() - start


async def _storm(cfg: Config, nodes: list[Node], attacked: bool) -> dict:
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        for node in nodes:  # warm each node's pools and imports; not measured
            await _login(http, node, "t0", PASSWORD, "198.18.255.1")
        cpu0, redis0, machine = [n.cpu() for n in nodes], redis_cpu(cfg.redis_url), MachineCpu()
        attack: dict[int | str, int] = {}
        stop = asyncio.Event()

        def answered(task: asyncio.Task) -> None:
            pending.discard(task)
            status = task.result()[0]
            attack[status] = attack.get(status, 0) + 1

        pending: set[asyncio.Task] = set()

        async def attacker() -> None:
            names, where = itertools.cycle(range(cfg.teachers)), itertools.cycle(nodes)
            sources = itertools.cycle(range(cfg.attacker_addresses))
            t0, k = time.perf_counter(), 0
            while not stop.is_set():
                k += 1
                await asyncio.sleep(max(0.0, t0 + k / cfg.attack_rate - time.perf_counter()))  # open loop
                if len(pending) >= 500:  # a server that answers nothing: stop piling up sockets
                    attack["not sent (500 in flight)"] = attack.get("not sent (500 in flight)", 0) + 1
                    continue
                task = asyncio.create_task(_login(http, next(where), f"t{next(names)}", "guess-" + secrets.token_hex(3),
                                                  f"198.19.0.{next(sources) + 1}"))
                pending.add(task)
                task.add_done_callback(answered)
            await asyncio.gather(*pending)

        async def teacher(i: int) -> tuple[int, float]:
            await asyncio.sleep(i * cfg.arrival_seconds / cfg.teachers)
            return await _login(http, nodes[i % len(nodes)], f"t{i}", PASSWORD, f"198.18.{i % cfg.schools}.1")

        spray = asyncio.create_task(attacker()) if attacked else None
        t0 = time.perf_counter()
        results = await asyncio.gather(*(teacher(i) for i in range(cfg.teachers)))
        elapsed = time.perf_counter() - t0
        cpu = sum(n.cpu() for n in nodes) - sum(cpu0)
        busy = machine.busy()
        stop.set()
        if spray:
            await spray
    statuses: dict[int | str, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    ok = statuses.get(200, 0)
    return {
        "seconds": round(elapsed, 2),
        "signed_in": ok,
        "per_second": round(ok / elapsed, 1),
        "latency_ms": _percentiles([t for s, t in results if s == 200]),
        "cpu_ms_per_sign_in": round(cpu * 1000 / ok, 1) if ok else None,
        "server_cpu_pct": round(cpu * 100 / elapsed, 1),
        "redis_cpu_ms": round((redis_cpu(cfg.redis_url) - redis0) * 1000, 1),
        "machine_busy_pct": round(busy * 100, 1),
        "teachers_throttled": statuses.get(429, 0),
        "teachers_other": {str(k): v for k, v in statuses.items() if k not in (200, 429)},
        "attack": {str(k): v for k, v in sorted(attack.items(), key=str)},
    }


async def run_setting(cfg: Config, throttle: bool, logdir: Path) -> dict:
    """Fresh database, flushed Redis, fresh nodes; a storm alone, then a storm under attack."""
    database_url = await create_database(cfg.pg_url)
    nodes: list[Node] = []
    try:
        await asyncio.to_thread(migrate, database_url)
        await _users(database_url, cfg.teachers)
        flush_redis(cfg.redis_url)
        secret = secrets.token_urlsafe(32)
        extra = ["--trusted-proxies", "127.0.0.1", "--signin-throttle", "true" if throttle else "false"]
        nodes = [start_collab(i, database_url, cfg.redis_url, secret, logdir, extra) for i in range(cfg.nodes)]
        for n in nodes:
            await asyncio.to_thread(n.wait_ready, "/readyz")
        return {"alone": await _storm(cfg, nodes, False), "attacked": await _storm(cfg, nodes, True)}
    finally:
        for n in nodes:
            n.stop()
        await drop_database(cfg.pg_url, database_url)


async def run(cfg: Config) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix="collab-bench-signin-"))
    print(f"server logs in {logdir}", flush=True)
    out = {}
    for throttle in (False, True):
        out["on" if throttle else "off"] = await run_setting(cfg, throttle, logdir)
    return out
