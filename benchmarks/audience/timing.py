"""Part timing, read from the rung playlists as a player sees them (a helper process).

Per target (a node and a rung) two loops for `seconds`:
- the poller asks for the playlist without blocking every `poll_every` s and notes when each part
  is first listed, its duration, whether it is independent, and its date (EXT-X-PROGRAM-DATE-TIME);
- the blocker does blocking reloads for the next part, as a player does, and notes when each was
  answered.
Blocked answer - first seen says whether a blocked request is answered as soon as the part is there
(about 0, or below 0 by up to the poll interval); a part's media end (its date + duration) -> first
seen is how long the node took to cut, publish and (on a copy node) hear of the part.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from benchmarks.audience.llhls import Connection, HttpError, parse_media
from benchmarks.audience.viewers import epoch_of


@dataclass
class ProberSpec:
    secret: str
    user_id: int


def prober_main(pipe, spec: ProberSpec) -> None:
    from benchmarks.stage.procs import serve

    serve(pipe, lambda: Prober(spec))


class Prober:
    def __init__(self, spec: ProberSpec) -> None:
        self.spec = spec
        self.tasks: list[asyncio.Task] = []
        # parts are keyed (epoch, msn, i): a new run of the program numbers its parts afresh
        self.seen: dict[str, dict] = {}  # label -> {(epoch, msn, i): [duration, independent, date, first_seen]}
        self.answered: dict[str, dict] = {}  # label -> {(epoch, msn, i): (asked, answered)}
        self.segments: dict[str, dict] = {}  # label -> {(epoch, msn): EXTINF duration}
        self.part_target: dict[str, float | None] = {}
        self.errors: dict[str, int] = {}

    async def start(self, arg: dict) -> dict:
        """arg: {targets: [{label, host, port, activity_id, rung}], seconds, poll_every}"""
        from collab.auth import signed

        for t in arg["targets"]:
            key = signed.program_key(self.spec.secret, t["activity_id"], self.spec.user_id)
            base = f"/live/{t['activity_id']}/k/{key}/{t['rung']}/index.m3u8"
            label = t["label"]
            self.seen[label], self.answered[label], self.segments[label], self.errors[label] = {}, {}, {}, 0
            deadline = time.monotonic() + arg["seconds"]
            loop = asyncio.get_running_loop()
            self.tasks += [loop.create_task(self._poll(label, t, base, deadline, arg["poll_every"])),
                           loop.create_task(self._block(label, t, base, deadline))]
        return {"targets": len(arg["targets"])}

    def _note(self, label: str, text: str, now: float):
        pl = parse_media(text)
        self.part_target[label] = pl.part_target
        seen = self.seen[label]
        epoch = epoch_of(pl.last.uri) if pl.parts else ""
        for p in pl.parts:
            if (epoch, p.msn, p.index) not in seen:
                seen[(epoch, p.msn, p.index)] = [p.duration, p.independent, p.date, now]
        for msn, duration, _ in pl.segments:
            self.segments[label][(epoch, msn)] = duration
        return pl

    async def _poll(self, label: str, t: dict, path: str, deadline: float, every: float) -> None:
        conn = Connection(t["host"], t["port"])
        try:
            while time.monotonic() < deadline:
                try:
                    status, _, body = await conn.get(path, 5.0)
                    if status == 200:
                        self._note(label, body.decode(), time.time())
                    else:
                        self.errors[label] += 1
                except HttpError:
                    self.errors[label] += 1
                await asyncio.sleep(every)
        finally:
            conn.close()

    async def _block(self, label: str, t: dict, path: str, deadline: float) -> None:
        conn = Connection(t["host"], t["port"])
        pl = None
        try:
            while time.monotonic() < deadline:
                try:
                    if pl is None or pl.next_part() is None:
                        status, _, body = await conn.get(path, 5.0)
                        pl = parse_media(body.decode()) if status == 200 else None
                        if pl is None or not pl.parts or pl.ended:
                            pl = None
                            await asyncio.sleep(0.5)
                        continue
                    msn, part = pl.next_part()
                    asked = time.time()
                    status, _, body = await conn.get(f"{path}?_HLS_msn={msn}&_HLS_part={part}", 10.0)
                    now = time.time()
                    if status != 200:
                        self.errors[label] += 1
                        pl = None
                        await asyncio.sleep(0.5)
                        continue
                    epoch = epoch_of(pl.last.uri)
                    got = parse_media(body.decode())  # first seen is the poller's alone
                    if got.parts and epoch_of(got.last.uri) == epoch:
                        self.answered[label][(epoch, msn, part)] = (asked, now)
                    pl = got if got.parts and not got.ended else None
                except HttpError:
                    self.errors[label] += 1
                    pl = None
                    await asyncio.sleep(0.5)
        finally:
            conn.close()

    async def wait(self, _=None) -> dict:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return {}

    async def report(self, _=None) -> dict:
        out = {}
        for label in self.seen:
            out[label] = {
                "part_target": self.part_target.get(label),
                "parts": [[e, m, i, *v] for (e, m, i), v in sorted(self.seen[label].items(), key=lambda kv: kv[1][3])],
                "answered": [[e, m, i, a, b] for (e, m, i), (a, b) in sorted(self.answered[label].items())],
                "segments": [d for _, d in sorted(self.segments[label].items())],
                "epochs": len({e for e, _, _ in self.seen[label]}),
                "errors": self.errors[label],
            }
        return out

    async def close(self, _=None) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
