"""Client worker processes: the editor, the watchers and the concurrent agents.

A worker is forked by the orchestrator (benchmarks.fanout.run.Child) with the trace already in memory
and answers commands over a pipe:

    connect [{port, doc, token, client_id?, track_deletes?}]  open and sync each client
    edit {batch}          the editor: replay the sequential trace, one update per trace txn
    arm {}                watchers: start watching for the expected final state
    wait {timeout, stall} watchers: until every client has the final text, or nothing moved for `stall` s
    agents {batch, timeout, stall}   concurrent: each client replays its agent's txns, respecting parents
    close

Times are `time.monotonic()` (CLOCK_MONOTONIC: one clock for every process of the machine).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from benchmarks.docs import yws
from benchmarks.docs.traces import (
    Concurrent,
    Sequential,
    apply_patches,
    missing_closure,
)
from benchmarks.fanout.limits import raise_nofile
from collab.docs import sync


@dataclass
class WorkerSpec:
    name: str
    seq: Sequential | None = None
    conc: Concurrent | None = None


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
        self.pipe, self.spec = pipe, spec
        self.clients: list[yws.YClient] = []
        self.agent_ids: list[int] = []
        self.done_at: dict[int, float] = {}
        self.cpu0 = self.wall0 = 0.0

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            cmd, arg = await loop.run_in_executor(None, self.pipe.recv)
            if cmd == "close":
                for c in self.clients:
                    c.close()
                await asyncio.sleep(0.2)
                self.pipe.send(None)
                return
            try:
                self.pipe.send(await getattr(self, cmd)(arg))
            except Exception as exc:  # noqa: BLE001 - the orchestrator reports it
                self.pipe.send({"worker_error": f"{type(exc).__name__}: {str(exc)[:300]}"})

    async def connect(self, arg: list[dict]) -> dict:
        for a in arg:
            self.clients.append(await yws.connect(a["port"], a["doc"], a["token"], client_id=a.get("client_id"),
                                                  track=a.get("track", True),
                                                  track_deletes=a.get("track_deletes", False)))
            self.agent_ids.append(a.get("agent", -1))
        return {"connected": len(self.clients)}

    # -- the editor -----------------------------------------------------------------------------------

    async def edit(self, arg: dict) -> dict:
        """Replay the sequential trace as a provider would: each trace txn is one pycrdt transaction,
        whose update (from the transaction event, as Yjs's `doc.on('update')` gives it) becomes one sync
        update message. Messages are not acknowledged and nothing waits for them; up to `batch` of them
        go out in one socket write, and the editor pauses only when the socket's buffers are full."""
        c, tr, batch = self.clients[0], self.spec.seq, arg["batch"]
        captured: list[bytes] = []
        c.doc.observe(lambda e: captured.append(e.update))
        pending: list[bytes] = []
        sent = sent_bytes = paused = 0
        cpu0 = time.process_time()
        t0 = time.monotonic()
        for patches in tr.txns:
            with c.doc.transaction():
                apply_patches(c.text, patches, tr.ascii)
            for u in captured:
                pending.append(sync.update(u))
                sent_bytes += len(u)
            captured.clear()
            if len(pending) >= batch:
                c.write_frames(pending)
                sent += len(pending)
                pending = []
                if not c._writable.is_set():
                    paused += 1
                    await c.drain()
                await asyncio.sleep(0)
                if c.closed:
                    raise ConnectionError(f"editor closed by the server: {c.close_code} {c.close_reason}")
        if pending:
            c.write_frames(pending)
            sent += len(pending)
        t_sent = time.monotonic()
        return {"t0": t0, "t_sent": t_sent, "messages": sent, "update_bytes": sent_bytes, "paused": paused,
                "cpu": time.process_time() - cpu0, "text_equal": str(c.text) == tr.end,
                "close_code": c.close_code}

    # -- watchers -------------------------------------------------------------------------------------

    async def arm(self, arg) -> dict:
        seq = self.spec.seq
        target_state = {cid: clock for cid, clock in arg["state"].items()}
        target, target_len = seq.end, len(seq.end.encode())
        self.done_at = {}
        self.cpu0, self.wall0 = time.process_time(), time.monotonic()
        self.frames0 = [c.frames_in for c in self.clients]

        def check(k: int, c: yws.YClient) -> None:
            if k in self.done_at or c.state != target_state or len(c.text) != target_len:
                return
            if str(c.text) == target:
                self.done_at[k] = time.monotonic()

        for k, c in enumerate(self.clients):
            c.on_update = (lambda k=k, c=c: check(k, c))
            check(k, c)
        return {"armed": len(self.clients)}

    async def wait(self, arg: dict) -> dict:
        deadline = time.monotonic() + arg["timeout"]
        while len(self.done_at) < len(self.clients) and time.monotonic() < deadline:
            if all(c.closed for k, c in enumerate(self.clients) if k not in self.done_at):
                break
            if time.monotonic() - max(c.last_in for c in self.clients) > arg["stall"]:
                break
            await asyncio.sleep(0.05)
        end = self.spec.seq.end
        return {"cpu": time.process_time() - self.cpu0, "wall": time.monotonic() - self.wall0,
                "clients": [{"done_at": self.done_at.get(k), "text_equal": str(c.text) == end,
                             "frames_in": c.frames_in - self.frames0[k], "updates_in": c.updates_in,
                             "bytes_in": c.bytes_in, "close_code": c.close_code, "denials": len(c.denials),
                             "port": c.port}
                            for k, c in enumerate(self.clients)]}

    # -- concurrent agents ----------------------------------------------------------------------------

    async def agents(self, arg: dict) -> dict:
        cpu0 = time.process_time()
        out = await asyncio.gather(*(self._agent(c, a, arg) for c, a in zip(self.clients, self.agent_ids)))
        return {"cpu": time.process_time() - cpu0, "agents": out}

    async def _agent(self, c: yws.YClient, agent: int, arg: dict) -> dict:
        """Apply this agent's txns in trace order. A txn goes out once every txn in its history has
        reached this client's replica through the server: its inserts (the author's clock in the state
        vector) and its deletions (in the replica's deleted items). The update sent is the one the txn
        produced in the in-process replay (same client id, made at exactly the parent version), so the
        positions are right even though the replica already holds concurrent edits beyond the parents."""
        tr: Concurrent = self.spec.conc
        batch, stall = arg["batch"], arg["stall"]
        mine = [i for i, a in enumerate(tr.agents) if a == agent]
        have: set[int] = set()
        wake = asyncio.Event()
        c.on_update = wake.set
        cids = [tr.client_id(a) for a in range(tr.num_agents)]

        def present(p: int) -> bool:
            if tr.inserted_to[p] and c.state.get(cids[tr.agents[p]], 0) < tr.inserted_to[p]:
                return False
            for client, clock, n in tr.deleted[p]:
                base = (client << 32) + clock
                if any(x not in c.deleted for x in range(base, base + n)):
                    return False
            return True

        def ready(t: int) -> bool:
            ok = True
            for p in missing_closure(tr.parents, tr.parents[t], have):
                if present(p):
                    have.add(p)
                else:
                    ok = False
            return ok

        async def until(cond, what: str) -> None:
            while not cond():
                if c.closed:
                    raise ConnectionError(f"agent {agent} closed by the server ({c.close_code} {c.close_reason})")
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), stall)
                except TimeoutError:
                    raise TimeoutError(f"agent {agent}: nothing arrived for {stall} s while waiting for {what}") from None

        waits: list[tuple[float, float, list[int]]] = []  # (blocked at, ready at, txns missing when blocked)
        pending: list[bytes] = []
        pending_txns: list[int] = []
        sent_at: list[tuple[int, float]] = []  # (txn, when its message was written to the socket)
        sent = 0

        def flush() -> None:
            nonlocal pending, pending_txns, sent
            c.write_frames(pending)
            now = time.monotonic()
            sent_at.extend((t, now) for t in pending_txns)
            sent += len(pending)
            pending, pending_txns = [], []

        t0 = time.monotonic()
        for t in mine:
            if not ready(t):
                if pending:
                    flush()
                w0 = time.monotonic()
                missing = missing_closure(tr.parents, tr.parents[t], have)
                await until(lambda t=t: ready(t), f"the parents of txn {t}")
                waits.append((w0, time.monotonic(), missing))
            u = tr.updates[t]
            if u:
                c.apply_local(u)
                pending.append(sync.update(u))
                pending_txns.append(t)
            have.add(t)
            if len(pending) >= batch:
                flush()
                await c.drain()
                await asyncio.sleep(0)
        if pending:
            flush()
        t_sent = time.monotonic()
        target, target_len = tr.end, len(tr.end.encode())
        error = None
        try:
            await until(lambda: c.state == tr.final_state and len(c.text) == target_len and str(c.text) == target,
                        "the final state")
        except (TimeoutError, ConnectionError) as exc:
            error = str(exc)
        done = time.monotonic()
        spans = sorted(b - a for a, b, _ in waits)
        return {"agent": agent, "txns": len(mine), "messages": sent, "t0": t0, "t_sent": t_sent,
                "done_at": None if error else done, "error": error, "text_equal": str(c.text) == target,
                "waits": len(waits), "wait_s": round(sum(spans), 3),
                "wait_ms_p50": round(1e3 * spans[len(spans) // 2], 2) if spans else None,
                "wait_records": waits, "sent_at": sent_at,
                "frames_in": c.frames_in, "close_code": c.close_code, "port": c.port}
