"""The node's programs: which activities' programs this node makes, and its copies of the others'.

One node at a time makes an activity's program: a node with someone publishing on that activity's
stage takes the bus lease `program:<activity>` (renewed every second, lapsing in `LEASE` seconds), so
when the producing node dies another node with a publisher takes over within a few seconds. A node
that makes no programs (`makes_programs` off: it carries the audience's sockets) asks the others once a
second to make the program of each live activity someone publishes through it (`WANTED`); the nodes
that make programs (media nodes) race for the lease as above, and take over from each other alike. The
producer taps every publication on the stage, from whichever node it is published through
(`Stages.feeds_of` links to other nodes' publishers), follows the lineup from the room's `stage`
events and the phase from the activity, and stops when the activity is no longer live or nobody has
been on stage for `EMPTY_GRACE` seconds. The room hears `program` events when it starts and stops.
While a group reports back (`group_reporting`), its notes are a card beside the rapporteur
(`sessions.program.notes_card`), until another group reports or the phase changes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any, Callable

import orjson
from sqlalchemy import select

from collab.media import taps
from collab.media.cmaf import RUNGS, PartOut, Rung
from collab.media.llhls import MediaWindow
from collab.realtime.bus import BusUnavailable
from sessions.program import layout
from sessions.program.front_row import FrontRow
from sessions.program.notes_card import NotesCard
from sessions.program.producer import PART_SECONDS, SEGMENT_SECONDS, Producer
from sessions.program.recording import ProgramRecorder
from sessions.program.sharing import IDLE, Copy, Sender, latest_key, notice_rungs
from sessions.records import ActivityEvent
from sessions.room import channel_of, current_phase
from sessions.room_cache import RoomCache
from sessions.stage.stages import Stages

log = logging.getLogger("collab.program")

LEASE = 4.0  # seconds a producing node's lease lasts unless renewed
TICK = 1.0  # how often the node looks at its activities
EMPTY_GRACE = 30.0  # seconds a program runs on with nobody on stage (someone may be reconnecting)
HELLO = "node:program-hello"  # a new producer asks every node to say who publishes through it
WANTED = "node:program-wanted"  # a node that makes no programs asks for an activity's program
WANTED_FOR = 3.0  # seconds an activity's program is made for after the last ask
SLATE = "节目即将开始  The program will begin shortly"


class Production:
    """A program this node makes: the producer, the taps on the stage and the lineup it follows."""

    def __init__(self, programs: Programs, activity_id: int, first_msn: int = 0) -> None:
        self.programs = programs
        self.activity_id = activity_id
        self.epoch = secrets.token_hex(4)
        services = programs.services
        self.sender = Sender(services.hub, activity_id, self.epoch) if services.settings.redis_url else None
        self.producer = Producer(activity_id, self._part, rungs=programs.rungs, slate=SLATE,
                                 preset=programs.preset, first_msn=first_msn)
        self.lineup: dict[str, list[dict[str, Any]]] = {}  # node -> its on_stage list
        self.taps: dict[str, list[Callable[[], None]]] = {}  # tile key -> untaps
        self.tiles: list[layout.Tile] = []  # the stage's publications shown (the notes card aside)
        self.phase: str | None = None
        self.roles: dict[int, str] = {}
        self.nonempty_at = time.monotonic()
        self.organizer_id = 0
        self.on_air = False
        self.recorder = ProgramRecorder(services.settings.recordings_dir, activity_id)
        self.card: NotesCard | None = None  # the reporting group's notes, while a group reports
        self._refreshing = False
        self._again = False  # the stage or the phase changed during a refresh: one more after it

    async def start(self) -> None:
        self.producer.start()
        hub = self.programs.services.hub
        await hub.watch(channel_of(self.activity_id), self._heard)
        await hub.broadcast(HELLO, str(self.activity_id).encode())
        await self._report_in_progress()
        local = self.programs.stages.stages.get(self.activity_id)
        if local is not None:
            self.lineup[self.programs.services.settings.node_id] = local.on_stage()
        await self.refresh()

    async def stop(self) -> None:
        await self.programs.services.hub.unwatch(channel_of(self.activity_id), self._heard)
        self._end_report()
        for untaps in self.taps.values():
            for untap in untaps:
                untap()
        self.taps.clear()
        await self.producer.stop()
        if self.sender is not None:
            self.sender.end()
        if self.on_air:
            await self.programs.tell_room(self.activity_id, "off")
        if self.organizer_id:
            await self.recorder.finish(self.programs.services.sessionmaker, self.organizer_id)

    @property
    def windows(self) -> dict[str, MediaWindow]:
        return self.producer.windows

    async def init(self, rung: str) -> bytes | None:
        return self.producer.windows[rung].init

    async def data(self, rung: str, part) -> bytes | None:
        return part.data

    def _part(self, rung: Rung, msn: int, index: int, part: PartOut, date: float) -> None:
        if not self.on_air and all(w.playable for w in self.producer.windows.values()):
            self.on_air = True  # a whole segment in every rung: players can start now
            self.programs.spawn(self.programs.tell_room(self.activity_id, "on"))
        if rung is self.producer.rungs[0]:
            self.recorder.part(self.producer.windows[rung.name].init, part.data)
        if self.sender is not None:
            self.sender.part(rung.name, msn, index, part.duration, part.independent, part.data, date,
                             self.producer.windows[rung.name].init)

    def _heard(self, data: bytes | None) -> None:
        if not data or b'"stage"' not in data and b'"phase' not in data and b'"group_reporting"' not in data:
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        kind = event.get("type")
        if kind == "stage" and isinstance(event.get("on_stage"), list):
            self.lineup[str(event.get("node"))] = event["on_stage"]
        elif kind == "group_reporting":
            self._report(event)
        elif kind == "phase_changed":
            self._end_report()
        self.programs.spawn(self.refresh())

    # -- a group reporting back ----------------------------------------------------------------------

    def _report(self, event: dict[str, Any]) -> None:
        """A group reports: its notes replace the card of any group before it."""
        if type(event.get("doc_id")) is not int:
            return
        self._end_report()
        self.card = NotesCard(self.programs.services, event, self._card_drawn)
        self.card.start()

    def _card_drawn(self, key: str, frame) -> None:
        self.producer.still(key, frame)
        self.programs.spawn(self.refresh())  # the first picture: the layout makes room for it

    def _end_report(self) -> None:
        if self.card is not None:
            self.card.stop()
            self.card = None
            self.producer.remove(layout.NOTES)

    async def _report_in_progress(self) -> None:
        """A program that starts (or takes over) while a group reports shows that group's notes too:
        the record's latest `group_reporting`, unless the phase changed since."""
        async with self.programs.services.sessionmaker() as db:
            last = (await db.execute(select(ActivityEvent.type, ActivityEvent.data).where(
                ActivityEvent.activity_id == self.activity_id,
                ActivityEvent.type.in_(("group_reporting", "phase_changed", "started")))
                .order_by(ActivityEvent.id.desc()).limit(1))).first()
        if last is not None and last.type == "group_reporting":
            self._report(last.data)

    async def refresh(self) -> None:
        """Match the taps and the layout to who is on stage now and the phase."""
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        try:
            self._again = True
            while self._again:
                self._again = False
                await self._match()
        finally:
            self._refreshing = False

    async def _match(self) -> None:
        try:
            programs = self.programs
            async with programs.services.sessionmaker() as db:
                view = await programs.rooms.view(db, self.activity_id)
            if view is not None:
                phase = current_phase(view)
                self.phase = phase.kind if phase is not None else None
                self.roles = {s.user_id: s.role for s in view.staff}
                self.roles.setdefault(view.organizer_id, "organizer")
                self.organizer_id = view.organizer_id
            items = [item for node in sorted(self.lineup) for item in self.lineup[node]]
            tiles = layout.tiles_of(items, self.roles)
            if tiles:
                self.nonempty_at = time.monotonic()
            wanted = {t.key: t for t in tiles}
            for key in [k for k in self.taps if k not in wanted]:
                for untap in self.taps.pop(key):
                    untap()
                self.producer.remove(key)
            for tile in tiles:
                if tile.key not in self.taps:
                    await self._tap(tile)
            self.tiles = [t for t in tiles if t.key in self.taps]
            shown, rapporteur = self.tiles, None
            if self.card is not None and self.card.drawn.is_set():
                shown = [*self.tiles, layout.notes_tile(str(self.card.group.get("name", "")))]
                rapporteur = self.card.rapporteur_key
            self.producer.set_layout(layout.layout_for(self.phase, shown, rapporteur),
                                     {t.key: layout.label(t) for t in shown})
        except Exception:
            log.exception("could not follow the stage", extra={"activity": self.activity_id})

    async def _tap(self, tile: layout.Tile) -> None:
        publisher_id: int | str = int(tile.key) if tile.key.isdigit() else tile.key
        feeds = await self.programs.stages.feeds_of(self.activity_id, publisher_id)
        if not feeds:
            return
        untaps = []
        for kind, feed in feeds.items():
            if kind == "audio":
                untaps.append(taps.tap(feed, lambda f, k=tile.key: self.producer.sound(k, f)))
            else:
                untaps.append(taps.tap(feed, lambda f, k=tile.key: self.producer.picture(k, f)))
        self.taps[tile.key] = untaps


