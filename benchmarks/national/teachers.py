"""Simulated teachers of a live activity, and the worker process that holds a slice of them.

A teacher is a raw `/ws` client (benchmarks.fanout.rawws): commands are sent with ids and their
replies resolve futures; pushes are counted without parsing JSON (`bytes.count`). Only what a number
needs is looked at: chat send stamps (sampled teachers only), poll voter totals (a regex, only while a
final tally is awaited) and Q&A totals (sampled teachers only).

With video (`watch`), a teacher does what the room page's program player does: it asks
`program.watch` once it has joined (the snapshot opened the stage) and keeps the answer's tier and
address; when the room says the program came on (`program {state: "on"}`) it asks again only if it
has no address yet (the answer hands one out before the program is on). Such an ask is timed from
that push.

With the group phase (`--groups`), each teacher has a `groups.GroupSeat` that sees its pushes: it
asks `group.mine` on `groups_formed` and times its group's chat.

Worker commands over the pipe (see `Worker`): join, do, rejoin, mark, progress, report, expect_tally,
tally, qa, watching, leave_all, close; the group phase's groups_* (`groups.GroupDesk`).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass

import orjson

from benchmarks.fanout.limits import raise_nofile
from benchmarks.fanout.rawws import WsProtocol, upgrade_request
from benchmarks.fanout.tokens import mint
from benchmarks.national.groups import GroupDesk, GroupSeat

HOST = "127.0.0.1"
PUSH_MARK = b',"e":{'
CHAT_MARK = b'"type":"chat"'
STAMP = b'"body":"t='
VOTERS = re.compile(rb'"voters":(\d+)')
PROGRAM_ON = b'"type":"program"'  # with '"state":"on"' in the same push: the program came on


class Teacher(WsProtocol):
    def __init__(self, port: int, uid: int, token: str, sample: bool, watch: bool = False) -> None:
        super().__init__(upgrade_request(HOST, port, "/ws"))
        loop = asyncio.get_running_loop()
        self.port, self.uid, self.token, self.watch = port, uid, token, watch
        self.opened = loop.create_future()
        self.pending: dict[int, asyncio.Future] = {}
        self.next_id = 1
        self.received = 0
        self.chat = 0
        self.latencies: list[int] | None = [] if sample else None
        self.qa_votes: dict[str, int] | None = {} if sample else None
        self.want_voters = 0
        self.tally_ns = 0
        self.joined_ns = 0
        self.intervals: list[tuple[int, int]] = []  # (subscribe reply ns, left ns)
        self.activity_id = 0
        self.tier: str | None = None  # the last program.watch answer's
        self.url: str | None = None  # and its program address
        self.watch_asks = self.watch_answers = 0
        self.watch_errors: Counter[str] = Counter()
        self.program_heard_ns = 0  # when (wall clock) the push saying the program came on arrived
        self.program_answer_ns = 0  # how long the program.watch that push caused took to be answered
        self.group: GroupSeat | None = None  # in the group phase only

    # -- protocol ---------------------------------------------------------------------------------

    def on_open(self) -> None:
        if not self.opened.done():
            self.opened.set_result(None)

    def fail(self, reason: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(reason))
        super().fail(reason)

    def on_closed(self) -> None:
        err = ConnectionError(f"closed {self.close_code}")
        if not self.opened.done():
            self.opened.set_exception(err)
        for f in self.pending.values():
            if not f.done():
                f.set_exception(err)
        self.pending.clear()
        if self.joined_ns:
            self.intervals.append((self.joined_ns, time.time_ns()))
            self.joined_ns = 0

    def cmd(self, name: str, args: dict) -> asyncio.Future:
        cid = self.next_id
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[cid] = fut
        self.send_text(orjson.dumps({"id": cid, "cmd": name, "args": args}))
        return fut

    async def call(self, name: str, args: dict, timeout: float = 60.0) -> dict:
        msg = await asyncio.wait_for(self.cmd(name, args), timeout)
        if "error" in msg:
            raise CommandFailed(msg["error"].get("code", "error"))
        return msg["ok"]

    def on_text(self, payload: bytes) -> None:
        if self.pending:
            pushes = []
            for line in payload.split(b"\n"):
                if line.startswith(b'{"ch"'):
                    pushes.append(line)
                    continue
                msg = orjson.loads(line)
                fut = self.pending.pop(msg.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            if not pushes:
                return
            payload = b"\n".join(pushes)
        n = payload.count(PUSH_MARK)
        if not n:
            return
        if self.watch and PROGRAM_ON in payload and b'"state":"on"' in payload:
            self.program_heard_ns = time.time_ns()
            if not self.url:
                self.ask_program(timed=True)
        self.received += n
        self.chat += payload.count(CHAT_MARK)
        if self.group is not None:
            self.group.seen(payload)
        if self.want_voters and not self.tally_ns:
            for m in VOTERS.finditer(payload):
                if int(m.group(1)) >= self.want_voters:
                    self.tally_ns = time.time_ns()
                    break
        if self.latencies is not None:
            now = time.time_ns()
            i = payload.find(STAMP)
            while i >= 0:
                sent = int(payload[i + 10 : i + 29])
                self.latencies.append(now - sent)
                i = payload.find(STAMP, i + 29)
            if self.qa_votes is not None and b'"qa_votes"' in payload:
                for line in payload.split(b"\n"):
                    if b'"qa_votes"' in line:
                        self.qa_votes.update(orjson.loads(line)["e"]["votes"])

    # -- a whole join: connect, snapshot, subscribe -----------------------------------------------

    async def join(self, activity_id: int, timeout: float = 60.0) -> tuple[int, int]:
        """Returns (join ns from TCP connect to subscribe reply, snapshot ns from send to reply)."""
        loop = asyncio.get_running_loop()
        self.activity_id = activity_id  # before any push: one may come with the subscribe reply
        t0 = time.perf_counter_ns()
        await loop.create_connection(lambda: self, HOST, self.port)
        await asyncio.wait_for(self.opened, timeout)
        await self.call("connect", {"token": self.token}, timeout)
        s0 = time.perf_counter_ns()
        snap = await self.call("activity.snapshot", {"activity_id": activity_id}, timeout)
        s1 = time.perf_counter_ns()
        await self.call("subscribe", {"channel": snap["channel"], "since": snap["since"]}, timeout)
        self.joined_ns = time.time_ns()
        took = time.perf_counter_ns() - t0
        if self.watch:  # the page asks once the snapshot opened the stage; after the join is timed here
            self.ask_program(timed=False)
        return took, s1 - s0

    def ask_program(self, timed: bool) -> None:
        """program.watch, not awaited: the answer's tier is kept (and timed from the program's push)."""
        self.watch_asks += 1
        fut = self.cmd("program.watch", {"activity_id": self.activity_id})

        def answered(f: asyncio.Future) -> None:
            self.watch_answers += 1
            msg = None if f.cancelled() or f.exception() else f.result()
            if msg is None or "error" in msg:
                self.watch_errors[(msg or {}).get("error", {}).get("code", "closed")] += 1
                return
            self.tier = msg["ok"].get("tier")
            self.url = msg["ok"].get("url") or self.url
            if timed and not self.program_answer_ns:
                self.program_answer_ns = time.time_ns() - self.program_heard_ns

        fut.add_done_callback(answered)

    def leave(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class CommandFailed(Exception):
    pass


@dataclass
class WorkerSpec:
    index: int
    secret: str
    activity_id: int
    concurrency: int = 200
    watch: bool = False  # teachers ask program.watch (the video run)


def worker_main(pipe, spec: WorkerSpec) -> None:
    raise_nofile()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(Worker(pipe, spec).serve())


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:60]}"


class Worker(GroupDesk):
    def __init__(self, pipe, spec: WorkerSpec) -> None:
        self.pipe, self.spec = pipe, spec
        self.teachers: dict[int, Teacher] = {}
        self.mark_cpu = self.mark_wall = 0.0

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            cmd, arg = await loop.run_in_executor(None, self.pipe.recv)
            if cmd == "close":
                for t in self.teachers.values():
                    t.leave()
                await asyncio.sleep(0.2)
                self.pipe.send(None)
                return
            try:
                self.pipe.send(await getattr(self, cmd)(arg))
            except Exception as exc:  # noqa: BLE001 - the orchestrator reports it
                self.pipe.send({"worker_error": _err(exc)})

    async def join(self, arg: dict) -> dict:
        """arg: teachers [(uid, port, sample)], seconds (spread the starts evenly over this)."""
        todo, seconds = arg["teachers"], arg["seconds"]
        tokens = {uid: mint(self.spec.secret, uid, "teacher") for uid, _, _ in todo}  # before the clock
        gate = asyncio.Semaphore(self.spec.concurrency)
        failures: Counter[str] = Counter()
        joins, snaps = [], []
        t_start = time.perf_counter()

        async def one(k: int, uid: int, port: int, sample: bool) -> None:
            await asyncio.sleep(max(0.0, t_start + k * seconds / max(1, len(todo)) - time.perf_counter()))
            async with gate:
                t = Teacher(port, uid, tokens[uid], sample, self.spec.watch)
                try:
                    j, s = await t.join(self.spec.activity_id)
                    joins.append(j)
                    snaps.append(s)
                    self.teachers[uid] = t
                except Exception as exc:  # noqa: BLE001 - counted
                    failures[_err(exc)] += 1
                    t.leave()

        cpu0, w0 = time.process_time(), time.time()
        await asyncio.gather(*(one(k, *x) for k, x in enumerate(todo)))
        return {"ok": len(joins), "failed": dict(failures), "join_ns": joins, "snapshot_ns": snaps,
                "start": w0, "end": time.time(), "cpu": time.process_time() - cpu0}

    async def do(self, arg: dict) -> dict:
        """arg: tasks [(delay s, uid, cmd, args)]. A body of "@stamp" becomes "t=<send ns> ...".
        Returns ok / error counts, the last reply time and the results that the caller asked to keep."""
        t0 = time.perf_counter()
        errors: Counter[str] = Counter()
        last = [0.0]
        kept: list = []
        lag = [0.0]

        async def one(delay: float, uid: int, cmd: str, args: dict) -> None:
            await asyncio.sleep(max(0.0, t0 + delay - time.perf_counter()))
            lag[0] = max(lag[0], time.perf_counter() - t0 - delay)
            t = self.teachers.get(uid)
            if t is None:
                errors["not_connected"] += 1
                return
            if args.get("body") == "@stamp":
                args = {**args, "body": f"t={time.time_ns()} chat from {uid}"}
            elif args.get("body") == "@gstamp":  # a group's chat (groups.py reads it)
                args = {**args, "body": f"g={time.time_ns()} from {uid}"}
            try:
                ok = await t.call(cmd, args)
                last[0] = max(last[0], time.time())
                if arg.get("keep"):
                    kept.append(ok)
            except Exception as exc:  # noqa: BLE001 - counted
                errors[str(exc) if isinstance(exc, CommandFailed) else _err(exc)] += 1

        side = asyncio.ensure_future(self.rejoin(arg["rejoin"])) if arg.get("rejoin") else None
        await asyncio.gather(*(one(*x) for x in arg["tasks"]))
        return {"ok": len(arg["tasks"]) - sum(errors.values()), "errors": dict(errors), "last_reply": last[0],
                "kept": kept, "max_lag_ms": round(lag[0] * 1000, 1), "rejoin": await side if side else None}

    async def rejoin(self, arg: dict) -> dict:
        """arg: uids, port (the other node), gap s: drop each, wait, join again on `port`."""
        failures: Counter[str] = Counter()
        olds = [self.teachers.pop(uid) for uid in arg["uids"] if uid in self.teachers]
        for t in olds:
            t.leave()
        await asyncio.sleep(arg["gap"])
        for old in olds:
            t = Teacher(arg["port"], old.uid, old.token, old.latencies is not None, self.spec.watch)
            t.intervals = old.intervals  # the first interval was closed by connection_lost
            try:
                await t.join(self.spec.activity_id)
                self.teachers[old.uid] = t
            except Exception as exc:  # noqa: BLE001 - counted
                failures[_err(exc)] += 1
        return {"ok": len(olds) - sum(failures.values()), "failed": dict(failures)}

    async def mark(self, _=None) -> dict:
        for t in self.teachers.values():
            t.received = t.chat = 0
            if t.latencies is not None:
                t.latencies.clear()
        self.mark_cpu, self.mark_wall = time.process_time(), time.time()
        return {"live": sum(1 for t in self.teachers.values() if not t.lost)}

    async def progress(self, _=None) -> dict:
        return {"received": sum(t.received for t in self.teachers.values()),
                "chat": sum(t.chat for t in self.teachers.values())}

    async def report(self, _=None) -> dict:
        lat: list[int] = []
        for t in self.teachers.values():
            if t.latencies:
                lat.extend(t.latencies)
        chat = Counter(t.chat for t in self.teachers.values())
        return {"received": sum(t.received for t in self.teachers.values()), "chat_counts": dict(chat),
                "latencies_ns": lat, "cpu": time.process_time() - self.mark_cpu, "wall": time.time() - self.mark_wall,
                "live": sum(1 for t in self.teachers.values() if not t.lost),
                "closed": dict(Counter(str(t.close_code) for t in self.teachers.values() if t.lost))}

    async def expect_tally(self, voters: int) -> None:
        for t in self.teachers.values():
            t.want_voters, t.tally_ns = voters, 0

    async def tally(self, _=None) -> dict:
        seen = [t.tally_ns for t in self.teachers.values() if t.tally_ns]
        return {"seen": len(seen), "missing": len(self.teachers) - len(seen), "last_ns": max(seen, default=0),
                "first_ns": min(seen, default=0)}

    async def qa(self, _=None) -> list[tuple[int, dict]]:
        return [(t.uid, t.qa_votes) for t in self.teachers.values() if t.qa_votes is not None]

    async def watching(self, _=None) -> dict:
        """How the teachers here were told to watch: by their last program.watch answer's tier, and
        the time from the program's push to the answer of the ask it caused."""
        ts = list(self.teachers.values())
        return {"teachers": len(ts), "asked": sum(1 for t in ts if t.watch_asks), "asks": sum(t.watch_asks for t in ts),
                "pending": sum(t.watch_asks - t.watch_answers for t in ts),
                "tiers": dict(Counter(str(t.tier) for t in ts)), "heard_on": sum(1 for t in ts if t.program_heard_ns),
                "heard_ns": [min((t.program_heard_ns for t in ts if t.program_heard_ns), default=0),
                             max((t.program_heard_ns for t in ts), default=0)],
                "answer_ns": [t.program_answer_ns for t in ts if t.program_answer_ns],
                "errors": dict(sum((t.watch_errors for t in ts), Counter()))}

    async def leave_all(self, _=None) -> dict:
        """Everyone leaves; returns each teacher's presence intervals (ns) as the client measured them."""
        for t in self.teachers.values():
            t.leave()
        await asyncio.sleep(0.5)
        return {uid: t.intervals for uid, t in self.teachers.items()}


def shuffled(xs: list, seed: int = 7) -> list:
    xs = list(xs)
    random.Random(seed).shuffle(xs)
    return xs
