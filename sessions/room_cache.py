"""What every command in a room asks first, kept per node: the activity (state, phase, settings, staff)
and each actor's standing in it (registration, removal).

Without it a join storm pays for the same five queries twice per teacher (snapshot, then subscribe),
and every vote and poll answer pays for them again. The copy is dropped the moment the record changes:
whoever commits a change announces it on the node-level channel `node:activities` before answering,
and every node forgets that activity (or that one teacher's standing). While the bus is away nothing
is cached, since another node's change could not be heard; and a copy never lives past `MAX_AGE`,
which bounds the harm of a change made behind the server's back (an operator's SQL).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from collab.auth.actor import Actor
from collab.shared_loads import SharedLoads
from collab.policy import ActivityAccess
from sessions import scheduling
from sessions.records import Activity

if TYPE_CHECKING:
    from collab.services import Services

CHANNEL = "node:activities"  # clients cannot subscribe: the policy knows no "node" channels
MAX_AGE = 30.0
MAX_ENTRIES = 200_000

@dataclass(frozen=True, slots=True)
class PhaseView:
    kind: str
    title: str
    minutes: int
    chat: bool
    questions: bool
    hands: bool
    polls: bool
    groups: dict | None = None  # a group phase's plan, as `agenda.group_plan_json` writes it


@dataclass(frozen=True, slots=True)
class StaffView:
    user_id: int
    role: str


@dataclass(frozen=True, slots=True)
class RoomView:
    """A read-only copy of an activity with its agenda and staff: the names match `Activity`, so the
    rules, the lifecycle and `activity_json` read either. Change the row, never this."""

    id: int
    title: str
    description: str
    subject: str
    grade: str
    level: str
    region: str
    time_zone: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    front_row: int
    visibility: str
    registration: str
    state: str
    organizer_id: int
    current_phase: int | None
    phase_started_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    slow_mode: int
    premoderation: bool
    qa_approval: bool
    studio_id: int | None
    phases: tuple[PhaseView, ...]
    staff: tuple[StaffView, ...]
    names: tuple[tuple[int, str], ...]  # the organizer's and staff's display names, for the room's heading

    @classmethod
    def of(cls, a: Activity, names: dict[int, str] | None = None) -> RoomView:
        scalars = {f: getattr(a, f) for f in cls.__slots__ if f not in ("phases", "staff", "names")}
        return cls(**scalars, names=tuple((names or {}).items()),
                   phases=tuple(PhaseView(p.kind, p.title, p.minutes, p.chat, p.questions, p.hands, p.polls,
                                             p.groups)
                                for p in a.phases),
                   staff=tuple(StaffView(s.user_id, s.role) for s in a.staff))


class RoomCache:
    def __init__(self, hub) -> None:
        self.hub = hub
        self._views: dict[int, tuple[float, RoomView]] = {}
        self._standing: dict[tuple[int, int], tuple[float, tuple[str | None, bool]]] = {}
        self._loads: SharedLoads[int, RoomView | None] = SharedLoads()  # a storm after a change: one load
        self._stale: set[int] = set()  # forgotten while a load was under way: that load is not kept
        self._listening = False

    async def start(self) -> None:
        await self.hub.watch(CHANNEL, self._heard)
        self._listening = True

    @property
    def trusted(self) -> bool:
        return self._listening and self.hub.bus.healthy

    # -- reading -----------------------------------------------------------------------------------

    async def view(self, db: AsyncSession, activity_id: int) -> RoomView | None:
        now = time.monotonic()
        hit = self._views.get(activity_id)
        if hit is not None and now - hit[0] < MAX_AGE and self.trusted:
            return hit[1]
        return await self._loads.load(activity_id, lambda: self._load(db, activity_id, now))

    async def _load(self, db: AsyncSession, activity_id: int, now: float) -> RoomView | None:
        try:
            view = await self._read(db, activity_id)
            if view is not None and self.trusted and activity_id not in self._stale:
                self._trim(self._views)
                self._views[activity_id] = (now, view)
            return view
        finally:
            self._stale.discard(activity_id)

    @staticmethod
    async def _read(db: AsyncSession, activity_id: int) -> RoomView | None:
        db.expire_all()  # as stored now, not as this session last saw it
        row = await db.get(Activity, activity_id)
        return None if row is None else RoomView.of(row, await scheduling.staff_names(db, row))

    async def access(self, db: AsyncSession, view: RoomView, actor: Actor | None) -> ActivityAccess:
        """The policy's `ActivityAccess`: the activity's side from the view, the actor's from their standing."""
        if actor is None:
            return scheduling.access_of(view, None)
        return scheduling.access_of(view, actor, *await self._standing_of(db, view.id, actor.user_id))

    async def _standing_of(self, db: AsyncSession, activity_id: int, user_id: int) -> tuple[str | None, bool]:
        key = (activity_id, user_id)
        now = time.monotonic()
        hit = self._standing.get(key)
        if hit is not None and now - hit[0] < MAX_AGE and self.trusted:
            return hit[1]
        registration, removed = await scheduling.standing(db, activity_id, user_id)
        if self.trusted:
            self._trim(self._standing)
            self._standing[key] = (now, (registration, removed))
        return registration, removed

    # -- changing ----------------------------------------------------------------------------------

    async def commit(self, db: AsyncSession, activity_id: int, user_id: int | None = None) -> None:
        """Commit a change to the activity (or to one teacher's standing in it), then have every node
        forget its copy: whoever commits such a change does it through here, so no caller can forget."""
        await db.commit()
        await self.changed(activity_id, user_id)

    async def changed(self, activity_id: int, user_id: int | None = None) -> None:
        """After a commit that changes the activity (user_id None) or one teacher's standing in it:
        every node forgets its copy. Awaited before the change is acknowledged, so a client that acts
        on the acknowledgement on another node finds the copy already gone."""
        self._forget(activity_id, user_id)
        # if the bus is down, no node trusts its cache anyway (and each clears it when the bus returns)
        await self.hub.broadcast(CHANNEL, orjson.dumps({"a": activity_id, "u": user_id}))

    def _heard(self, data: bytes | None) -> None:
        if data is None:
            self._views.clear()
            self._standing.clear()
            self._stale.update(self._loads.keys())
            return
        try:
            msg: dict[str, Any] = orjson.loads(data)
            self._forget(int(msg["a"]), msg.get("u"))
        except (ValueError, KeyError, TypeError):
            self._views.clear()
            self._standing.clear()

    def forget(self, activity_id: int) -> None:
        """This node's copy only: after finding the stored activity differs from it."""
        self._forget(activity_id, None)

    def _forget(self, activity_id: int, user_id: int | None) -> None:
        """One teacher's standing, or the room itself. A teacher's standing (registration, removal,
        membership of the activity's studio) changes only with a change that names them, so a change of
        the room (a phase, a setting, an edit) keeps every standing: after a phase change, ten thousand
        teachers' next commands find theirs without ten thousand queries."""
        if user_id is not None:
            self._standing.pop((activity_id, user_id), None)
            return
        self._views.pop(activity_id, None)
        if self._loads.pending(activity_id):
            self._stale.add(activity_id)

    @staticmethod
    def _trim(entries: dict) -> None:
        if len(entries) >= MAX_ENTRIES:
            entries.clear()


def rooms(services: Services) -> RoomCache:
    """The node's cache (provided by `sessions.part.install`)."""
    return services.get(RoomCache)