class Programs:
    """The node's programs (provided on the services by `part.install`)."""

    def __init__(self, services, *, rungs: tuple[Rung, ...] = RUNGS, preset: str | None = None) -> None:
        self.services = services
        self.rungs = rungs
        self.preset = preset
        self.made: dict[int, Production] = {}
        self.copies: dict[int, Copy] = {}
        self.front_row = FrontRow(services.hub.bus)
        self.makes = services.settings.makes_programs
        self.wanted: dict[int, float] = {}  # activity -> when a node last asked for its program
        self._task: asyncio.Task | None = None
        self._spawned: set[asyncio.Task] = set()

    def spawn(self, coro) -> None:
        """Run `coro` beside whoever asked, holding on to it until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    @property
    def stages(self) -> Stages:
        return self.services.get(Stages)

    @property
    def rooms(self) -> RoomCache:
        return self.services.get(RoomCache)

    async def start(self) -> None:
        await self.services.hub.watch(HELLO, self._hello)
        if self.makes:
            await self.services.hub.watch(WANTED, self._asked)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for aid in list(self.made):
            await self._stop_making(aid)
        for copy in list(self.copies.values()):
            await copy.close()
        self.copies.clear()

    # -- serving ------------------------------------------------------------------------------------

    async def on_air(self, activity_id: int, wait: float = 0.0) -> bool:
        """Whether the activity's program is being made now (by any node)."""
        source = await self.source(activity_id, wait)
        if source is None or isinstance(source, Copy) and (source.ended or source.silent):
            return False
        return all(w.playable for w in source.windows.values())

    async def source(self, activity_id: int, wait: float = 0.0) -> Production | Copy | None:
        """Where this node serves an activity's program from: its own production, or its copy of
        another node's (made on first request; `wait`: seconds a new copy may wait for its first
        notice). None: nobody makes it."""
        made = self.made.get(activity_id)
        if made is not None:
            return made
        copy = self.copies.get(activity_id)
        if copy is None and self.services.settings.redis_url:
            copy = Copy(self.services.hub, activity_id, PART_SECONDS, SEGMENT_SECONDS)
            self.copies[activity_id] = copy
            await copy.start()
        if copy is not None and not copy.windows and wait:
            await copy.heard(wait)
        if copy is None or not copy.windows:
            return None
        copy.used = time.monotonic()
        return copy

    # -- making -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                await self._look()
                await self.front_row.refresh()
            except Exception:
                log.exception("the programs' look-round failed")

    async def _look(self) -> None:
        node = self.services.settings.node_id
        now = time.monotonic()
        self.wanted = {aid: at for aid, at in self.wanted.items() if now - at < WANTED_FOR}
        publishing = {aid for aid, stage in self.stages.stages.items() if stage.publishers}
        for aid in publishing | set(self.wanted) | set(self.made):
            async with self.services.sessionmaker() as db:
                view = await self.rooms.view(db, aid)
            made = self.made.get(aid)
            live = view is not None and view.state == "live"
            if not self.makes:
                if live and aid in publishing:
                    await self.services.hub.broadcast(WANTED, str(aid).encode())
                continue
            if made is not None and made.tiles:  # someone is on stage now, not only at the last lineup change
                made.nonempty_at = time.monotonic()
            empty_too_long = made is not None and time.monotonic() - made.nonempty_at > EMPTY_GRACE
            if made is not None and made.producer.failed:  # its thread died: start afresh next round
                await self._stop_making(aid)
                continue
            if not live or empty_too_long:
                if made is not None:
                    await self._stop_making(aid)
                continue
            try:
                holder = await self.services.hub.bus.hold(f"program:{aid}", node, LEASE)
            except BusUnavailable:
                continue  # keep what we do until the bus is back; the lease says who makes it after
            if holder == node and made is None:
                await self._start_making(aid)
            elif holder != node and made is not None:
                await self._stop_making(aid)
        for aid, copy in list(self.copies.items()):
            if now - copy.used > IDLE:
                await copy.close()
                del self.copies[aid]

    async def _start_making(self, activity_id: int) -> None:
        production = Production(self, activity_id, await self._next_msn(activity_id))
        self.made[activity_id] = production
        await production.start()
        log.info("making the program", extra={"activity": activity_id})

    async def _next_msn(self, activity_id: int) -> int:
        """Where a program taken over goes on numbering: past the last run's segments (from its newest
        notice), so no playlist or part URL a CDN still holds from that run names another."""
        try:
            latest = await self.services.hub.bus.get_blob(latest_key(activity_id))
        except BusUnavailable:
            return 0
        rungs = notice_rungs(latest) if latest else {}
        last = max((part[0] for parts in rungs.values() for part in parts), default=-1)
        return last + 2

    async def _stop_making(self, activity_id: int) -> None:
        production = self.made.pop(activity_id)
        await production.stop()
        try:
            await self.services.hub.bus.release(f"program:{activity_id}", self.services.settings.node_id)
        except BusUnavailable:
            pass
        log.info("stopped making the program", extra={"activity": activity_id})

    def _asked(self, data: bytes | None) -> None:
        """A node that makes no programs has someone publishing on a live stage: make its program
        (if this node wins the lease at the next look-round)."""
        try:
            self.wanted[int(data or b"")] = time.monotonic()
        except ValueError:
            pass

    def _hello(self, data: bytes | None) -> None:
        """A node started making a program: say who publishes through this node."""
        if not data:
            return
        try:
            stage = self.stages.stages.get(int(data))
        except ValueError:
            return
        if stage is not None and stage.publishers:
            self.spawn(stage.announce())

    async def tell_room(self, activity_id: int, state: str) -> None:
        await self.services.hub.publish(channel_of(activity_id), {
            "type": "program", "id": f"program:{secrets.token_hex(8)}", "state": state})
