"""Each node's copy of who is in which group: loaded once per node per group phase, so the ask storm
after `groups_formed` (every page asks `group.mine` at once) costs one query per node, not one per
teacher.

A copy is trusted like the room cache's (sessions.room_cache): while this node hears the other nodes
(`node:groups`) and for at most `MAX_AGE` seconds. A change to one teacher's group (a late joiner, a
choice, a move) or to one group (its rapporteur, its notes) is told to every node, which forgets only
that teacher or reloads only that group.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.shared_loads import SharedLoads
from collab.store.models import User
from sessions.groups.records import ActivityGroup, GroupMember

CHANNEL = "node:groups"  # clients cannot subscribe: the policy knows no "node" channels
MAX_AGE = 60.0
MAX_PHASES = 1_000


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    number: int
    name: str
    doc_id: int | None
    rapporteur: tuple[int, str] | None  # (user id, display name)


@dataclass
class PhaseBook:
    """One group phase of one activity as this node knows it."""

    groups: dict[int, Group]
    member_of: dict[int, int]  # user id -> group id; a teacher missing here is asked of the database
    loaded_at: float = field(default_factory=time.monotonic)
    groups_stale: bool = False  # a group changed (its rapporteur, its notes): reread the groups, not the members
    sizes: dict[int, int] = field(default_factory=dict)  # group id -> members: kept as members come and go

    def __post_init__(self) -> None:
        self.sizes = dict.fromkeys(self.groups, 0)
        for gid in self.member_of.values():
            self.sizes[gid] = self.sizes.get(gid, 0) + 1

    def by_number(self) -> list[Group]:
        return sorted(self.groups.values(), key=lambda g: g.number)

    def counts(self) -> dict[int, int]:
        return self.sizes

    def put(self, user_id: int, group_id: int) -> None:
        self.drop(user_id)
        self.member_of[user_id] = group_id
        self.sizes[group_id] = self.sizes.get(group_id, 0) + 1

    def drop(self, user_id: int) -> None:
        before = self.member_of.pop(user_id, None)
        if before is not None:
            self.sizes[before] -= 1


async def load_groups(db: AsyncSession, activity_id: int, phase: int) -> dict[int, Group]:
    rows = (await db.execute(
        select(ActivityGroup, User.display_name).outerjoin(User, User.id == ActivityGroup.rapporteur_id)
        .where(ActivityGroup.activity_id == activity_id, ActivityGroup.phase == phase))).all()
    return {g.id: Group(g.id, g.number, g.name, g.doc_id,
                        (g.rapporteur_id, name) if g.rapporteur_id is not None else None) for g, name in rows}


class GroupBook:
    def __init__(self, hub) -> None:
        self.hub = hub
        self._phases: dict[tuple[int, int], PhaseBook] = {}
        self._loads: SharedLoads[tuple[int, int], PhaseBook | None] = SharedLoads()  # an ask storm: one load
        self._listening = False

    async def start(self) -> None:
        await self.hub.watch(CHANNEL, self._heard)
        self._listening = True

    @property
    def trusted(self) -> bool:
        return self._listening and self.hub.bus.healthy

    async def phase(self, db: AsyncSession, activity_id: int, phase: int) -> PhaseBook | None:
        """The phase's groups and members; None when its groups are not formed (yet)."""
        key = (activity_id, phase)
        hit = self._phases.get(key)
        if hit is not None and time.monotonic() - hit.loaded_at < MAX_AGE and self.trusted:
            if hit.groups_stale:
                hit.groups_stale = False
                hit.groups = await load_groups(db, activity_id, phase) or hit.groups
            return hit
        return await self._loads.load(key, lambda: self._load(db, activity_id, phase))

    async def _load(self, db: AsyncSession, activity_id: int, phase: int) -> PhaseBook | None:
        groups = await load_groups(db, activity_id, phase)
        if not groups:
            return None
        members = (await db.execute(select(GroupMember.user_id, GroupMember.group_id).where(
            GroupMember.activity_id == activity_id, GroupMember.phase == phase))).all()
        book = PhaseBook(groups, dict(members))
        self.keep(activity_id, phase, book)
        return book

    def keep(self, activity_id: int, phase: int, book: PhaseBook) -> None:
        """Hold a copy this node made itself (the node that formed the groups has them already)."""
        if not self.trusted:
            return
        if len(self._phases) >= MAX_PHASES:
            self._phases.clear()
        self._phases[(activity_id, phase)] = book

    async def group_of(self, db: AsyncSession, activity_id: int, phase: int, user_id: int) -> int | None:
        book = await self.phase(db, activity_id, phase)
        if book is None:
            return None
        gid = book.member_of.get(user_id)
        if gid is None:  # joined late on another node, or not placed yet
            gid = (await db.execute(select(GroupMember.group_id).where(
                GroupMember.activity_id == activity_id, GroupMember.phase == phase,
                GroupMember.user_id == user_id))).scalar()
            if gid is not None:
                book.put(user_id, gid)
        return gid

    # -- changes -----------------------------------------------------------------------------------

    async def changed(self, activity_id: int, phase: int, *, user_id: int | None = None, now_in: int | None = None,
                      group_id: int | None = None) -> None:
        """After a committed change: teacher `user_id` is now in group `now_in`, or group `group_id`
        itself changed. Every node (this one first, before the caller answers) takes the teacher's new
        group (so its counts stay whole) or rereads the groups."""
        self._take(activity_id, phase, user_id, now_in, group_id)
        await self.hub.broadcast(CHANNEL, orjson.dumps(
            {"a": activity_id, "p": phase, "u": user_id, "m": now_in, "g": group_id}))

    def _take(self, activity_id: int, phase: int, user_id: int | None, now_in: int | None,
              group_id: int | None) -> None:
        book = self._phases.get((activity_id, phase))
        if book is None:
            return
        if user_id is not None:
            if now_in is None:
                book.drop(user_id)
            else:
                book.put(user_id, now_in)
        if group_id is not None:
            book.groups_stale = True

    def _heard(self, data: bytes | None) -> None:
        if data is None:
            self._phases.clear()
            return
        try:
            msg: dict[str, Any] = orjson.loads(data)
            self._take(int(msg["a"]), int(msg["p"]), msg.get("u"), msg.get("m"), msg.get("g"))
        except (ValueError, KeyError, TypeError):
            self._phases.clear()

    def forget(self, activity_id: int, phase: int) -> None:
        self._phases.pop((activity_id, phase), None)


def book_of(services) -> GroupBook:
    return services.get(GroupBook)
