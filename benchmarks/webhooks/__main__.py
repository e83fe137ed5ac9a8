"""python -m benchmarks.webhooks [--events N] [--pg URL]: what webhooks cost (benchmarks/README.md, "Webhooks").

1. The outbox: a transaction that stores an announcement, alone and with a webhook event beside it (the
   extra insert every reported change pays), N times each.
2. Delivery: N events in the outbox, one endpoint (a receiver on 127.0.0.1 answering 204), one node's
   Deliverer holding the lease: events per second delivered, signed, and logged, and the time from an
   event's commit to its arrival.

One process: the database (a fresh SQLite file, or a fresh PostgreSQL database next to `--pg`), the
in-process bus, the receiver (uvicorn) and the deliverer share one event loop and one core. Only 127.0.0.1
is contacted."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import uvicorn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

import harness  # noqa: E402
from collab.auth.accounts import create_user  # noqa: E402
from collab.realtime.memory_bus import MemoryBus  # noqa: E402
from collab.settings import Settings  # noqa: E402
from collab.store import schema  # noqa: E402
from collab.store.db import make_engine, make_sessionmaker  # noqa: E402
from collab.store.models import Announcement, WebhookDelivery  # noqa: E402
from collab.webhooks import endpoints, outbox  # noqa: E402
from collab.webhooks.deliverer import Deliverer  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.port = harness.free_port()
        self.arrivals: list[tuple[str, float]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.arrivals.append((dict(scope["headers"])[b"webhook-id"].decode(), time.time()))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def commits(sm, author: int, n: int, with_event: bool) -> float:
    started = time.perf_counter()
    for i in range(n):
        async with sm() as db:
            db.add(Announcement(channel="announce:bench", author_id=author, body=f"通知 {i}"))
            if with_event:
                outbox.record(db, "activity.changed", {"id": i, "title": "函数的概念 课例研讨"})
            await db.commit()
    return (time.perf_counter() - started) / n * 1000


async def main(args) -> None:
    if args.pg:
        harness.PG_URL = args.pg
        url = await harness.create_pg_database()
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='collab-bench-webhooks-')) / 'bench.db'}"
    await asyncio.to_thread(schema.upgrade, url)
    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    receiver = Receiver()
    server = uvicorn.Server(uvicorn.Config(receiver, host="127.0.0.1", port=receiver.port, log_level="warning",
                                           lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        async with sm() as db:
            author = (await create_user(db, username="bench", password="password-bench", display_name="Bench",
                                        role="organizer")).id
            await endpoints.create(db, author, f"http://127.0.0.1:{receiver.port}/hooks", ["*"], allow_private=True)
            await db.commit()
        plain = await commits(sm, author, args.commits, with_event=False)
        told = await commits(sm, author, args.commits, with_event=True)  # these are delivered below, too

        settings = Settings(node_id="bench", webhook_poll_interval=0.05, webhook_allow_private=True)
        committed: dict[str, float] = {}
        for start in range(0, args.events, 100):
            async with sm() as db:
                rows = [outbox.record(db, "attendance.finalized", {"page": i, "attendees": []})
                        for i in range(start, min(start + 100, args.events))]
                await db.commit()
            now = time.time()
            committed.update({r.msg_id: now for r in rows})
        total = args.events + args.commits
        deliverer = Deliverer(settings, sm, MemoryBus("bench"))
        began = time.perf_counter()
        await deliverer.start()
        while len({i for i, _ in receiver.arrivals}) < total:
            await asyncio.sleep(0.05)
        async with sm() as db:  # every outcome logged, not only sent
            from sqlalchemy import func, select
            while (await db.execute(select(func.count()).select_from(WebhookDelivery)
                                    .where(WebhookDelivery.status == "succeeded"))).scalar_one() < total:
                await asyncio.sleep(0.05)
        took = time.perf_counter() - began
        await deliverer.stop()
        async with sm() as db:
            from sqlalchemy import func, select
            from collab.store.models import WebhookAttempt
            attempts = dict((await db.execute(select(WebhookAttempt.error, func.count())
                                              .group_by(WebhookAttempt.error))).all())
        lags = sorted(at - committed[i] for i, at in receiver.arrivals if i in committed)
    finally:
        server.should_exit = True
        await serving
        await engine.dispose()
        if args.pg:
            await harness.drop_pg_database(url)
    rows = [("database", engine.dialect.name),
            ("machine", f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"),
            ("commit of a change, alone", f"{plain:.2f} ms"),
            ("commit of a change with its webhook event", f"{told:.2f} ms (+{told - plain:.2f} ms)"),
            ("events delivered, signed and logged", f"{total} in {took:.1f} s: {total / took:,.0f}/s"),
            ("attempts", ", ".join(f"{n} {e or 'answered 204'}" for e, n in attempts.items())),
            ("outbox → receiver, backlog drained (p50 / p99)",
             f"{statistics.median(lags):.2f} / {lags[int(len(lags) * 0.99) - 1]:.2f} s")]
    table = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    print(table)
    out = HERE / "results.md"
    out.write_text(f"# Webhooks ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {args.events} events, "
                   f"{args.commits} commits)\n\n{table}\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m benchmarks.webhooks", description=__doc__)
    p.add_argument("--events", type=int, default=2000)
    p.add_argument("--commits", type=int, default=500)
    p.add_argument("--pg", default="", help="a PostgreSQL URL: a fresh database is made beside it (default: SQLite)")
    asyncio.run(main(p.parse_args()))
