"""A program's playlists on every node: the producing node hands its parts to the others through the
bus, and each other node keeps a copy of the playlists whose parts it fetches once, when first asked.

    bus blob  program:<activity>:<epoch>:<rung>:init        the rendition's initialization section
    bus blob  program:<activity>:<epoch>:<rung>:<msn>.<i>   one part's bytes
    bus blob  program:<activity>:latest                     the newest notice below (a late node starts from it)
    channel   program:<activity>                            notices: {epoch, node, ended, rungs: {name: [[msn, i, duration, independent, date], ...]}}

A notice carries the recent parts of every rung, not only the newest, so a node that missed one (or
just came) catches up from the next. Parts are kept for `PART_TTL`, far longer than a playlist names
them. `epoch` names one producer's run: a node that takes the program over starts a new epoch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from prometheus_client import Counter

from collab.media.llhls import MediaWindow, Part
from collab.realtime.bus import BusUnavailable

log = logging.getLogger("collab.program")

PART_TTL = 120.0  # seconds a part's bytes stay fetchable
NOTICE_PARTS = 16  # parts per rung in a notice: two segments' worth and more
IDLE = 60.0  # seconds a copy is kept with nobody asking for it
SILENT = 4.0  # seconds without a notice after which a copy's program is off: a producer's lease (programs.LEASE)

FETCHES = Counter("collab_program_fetches", "Program parts and init sections this node fetched from the bus "
                  "(once each, however many viewers asked)")


def channel(activity_id: int) -> str:
    return f"program:{activity_id}"


def blob_key(activity_id: int, epoch: str, rung: str, name: str) -> str:
    return f"program:{activity_id}:{epoch}:{rung}:{name}"


def notice_rungs(data: bytes) -> dict:
    """A notice's recent parts per rung ({} for anything else): [msn, index, duration, independent, date]."""
    try:
        rungs = orjson.loads(data).get("rungs")
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    return rungs if isinstance(rungs, dict) else {}


def latest_key(activity_id: int) -> str:
    return f"program:{activity_id}:latest"


class Sender:
    """The producing node's side: parts into blobs, notices onto the channel, in order, off the clock."""

    def __init__(self, hub, activity_id: int, epoch: str) -> None:
        self.hub = hub
        self.activity_id = activity_id
        self.epoch = epoch
        self.recent: dict[str, list[list[Any]]] = {}
        self._queue: asyncio.Queue = asyncio.Queue()
        self._inits_sent: set[str] = set()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def part(self, rung: str, msn: int, index: int, duration: float, independent: bool, data: bytes,
             date: float, init: bytes | None) -> None:
        self._queue.put_nowait((rung, msn, index, duration, independent, data, date, init))

    def end(self) -> None:
        self._queue.put_nowait(None)

    async def _run(self) -> None:
        bus = self.hub.bus
        while True:
            item = await self._queue.get()
            ended = item is None
            blobs: dict[str, bytes] = {}
            if not ended:
                rung, msn, index, duration, independent, data, date, init = item
                if rung not in self._inits_sent and init is not None:
                    blobs[blob_key(self.activity_id, self.epoch, rung, "init")] = init
                    self._inits_sent.add(rung)
                blobs[blob_key(self.activity_id, self.epoch, rung, f"{msn}.{index}")] = data
                parts = self.recent.setdefault(rung, [])
                parts.append([msn, index, round(duration, 4), independent, round(date, 3)])
                del parts[:-NOTICE_PARTS]
            notice = orjson.dumps({"epoch": self.epoch, "node": self.hub.bus.node_id, "ended": ended,
                                   "rungs": self.recent})
            blobs[latest_key(self.activity_id)] = notice
            try:
                await bus.put_blobs(blobs, PART_TTL)
                await self.hub.broadcast(channel(self.activity_id), notice)
            except BusUnavailable:
                log.warning("the bus is down: other nodes miss a program part", extra={"activity": self.activity_id})
            if ended:
                return


