"""The teachers' side of the group phase (`--groups`), and the plan of its chat (pure, unit-tested).

A teacher's `GroupSeat` does what the room page does when a group phase starts: on the room's
`groups_formed` push it asks `group.mine` (and asks again shortly while the answer has no group yet:
the page waits for the forming to finish), then keeps its group. Inside the group's chat it times each
group-mate's message from the send stamp in its body (`g=<ns> from <uid>`, not the main chat's `t=`, so
the two never mix) and counts any `group_chat` push that is not its own group's: a leak.

`GroupDesk` is the worker's part (a mixin of `teachers.Worker`): the commands groups_arm,
groups_mine, groups_subscribe, groups_notes and groups_report over the pipe.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Iterable

import orjson

FORMED = b'"type":"groups_formed"'
GROUP_CHAT = b'"type":"group_chat"'
STAMP = b'"body":"g='
MINE_TRIES = 20  # asks while the answer has no group (forming), 0.25 s apart
RETRY_S = 0.25


class GroupSeat:
    def __init__(self, teacher) -> None:
        self.t = teacher
        self.formed_ns = 0  # when the groups_formed push arrived (wall clock)
        self.formed: dict | None = None  # that event: groups and members counted by the server
        self.mine_ns = 0  # when the group.mine answer with a group arrived
        self.group_id: int | None = None
        self.channel: bytes | None = None
        self.asks = 0
        self.errors: Counter[str] = Counter()
        self.subscribed = False
        self.received = self.own = self.leaks = 0
        self.latencies: list[int] = []

    def seen(self, payload: bytes) -> None:
        """Every frame of pushes, while the group phase runs (`teachers.Teacher.on_text`)."""
        if not self.formed_ns and FORMED in payload:
            self.formed_ns = time.time_ns()
            for line in payload.split(b"\n"):
                if FORMED in line:
                    self.formed = orjson.loads(line)["e"]
            self.ask()
        if GROUP_CHAT in payload:
            now = time.time_ns()
            for line in payload.split(b"\n"):
                if GROUP_CHAT in line:
                    self._chat(line, now)

    def _chat(self, line: bytes, now: int) -> None:
        push = orjson.loads(line)
        message = push["e"]["message"]
        if push["ch"].encode() != self.channel or message["group_id"] != self.group_id:
            self.leaks += 1
        elif message["user"]["id"] == self.t.uid:
            self.own += 1
        else:
            self.received += 1
            i = line.find(STAMP)
            if i >= 0:
                self.latencies.append(now - int(line[i + 10:i + 29]))

    def ask(self) -> None:
        self.asks += 1
        self.t.cmd("group.mine", {"activity_id": self.t.activity_id}).add_done_callback(self._answered)

    def _answered(self, f: asyncio.Future) -> None:
        msg = None if f.cancelled() or f.exception() else f.result()
        if msg is None or "error" in msg:
            self.errors[(msg or {}).get("error", {}).get("code", "closed")] += 1
            return
        group = msg["ok"].get("group")
        if group is None:
            if self.asks < MINE_TRIES:
                asyncio.get_running_loop().call_later(RETRY_S, self.ask)
            else:
                self.errors["no_group"] += 1
            return
        self.mine_ns = time.time_ns()
        self.group_id, self.channel = group["id"], group["channel"].encode()


class GroupDesk:
    """The worker's group commands; `self.teachers` is the worker's {uid: Teacher}."""

    teachers: dict

    async def groups_arm(self, _=None) -> dict:
        for t in self.teachers.values():
            t.group = GroupSeat(t)
        return {"armed": len(self.teachers)}

    def _seats(self) -> list[GroupSeat]:
        return [t.group for t in self.teachers.values() if t.group is not None]

    async def groups_mine(self, arg: dict | None = None) -> dict:
        """Progress of the ask storm; with {"full": true} also every time and each teacher's group."""
        seats = self._seats()
        out = {"seats": len(seats), "heard": sum(1 for s in seats if s.formed_ns),
               "answered": sum(1 for s in seats if s.mine_ns), "asks": sum(s.asks for s in seats),
               "errors": dict(sum((s.errors for s in seats), Counter())), "live": sum(1 for s in seats if not s.t.lost)}
        if arg and arg.get("full"):
            out["formed"] = next((s.formed for s in seats if s.formed), None)
            out["formed_ns"] = [s.formed_ns for s in seats if s.formed_ns]
            out["mine_ns"] = [s.mine_ns for s in seats if s.mine_ns]
            out["members"] = [(s.t.uid, s.group_id) for s in seats if s.group_id is not None]
        return out

    async def groups_subscribe(self, _=None) -> dict:
        """Every teacher with a group subscribes to its channel, as the page does."""
        gate = asyncio.Semaphore(100)
        errors: Counter[str] = Counter()
        took: list[int] = []

        async def one(s: GroupSeat) -> None:
            async with gate:
                t0 = time.perf_counter_ns()
                try:
                    await s.t.call("subscribe", {"channel": s.channel.decode()})
                    took.append(time.perf_counter_ns() - t0)
                    s.subscribed = True
                except Exception as exc:  # noqa: BLE001 - counted
                    errors[type(exc).__name__ + ": " + str(exc)[:40]] += 1

        await asyncio.gather(*(one(s) for s in self._seats() if s.channel is not None))
        return {"ok": len(took), "errors": dict(errors), "ns": took,
                "subscribed": [s.t.uid for s in self._seats() if s.subscribed]}

    async def groups_notes(self, arg: list) -> list:
        """arg: [(uid, group id)]: that member asks `group.notes`; [(uid, group id, doc id | error, ns)]."""
        async def one(uid: int, gid: int) -> tuple:
            t0 = time.perf_counter_ns()
            try:
                ok = await self.teachers[uid].call("group.notes", {"activity_id": self.teachers[uid].activity_id,
                                                                   "group_id": gid})
                return uid, gid, ok["doc_id"], time.perf_counter_ns() - t0
            except Exception as exc:  # noqa: BLE001 - reported
                return uid, gid, f"{type(exc).__name__}: {str(exc)[:40]}", 0

        return list(await asyncio.gather(*(one(u, g) for u, g in arg)))

    async def groups_report(self, _=None) -> dict:
        seats = self._seats()
        return {"received": sum(s.received for s in seats), "own": sum(s.own for s in seats),
                "leaks": sum(s.leaks for s in seats), "latencies_ns": [x for s in seats for x in s.latencies]}


