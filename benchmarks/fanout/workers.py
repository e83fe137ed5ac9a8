"""A client worker process: holds a slice of the audience and answers the orchestrator's commands.

Attendees are spread over several processes so no single Python process (one core at most) limits
what the servers can show. Each worker reports its own CPU time, so the report can say whether the
load generator was saturated. Commands arrive over a multiprocessing pipe:

    ("join", n)   open n attendees (connect + subscribe), return timing and failures
    ("mark", _)   start the measurement window (CPU time, counters)
    ("progress",) events received so far
    ("report",)   everything counted since "mark"
    ("close",)    close every socket and exit
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections import Counter
from dataclasses import dataclass

from benchmarks.fanout.attendees import Attendee, CollabAttendee, SioAttendee
from benchmarks.fanout.limits import raise_nofile
from benchmarks.fanout.tokens import mint


@dataclass
class WorkerSpec:
    index: int
    system: str  # "collab" or "socketio"
    host: str
    port: int
    node: int
    user_base: int  # attendee user ids start here (tokens need no DB row)
    secret: str
    sample_every: int  # every k-th attendee records latencies
    concurrency: int = 200  # handshakes in flight at once, per worker
    join_timeout: float = 60.0


def worker_main(pipe, spec: WorkerSpec) -> None:
    raise_nofile()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(Worker(pipe, spec).serve())


class Worker:
    def __init__(self, pipe, spec: WorkerSpec) -> None:
        self.pipe = pipe
        self.spec = spec
        self.attendees: list[Attendee] = []
        self.failures: Counter[str] = Counter()
        self.mark_cpu = self.mark_wall = 0.0

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            cmd, arg = await loop.run_in_executor(None, self.pipe.recv)
            if cmd == "close":
                for a in self.attendees:
                    if a.transport is not None:
                        a.transport.abort()
                await asyncio.sleep(0.2)
                self.pipe.send(None)
                return
            self.pipe.send(await getattr(self, cmd)(arg))

    def _make(self, i: int, token: str) -> Attendee:
        s = self.spec
        sample = i % s.sample_every == 0
        if s.system == "collab":
            return CollabAttendee(s.host, s.port, token, sample)
        return SioAttendee(s.host, s.port, token, sample)

    async def join(self, n: int) -> dict:
        s = self.spec
        first = s.user_base + len(self.attendees)
        tokens = [mint(s.secret, first + k, "teacher") for k in range(n)]  # minted before the clock starts
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(s.concurrency)
        failures: Counter[str] = Counter()

        async def one(k: int) -> Attendee | None:
            async with gate:
                a = self._make(len(self.attendees) + k, tokens[k])
                try:
                    await loop.create_connection(lambda: a, s.host, s.port)
                    await asyncio.wait_for(a.joined, s.join_timeout)
                    return a
                except Exception as exc:  # noqa: BLE001 - a failed join is counted, not fatal
                    failures[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
                    if a.transport is not None:
                        a.transport.abort()
                    return None

        cpu0, t0 = time.process_time(), time.time()
        joined = [a for a in await asyncio.gather(*(one(k) for k in range(n))) if a is not None]
        t1, cpu1 = time.time(), time.process_time()
        self.attendees.extend(joined)
        self.failures.update(failures)
        return {"node": s.node, "ok": len(joined), "failed": dict(failures), "start": t0, "end": t1,
                "cpu": cpu1 - cpu0}

    async def mark(self, _=None) -> dict:
        for a in self.attendees:  # nothing before the window counts
            a.received = a.gaps = a.frames = 0
            if a.latencies is not None:
                a.latencies.clear()
        self.mark_cpu, self.mark_wall = time.process_time(), time.time()
        return {"live": sum(1 for a in self.attendees if a.live and not a.lost)}

    async def progress(self, _=None) -> int:
        return sum(a.received for a in self.attendees)

    async def report(self, _=None) -> dict:
        cpu, wall = time.process_time() - self.mark_cpu, time.time() - self.mark_wall
        lat = array("q")
        for a in self.attendees:
            if a.latencies:
                lat.extend(a.latencies)
        return {
            "node": self.spec.node,
            "attendees": len(self.attendees),
            "counts": dict(Counter(a.received for a in self.attendees)),
            "gaps": sum(a.gaps for a in self.attendees),
            "clients_with_gaps": sum(1 for a in self.attendees if a.gaps),
            "closed": dict(Counter(str(a.close_code) for a in self.attendees if a.lost)),
            "resyncs": sum(getattr(a, "resyncs", 0) for a in self.attendees),
            "frames": sum(a.frames for a in self.attendees),
            "event_bytes": max((a.event_bytes for a in self.attendees), default=0),
            "latencies_ns": lat.tobytes(),
            "cpu": cpu,
            "wall": wall,
        }