def _follows(last: tuple[int, int] | None, msn: int, index: int) -> bool:
    """Whether a listed part is the next one a copy can take: the next part of its segment, or the
    first of a later one. A notice lists recent parts, so a new copy (or one that missed notices for
    longer than they reach back) starts again at a segment's beginning; older parts are repeats."""
    if last is not None and msn == last[0]:
        return index == last[1] + 1
    return index == 0 and (last is None or msn > last[0])


class Copy:
    """Another node's program, as this node serves it: playlists from the notices, parts fetched from
    the bus once each (viewers asking for the same part together share one fetch)."""

    def __init__(self, hub, activity_id: int, part_target: float, segment_target: float) -> None:
        self.hub = hub
        self.activity_id = activity_id
        self.part_target, self.segment_target = part_target, segment_target
        self.epoch = ""
        self.windows: dict[str, MediaWindow] = {}
        self.used = time.monotonic()
        self.heard_at = 0.0  # when the newest notice came (monotonic)
        self._fetching: dict[str, asyncio.Future] = {}
        self._heard_one = asyncio.Event()

    async def start(self) -> None:
        await self.hub.watch(channel(self.activity_id), self._heard)
        latest = await self.hub.bus.get_blob(latest_key(self.activity_id))
        if latest:
            self._heard(latest)
            # the newest notice may be a dead producer's: it was heard when its newest part was made
            dates = [p[4] for parts in notice_rungs(latest).values() for p in parts]
            self.heard_at = time.monotonic() - max(0.0, time.time() - max(dates, default=0.0))

    async def close(self) -> None:
        await self.hub.unwatch(channel(self.activity_id), self._heard)
        for window in self.windows.values():
            window.end()

    def _heard(self, data: bytes | None) -> None:
        if not data:
            return
        try:
            notice = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if notice.get("epoch") != self.epoch:  # a new producer: its playlists start afresh
            for window in self.windows.values():
                window.end()
            self.epoch, self.windows = notice["epoch"], {}
        for rung, parts in notice.get("rungs", {}).items():
            window = self.windows.get(rung)
            if window is None:
                window = self.windows[rung] = MediaWindow(rung=rung, part_target=self.part_target,
                                                          segment_target=self.segment_target)
            last = window.last
            for msn, index, duration, independent, date in parts:
                if _follows(last, msn, index):
                    window.add_part(msn, index, duration, independent, None, date)
                    last = (msn, index)
        if notice.get("ended"):
            for window in self.windows.values():
                window.end()
        self.heard_at = time.monotonic()
        self._heard_one.set()

    @property
    def ended(self) -> bool:
        """The run this copy follows is over (its playlists say ENDLIST)."""
        return bool(self.windows) and all(w.ended for w in self.windows.values())

    @property
    def silent(self) -> bool:
        """No notice for longer than a producer's lease: its node died (or lost the bus), and no node
        took over yet. Not ended: a node taking over starts a new run, which this copy then follows."""
        return time.monotonic() - self.heard_at > SILENT

    async def heard(self, timeout: float) -> bool:
        """Whether a notice came (or comes within `timeout`): the program is made somewhere."""
        try:
            await asyncio.wait_for(self._heard_one.wait(), timeout)
        except TimeoutError:
            pass
        return bool(self.windows)

    async def init(self, rung: str) -> bytes | None:
        window = self.windows.get(rung)
        if window is None:
            return None
        if window.init is None:
            window.set_init(await self._fetch(blob_key(self.activity_id, self.epoch, rung, "init")))
        return window.init

    async def data(self, rung: str, part: Part) -> bytes | None:
        """The part's bytes: from this node's copy, or fetched once from the bus."""
        if part.data is None:
            part.data = await self._fetch(blob_key(self.activity_id, self.epoch, rung, f"{part.msn}.{part.index}"))
        return part.data

    async def _fetch(self, key: str) -> bytes | None:
        pending = self._fetching.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._fetching[key] = future
        try:
            FETCHES.inc()
            data = await self.hub.bus.get_blob(key)
            future.set_result(data)
            return data
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            self._fetching.pop(key, None)
