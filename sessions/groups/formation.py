"""Putting people into groups: everyone in the room when a group phase starts, in one pass; later a
late joiner, a teacher's own choice, a moderator's move.

Forming reads who is in the room from the open attendance intervals (written within a second of a
join, on every node), leaves the staff out (the organizer, hosts, experts and presenters roam), lets
`sessions.groups.assign` decide, and stores the groups and the members in two statements. A phase
whose groups exist already (the host went back to it) keeps them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from collab.shared_loads import SharedLoads
from collab.store.models import User
from sessions.groups import assign
from sessions.groups.book import Group, GroupBook, PhaseBook, book_of
from sessions.groups.records import ActivityGroup, GroupMember, GroupRosterEntry
from sessions.groups.rules import GroupPhase, running_group_phase
from sessions.records import AttendanceInterval, aware
from sessions.room import publish, record
from sessions.room_cache import rooms


def staff_ids(view) -> set[int]:
    return {view.organizer_id, *(s.user_id for s in view.staff)}


async def _in_the_room(db: AsyncSession, view) -> list[assign.Attendee]:
    rows = (await db.execute(
        select(User.id, User.school, User.region).where(User.id.in_(
            select(AttendanceInterval.user_id).where(AttendanceInterval.activity_id == view.id,
                                                     AttendanceInterval.left_at.is_(None))))
        .order_by(User.id))).all()
    staff = staff_ids(view)
    return [assign.Attendee(uid, school or "", region or "") for uid, school, region in rows if uid not in staff]


async def form(db: AsyncSession, book: GroupBook, view, phase: GroupPhase) -> tuple[PhaseBook, bool]:
    """The phase's groups, formed now unless they exist; (the groups, whether they were formed now).
    Commits."""
    existing = await book.phase(db, view.id, phase.phase)
    if existing is not None:
        return existing, False
    plan = phase.plan
    roster = None
    if plan.assign == "list":
        roster = dict((await db.execute(select(GroupRosterEntry.user_id, GroupRosterEntry.group_name).where(
            GroupRosterEntry.activity_id == view.id, GroupRosterEntry.phase == phase.phase)
            .order_by(GroupRosterEntry.line))).all())
    attendees = await _in_the_room(db, view)
    formed = assign.form(plan, attendees, seed=view.id * 1_000 + phase.phase, roster=roster)
    now = datetime.now(timezone.utc)
    how = "listed" if plan.assign == "list" else "assigned"
    try:
        ids = (await db.execute(insert(ActivityGroup).returning(ActivityGroup.id, ActivityGroup.number), [
            {"activity_id": view.id, "phase": phase.phase, "number": i + 1, "name": name, "created_at": now}
            for i, name in enumerate(formed.names)])).all() if formed.names else []
        gid_of = {number: gid for gid, number in ids}
        rows = [{"activity_id": view.id, "phase": phase.phase, "user_id": uid, "group_id": gid_of[i + 1],
                 "how": how, "joined_at": now} for i, members in enumerate(formed.members) for uid in members]
        if rows:
            await db.execute(insert(GroupMember), rows)
        await db.commit()
    except IntegrityError:  # formed meanwhile on another node (the group numbers are unique per phase)
        await db.rollback()
        return await book.phase(db, view.id, phase.phase), False
    groups = {gid: Group(gid, number, formed.names[number - 1], None, None) for number, gid in gid_of.items()}
    made = PhaseBook(groups, {r["user_id"]: r["group_id"] for r in rows})
    book.keep(view.id, phase.phase, made)
    return made, True


async def _loads(db: AsyncSession, activity_id: int, phase: int, groups: list[Group], by: str | None) -> list[assign.Load]:
    """Each group as it stands: its size, and its schools or regions when the plan places by them (one
    query either way)."""
    of_phase = (GroupMember.activity_id == activity_id) & (GroupMember.phase == phase)
    counts: Counter[int] = Counter()
    kinds: dict[int, Counter[str]] = {g.id: Counter() for g in groups}
    if by is None:
        counts.update(dict((await db.execute(select(GroupMember.group_id, func.count()).where(of_phase)
                                             .group_by(GroupMember.group_id))).all()))
    else:
        column = User.school if by == "school" else User.region
        for gid, value, n in (await db.execute(
                select(GroupMember.group_id, column, func.count()).join(User, User.id == GroupMember.user_id)
                .where(of_phase).group_by(GroupMember.group_id, column))).all():
            kinds.setdefault(gid, Counter())[value or ""] = n
            counts[gid] += n
    return [assign.Load(counts[g.id], kinds[g.id] if by == "school" else Counter(),
                        kinds[g.id] if by == "region" else Counter()) for g in groups]


async def place(db: AsyncSession, book: GroupBook, view, phase: GroupPhase, user_id: int) -> int | None:
    """A late joiner's group (None under self-selection: they choose). Safe on two nodes at once: the
    membership's key admits one row per teacher per phase, and the loser reads the winner's."""
    plan = phase.plan
    if plan.assign == "self_select":
        return None
    pb = await book.phase(db, view.id, phase.phase)
    if pb is None:
        return None
    groups = pb.by_number()
    by = assign.trait(plan.assign)
    me = (await db.execute(select(User.school, User.region).where(User.id == user_id))).one()
    index = assign.place(plan, await _loads(db, view.id, phase.phase, groups, by),
                         assign.Attendee(user_id, me.school or "", me.region or ""))
    gid = groups[index].id
    try:
        await db.execute(insert(GroupMember).values(activity_id=view.id, phase=phase.phase, user_id=user_id,
                                                    group_id=gid, how="late", joined_at=datetime.now(timezone.utc)))
        await db.commit()
    except IntegrityError:
        await db.rollback()
        return await book.group_of(db, view.id, phase.phase, user_id)
    await book.changed(view.id, phase.phase, user_id=user_id, now_in=gid)
    return gid


async def members_now(db: AsyncSession, group_id: int) -> int:
    return (await db.execute(select(func.count()).where(GroupMember.group_id == group_id))).scalar_one()


async def lock_group(db: AsyncSession, group_id: int) -> None:
    """Hold the group's row until commit (PostgreSQL; SQLite writes one at a time anyway), so two
    teachers choosing its last place on two nodes cannot both have it."""
    await db.execute(select(ActivityGroup.id).where(ActivityGroup.id == group_id).with_for_update())


async def put(db: AsyncSession, activity_id: int, phase: int, user_id: int, group_id: int, how: str) -> int | None:
    """Put a teacher in a group (moving them if they were in another); their previous group or None.
    Does not commit."""
    before = (await db.execute(select(GroupMember.group_id).where(
        GroupMember.activity_id == activity_id, GroupMember.phase == phase, GroupMember.user_id == user_id))).scalar()
    if before is None:
        await db.execute(insert(GroupMember).values(activity_id=activity_id, phase=phase, user_id=user_id,
                                                    group_id=group_id, how=how, joined_at=datetime.now(timezone.utc)))
    else:
        await db.execute(update(GroupMember).where(
            GroupMember.activity_id == activity_id, GroupMember.phase == phase, GroupMember.user_id == user_id)
            .values(group_id=group_id, how=how, joined_at=datetime.now(timezone.utc)))
    return before


async def on_phase(ctx, activity_id: int) -> None:
    """After the host moved the activity into a phase: if it is a group phase, form its groups (unless
    they exist) and tell the room, whose pages then ask `group.mine`."""
    async with ctx.services.sessionmaker() as db:
        view = await rooms(ctx.services).view(db, activity_id)
        phase = None if view is None else running_group_phase(view)
        if phase is None:
            return
        await _form_and_tell(ctx, db, view, phase, always=True)


FORMING_GRACE = 5.0  # seconds the host's command has to form a phase's groups before any page may


async def overdue(ctx, db, view, phase: GroupPhase) -> PhaseBook | None:
    """A running group phase whose groups the host's command did not form (it failed after the phase
    had changed, or its node died): the first page to ask after the grace forms them, once per node
    at a time, and tells the room. None while the grace runs."""
    started = view.phase_started_at
    if started is None or (datetime.now(timezone.utc) - aware(started)).total_seconds() < FORMING_GRACE:
        return None
    return await _forming.load((view.id, phase.phase), lambda: _form_and_tell(ctx, db, view, phase, always=False))


_forming: SharedLoads[tuple[int, int], PhaseBook] = SharedLoads()


async def _form_and_tell(ctx, db, view, phase: GroupPhase, *, always: bool) -> PhaseBook:
    pb, formed = await form(db, book_of(ctx.services), view, phase)
    if formed or always:  # a phase entered again: its pages ask again
        out = await record(ctx, db, view.id, event={
            "type": "groups_formed", "phase": phase.phase, "mode": phase.mode, "groups": len(pb.groups),
            "members": len(pb.member_of)})
        await publish(ctx, view.id, out)
    return pb