# -- the plan of the group chat (pure) ----------------------------------------------------------------


def chatting(groups: dict[int, list[int]], every: int) -> list[int]:
    """The groups that chat: one in `every`, the first of each run of `every` by group id (ids follow
    the groups' numbers)."""
    return [gid for k, gid in enumerate(sorted(groups)) if k % every == 0] if every > 0 else []


def chat_plan(groups: dict[int, list[int]], every: int, interval: float, seconds: float
              ) -> list[tuple[float, int, int]]:
    """(delay s, poster, group id): in each chatting group one message every `interval` s for `seconds`,
    its members taking turns; the groups' first messages are spread over the first interval."""
    talk = chatting(groups, every)
    out = []
    for i, gid in enumerate(talk):
        members = sorted(groups[gid])
        offset = interval * i / len(talk)
        for k in range(max(1, int(seconds / interval))):
            out.append((offset + k * interval, members[k % len(members)], gid))
    return sorted(out)


def expected_deliveries(posts: Iterable[tuple[int, int]], subscribed: dict[int, set[int]]) -> int:
    """Pushes the group-mates should receive for `posts` ((poster, group id) of each post answered ok):
    every other subscribed member of the poster's group, once."""
    return sum(len(subscribed.get(gid, set()) - {uid}) for uid, gid in posts)


def per_item_kb(before: int, after: int, n: int) -> float | None:
    """RSS growth per item, KB (None without items)."""
    return round((after - before) / 1024 / n, 1) if n else None
