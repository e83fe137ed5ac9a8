"""Simulated LL-HLS viewers, many per worker process (forked, driven over a pipe like the stage
benchmark's helpers), each doing what hls.js does at the live edge in low-latency mode:

    GET <rung>/index.m3u8 once, GET the init section, then loop:
      GET <rung>/index.m3u8?_HLS_msn=M&_HLS_part=P   (blocking reload for the next part: the preload
                                                      hint's, or the one after the last)
      GET every part the answer lists that it has not fetched yet (normally one)

`mode="hint"` does what Apple's player does instead: the hinted part and the blocking reload for it
at once, on two connections. Each viewer has a playlist connection and a media connection (keep-alive)
and its own key (`signed.program_key` for its own user id), so the URLs differ per viewer as they do
for real viewers; a CDN's cache key leaves the key out.

A new run of the program (a node taking it over, or the program restarting) has a new epoch in its
part URIs and numbers its parts afresh: a viewer that sees another epoch starts over from the init
section, as a player does on a discontinuity.

Every loop is bounded: a viewer stops at `stop`, at its deadline, or after `GIVE_UP` seconds of
nothing but failed requests.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass

from benchmarks.audience.llhls import Connection, HttpError, parse_media, part_of_uri

GIVE_UP = 30.0  # seconds of failed requests only (a program restarting takes a few)
ERROR_PAUSE = 0.5


def epoch_of(uri: str) -> str:
    """The run of the program a part URI belongs to: its directory ("3b05054d/7.1.m4s" -> "3b05054d")."""
    return uri.rsplit("/", 1)[0] if "/" in uri else ""


@dataclass
class Target:
    host: str
    port: int
    activity_id: int
    rung: str


@dataclass
class WorkerSpec:
    index: int
    secret: str
    user_base: int
    mode: str = "after"  # "after" (hls.js) or "hint" (fetch the preload hint with the blocking reload)
    sample_every: int = 10  # every k-th viewer keeps the time of each blocking answer
    nice: int = 0  # added to the process's nice value


def worker_main(pipe, spec: WorkerSpec) -> None:
    import os

    from benchmarks.stage.procs import serve

    if spec.nice:
        os.nice(spec.nice)
    serve(pipe, lambda: Worker(spec))


class Viewer:
    def __init__(self, worker: Worker, target: Target, user_id: int, sample: bool) -> None:
        from collab.auth import signed

        self.w = worker
        self.t = target
        key = signed.program_key(worker.spec.secret, target.activity_id, user_id)
        self.base = f"/live/{target.activity_id}/k/{key}/{target.rung}/"
        self.playlist = Connection(target.host, target.port)
        self.media = Connection(target.host, target.port)
        self.sample = sample
        self.answers: list[tuple[int, int, float]] = []  # (msn, part, wall time the blocking reload was answered)
        self.fetched: tuple[int, int] = (-1, -1)
        self.epoch: str | None = None
        self.failing_since: float | None = None  # monotonic time of the first failure in a row
        self.task: asyncio.Task | None = None

    async def _get(self, conn: Connection, path: str, kind: str, timeout: float = 10.0):
        w = self.w
        t0 = time.monotonic()
        try:
            status, headers, body = await conn.get(path, timeout)
        except HttpError as exc:
            w.statuses[f"{kind} {str(exc).split(' on ')[0]}"] += 1
            self.failing_since = self.failing_since or time.monotonic()
            return None, b""
        w.requests[kind] += 1
        w.bytes += len(body)
        w.statuses[f"{kind} {status}"] += 1
        if kind == "blocking":
            w.blocking_s.append(time.monotonic() - t0)
        if status != 200:
            self.failing_since = self.failing_since or time.monotonic()
            return status, b""
        self.failing_since = None
        return status, body

    def going(self, deadline: float) -> bool:
        failing = self.failing_since is not None and time.monotonic() - self.failing_since > GIVE_UP
        return time.monotonic() < deadline and not self.w.stopping and not failing

    async def run(self, deadline: float) -> None:
        try:
            await self._run(deadline)
        finally:
            self.playlist.close()
            self.media.close()

    async def _run(self, deadline: float) -> None:
        w = self.w
        pl = None
        while pl is None:
            if not self.going(deadline):
                return
            status, body = await self._get(self.playlist, self.base + "index.m3u8", "playlist")
            if status == 200:
                pl = parse_media(body.decode())
                if not pl.parts:
                    pl = None
            if pl is None:
                await asyncio.sleep(ERROR_PAUSE)
        while self.going(deadline):
            if epoch_of(pl.last.uri) != self.epoch:  # the first playlist, or a new run of the program
                if self.epoch is not None:
                    w.new_epochs += 1
                self.epoch, self.fetched = epoch_of(pl.last.uri), (-1, -1)
                if pl.map_uri:
                    await self._get(self.media, self.base + pl.map_uri, "init")
                last = pl.last
                await self._part(last.uri, (last.msn, last.index))
            want = pl.next_part()
            if want is None or pl.ended:  # this run of the program is over: look for the next
                await asyncio.sleep(ERROR_PAUSE)
                status, body = await self._get(self.playlist, self.base + "index.m3u8", "playlist")
                if status == 200 and parse_media(body.decode()).parts:
                    pl = parse_media(body.decode())
                continue
            msn, part = want
            path = f"{self.base}index.m3u8?_HLS_msn={msn}&_HLS_part={part}"
            if w.spec.mode == "hint" and pl.hint:
                (status, body), _ = await asyncio.gather(self._get(self.playlist, path, "blocking"),
                                                         self._part(pl.hint, part_of_uri(pl.hint)))
            else:
                status, body = await self._get(self.playlist, path, "blocking")
            if status != 200:
                await asyncio.sleep(ERROR_PAUSE)
                status, body = await self._get(self.playlist, self.base + "index.m3u8", "playlist")
                if status == 200 and parse_media(body.decode()).parts:
                    pl = parse_media(body.decode())
                continue
            if self.sample:
                self.answers.append((msn, part, time.time()))
            got = parse_media(body.decode())
            if not got.parts:
                continue
            pl = got
            if epoch_of(pl.last.uri) != self.epoch:
                continue
            for p in pl.parts:
                if (p.msn, p.index) > self.fetched:
                    await self._part(p.uri, (p.msn, p.index))

    async def _part(self, uri: str, which: tuple[int, int] | None) -> None:
        if which is not None and which <= self.fetched:
            return
        status, body = await self._get(self.media, self.base + uri, "part")
        if status == 200 and which is not None:
            self.fetched = max(self.fetched, which)
            self.w.parts += 1


class Worker:
    viewer_class = Viewer  # what start() makes (the national benchmark's also keeps arrival times)

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.viewers: list[Viewer] = []
        self.stopping = False
        self._reset()

    def _reset(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.bytes = 0
        self.parts = 0
        self.new_epochs = 0
        self.blocking_s: list[float] = []
        for v in self.viewers:
            v.answers.clear()
        self.cpu0, self.wall0 = time.process_time(), time.monotonic()

    async def start(self, arg: dict) -> dict:
        """arg: {targets: [Target fields], n, ramp, seconds}: n more viewers spread over the targets,
        started evenly over `ramp` seconds, each stopping after `seconds` at the latest."""
        self.stopping = False
        targets = [Target(**t) for t in arg["targets"]]
        deadline = time.monotonic() + arg["seconds"]
        first = len(self.viewers)
        for k in range(arg["n"]):
            i = first + k
            v = self.viewer_class(self, targets[i % len(targets)], self.spec.user_base + i,
                                  i % self.spec.sample_every == 0)
            self.viewers.append(v)
            delay = arg["ramp"] * k / max(1, arg["n"]) + random.random() * 0.05
            v.task = asyncio.get_running_loop().create_task(self._later(v, delay, deadline))
        return {"viewers": len(self.viewers)}

    async def _later(self, v: Viewer, delay: float, deadline: float) -> None:
        await asyncio.sleep(delay)
        await v.run(deadline)

    async def progress(self, _=None) -> dict:
        return {"viewers": len(self.viewers), "running": sum(1 for v in self.viewers if v.task and not v.task.done()),
                "fetching": sum(1 for v in self.viewers if v.fetched >= (0, 0)), "parts": self.parts}

    async def mark(self, _=None) -> dict:
        self._reset()
        return {"viewers": len(self.viewers)}

    async def report(self, _=None) -> dict:
        wall = time.monotonic() - self.wall0
        return {"wall": wall, "cpu": time.process_time() - self.cpu0, "viewers": len(self.viewers),
                "running": sum(1 for v in self.viewers if v.task and not v.task.done()),
                "requests": dict(self.requests), "statuses": dict(self.statuses), "bytes": self.bytes,
                "parts": self.parts, "blocking_s": self.blocking_s, "new_epochs": self.new_epochs,
                "answers": [a for v in self.viewers if v.sample for a in v.answers],
                "reconnects": sum(v.playlist.reconnects + v.media.reconnects for v in self.viewers)}

    async def stop(self, _=None) -> dict:
        self.stopping = True
        tasks = [v.task for v in self.viewers if v.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        n = len(self.viewers)
        self.viewers = []
        return {"stopped": n}

    async def close(self, _=None) -> None:
        await self.stop()
