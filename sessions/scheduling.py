"""Scheduling: create, edit, cancel, list and register for activities. The edges' I/O lives here;
the rules live in `sessions.agenda` (what a schedule may be) and `collab.policy` (who may do what)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab import audit, catalog, policy
from collab.auth.actor import Actor
from collab.policy import ActivityAccess
from collab.store.models import User
from collab.studios.access import studio_access
from collab.studios.records import StudioMember
from collab.webhooks import outbox
from sessions import outbound, time_zones
from sessions.agenda import (
    AgendaError,
    GroupPlan,
    Phase,
    Schedule,
    parse_group_plan,
    parse_schedule,
    phase_json,
    planned_minutes,
)
from sessions.records import (
    STAFF_ROLES,
    Activity,
    ActivityPhase,
    ActivityStaff,
    Registration,
    Removal,
    aware,
)

if TYPE_CHECKING:
    from sessions.room_cache import RoomCache  # which imports this module

MAX_STAFF = 50


def schedule_of(a: Activity) -> Schedule:
    return Schedule(
        title=a.title, description=a.description, subject=a.subject, grade=a.grade, level=a.level,
        region=a.region, starts_at=aware(a.starts_at), ends_at=aware(a.ends_at), capacity=a.capacity,
        visibility=a.visibility, registration=a.registration, front_row=a.front_row,
        phases=tuple(Phase(kind=p.kind, title=p.title, minutes=p.minutes, chat=p.chat, questions=p.questions,
                           hands=p.hands, polls=p.polls, groups=_plan_of(p)) for p in a.phases),
    )


def _plan_of(p) -> GroupPlan | None:
    """A stored phase's plan (a row's JSON column, or a `PhaseView`'s copy of it)."""
    return parse_group_plan(p.groups or {}) if p.kind == "group_discussion" else None


def _apply(a: Activity, s: Schedule) -> None:
    a.title, a.description, a.subject, a.grade = s.title, s.description, s.subject, s.grade
    a.level, a.region, a.capacity = s.level, s.region, s.capacity
    a.starts_at, a.ends_at = s.starts_at.astimezone(timezone.utc), s.ends_at.astimezone(timezone.utc)
    a.visibility, a.registration, a.front_row = s.visibility, s.registration, s.front_row
    a.phases = [ActivityPhase(position=i, **phase_json(p)) for i, p in enumerate(s.phases)]


async def _staff_from(db: AsyncSession, data: dict[str, Any], current: list[ActivityStaff] | None) -> list[ActivityStaff] | None:
    """Hosts, experts and presenters from `{"hosts": [ids], "experts": [...], "presenters": [...]}`."""
    keys = [r + "s" for r in STAFF_ROLES]
    if not any(k in data for k in keys):
        return None if current is not None else []
    wanted: list[tuple[int, str]] = []
    for role in STAFF_ROLES:
        ids = data.get(role + "s", [s.user_id for s in current or [] if s.role == role])
        if not isinstance(ids, list) or not all(type(i) is int for i in ids):
            raise AgendaError(role + "s", f"{role}s must be a list of user ids")
        wanted.extend((i, role) for i in dict.fromkeys(ids))
    if len(wanted) > MAX_STAFF:
        raise AgendaError("staff", f"at most {MAX_STAFF} hosts, experts and presenters")
    ids = {i for i, _ in wanted}
    found = set((await db.execute(select(User.id).where(User.id.in_(ids)))).scalars()) if ids else set()
    if missing := ids - found:
        raise AgendaError("staff", f"no such users: {sorted(missing)}")
    return [ActivityStaff(user_id=i, role=r) for i, r in wanted]


def _audit_staff(db: AsyncSession, actor: Actor | None, activity_id: int, before: list[ActivityStaff],
                 after: list[ActivityStaff]) -> None:
    """A change of hosts, experts or presenters goes in the audit log, in the change's transaction."""
    old, new = {(s.user_id, s.role) for s in before}, {(s.user_id, s.role) for s in after}
    if old == new:
        return
    audit.record(db, actor, "activity.staff", "activity", activity_id,
                 {"added": [{"user_id": u, "role": r} for u, r in sorted(new - old)],
                  "removed": [{"user_id": u, "role": r} for u, r in sorted(old - new)]}, activity_id=activity_id)


async def create(db: AsyncSession, actor: Actor | None, data: dict[str, Any],
                 default_zone: str = time_zones.DEFAULT) -> Activity:
    """An activity of the platform (organizers), or of a studio (`studio_id`: its leader and co-leaders
    organize it, and its members attend as if registered). Its `time_zone` is `default_zone` (the
    deployment's setting) unless the organizer names one."""
    studio_id = data.get("studio_id")
    if studio_id is None:
        policy.authorize(actor, "activity.create")
    else:
        access = await studio_access(db, studio_id, actor) if type(studio_id) is int else None
        if access is None:
            raise AgendaError("studio_id", "no such studio")
        policy.authorize(actor, "studio.schedule", access)
    schedule = parse_schedule(data)
    zone = time_zones.check(data.get("time_zone", default_zone))
    activity = Activity(state="scheduled", organizer_id=actor.user_id, studio_id=studio_id, time_zone=zone)
    _apply(activity, schedule)
    activity.staff = await _staff_from(db, data, None) or []
    db.add(activity)
    await db.flush()  # its id, for the event told in the same transaction
    outbox.record(db, "activity.scheduled", outbound.activity(activity))
    if activity.staff:
        _audit_staff(db, actor, activity.id, [], activity.staff)
    await db.commit()
    return await get(db, activity.id)


async def get(db: AsyncSession, activity_id: int) -> Activity | None:
    db.expire_all()  # phases and staff as stored now, not as this session last saw them
    return await db.get(Activity, activity_id)


# One round trip for a teacher's standing, built once: a join storm asks it ten thousand times.
_STANDING = select(
    select(Registration.status)
    .where(Registration.activity_id == bindparam("a"), Registration.user_id == bindparam("u"))
    .scalar_subquery(),
    exists().where(Removal.activity_id == bindparam("a"), Removal.user_id == bindparam("u")),
    exists().where(
        StudioMember.studio_id == select(Activity.studio_id).where(Activity.id == bindparam("a")).scalar_subquery(),
        StudioMember.user_id == bindparam("u"), StudioMember.status == "active"),
)


async def standing(db: AsyncSession, activity_id: int, user_id: int) -> tuple[str | None, bool]:
    """A teacher's (registration, removed) in an activity. A member of the studio whose activity it is
    attends as if registered."""
    registration, removed, member = (await db.execute(_STANDING, {"a": activity_id, "u": user_id})).one()
    if registration is None and member:
        registration = "approved"
    return registration, bool(removed)


async def standings(db: AsyncSession, activities: list[Activity], user_id: int) -> dict[int, str | None]:
    """A teacher's registration in each of several activities, in two round trips (a listing's worth),
    with `standing`'s rule: a member of the studio whose activity it is attends as if registered."""
    ids = [a.id for a in activities]
    if not ids:
        return {}
    regs = dict((await db.execute(select(Registration.activity_id, Registration.status).where(
        Registration.activity_id.in_(ids), Registration.user_id == user_id))).all())
    studios = {a.studio_id for a in activities if a.studio_id is not None and a.id not in regs}
    member_of = set((await db.execute(select(StudioMember.studio_id).where(
        StudioMember.studio_id.in_(studios), StudioMember.user_id == user_id,
        StudioMember.status == "active"))).scalars()) if studios else set()
    return {a.id: regs.get(a.id) or ("approved" if a.studio_id in member_of else None) for a in activities}


def me_json(activity, actor: Actor | None, registration: str | None) -> dict[str, Any]:
    """The caller's place in an activity, as the pages show it."""
    return {"roles": sorted(access_of(activity, actor).staff), "registration": registration,
            "organizer": actor is not None and actor.user_id == activity.organizer_id}


def access_of(activity, actor: Actor | None, registration: str | None = None, removed: bool = False) -> ActivityAccess:
    """The policy's `ActivityAccess` from an activity (a row or a `RoomView`) and the actor's standing."""
    roles = frozenset(s.role for s in activity.staff if actor is not None and s.user_id == actor.user_id)
    return ActivityAccess(activity.organizer_id, activity.visibility, activity.state, roles, registration, removed)


async def access(db: AsyncSession, activity: Activity, actor: Actor | None) -> ActivityAccess:
    if actor is None:
        return access_of(activity, None)
    return access_of(activity, actor, *await standing(db, activity.id, actor.user_id))


async def update(db: AsyncSession, rooms: RoomCache, actor: Actor | None, activity: Activity,
                 data: dict[str, Any]) -> Activity:
    policy.authorize(actor, "activity.edit", await access(db, activity, actor))
    schedule = parse_schedule(data, current=schedule_of(activity))
    zone = time_zones.check(data["time_zone"]) if "time_zone" in data else activity.time_zone
    staff = await _staff_from(db, data, activity.staff)
    if staff is not None:
        _audit_staff(db, actor, activity.id, activity.staff, staff)
    # Old rows go before new ones come: positions and (user, role) pairs are unique.
    activity.phases = []
    if staff is not None:
        activity.staff = []
    await db.flush()
    _apply(activity, schedule)
    activity.time_zone = zone
    if staff is not None:
        activity.staff = staff
    outbox.record(db, "activity.changed", outbound.activity(activity))
    await rooms.commit(db, activity.id)
    return await get(db, activity.id)


async def cancel(db: AsyncSession, rooms: RoomCache, actor: Actor | None, activity: Activity) -> Activity:
    policy.authorize(actor, "activity.cancel", await access(db, activity, actor))
    activity.state = "cancelled"
    outbox.record(db, "activity.cancelled", outbound.activity(activity))
    await rooms.commit(db, activity.id)
    return await get(db, activity.id)


STATUSES = ("upcoming", "live", "past", "cancelled")


async def listing(db: AsyncSession, actor: Actor | None, status: str, filters: dict[str, str],
                  now: datetime | None = None, limit: int = 100) -> list[Activity]:
    """Activities the actor may see, by status and the filters subject, grade, level and region."""
    now = now or datetime.now(timezone.utc)
    q = select(Activity)
    if status == "upcoming":
        q = q.where(Activity.state.in_(("scheduled", "lobby")), Activity.ends_at > now).order_by(Activity.starts_at)
    elif status == "live":
        q = q.where(Activity.state == "live").order_by(Activity.starts_at)
    elif status == "past":
        q = q.where(or_(Activity.state.in_(("ended", "archived")),
                        and_(Activity.state.in_(("scheduled", "lobby")), Activity.ends_at <= now)))
        q = q.order_by(Activity.starts_at.desc())
    else:
        q = q.where(Activity.state == "cancelled").order_by(Activity.starts_at.desc())
    for key in ("level", "region"):
        if filters.get(key):
            q = q.where(getattr(Activity, key) == filters[key])
    for key in ("subject", "grade"):  # 八年级 finds what was stored as "8", and the other way round
        if filters.get(key):
            q = q.where(getattr(Activity, key).in_(catalog.spellings(filters[key])))
    if str(filters.get("studio_id", "")).isdigit():
        q = q.where(Activity.studio_id == int(filters["studio_id"]))
    if actor is None:
        q = q.where(Activity.visibility == "public")
    elif not policy.allowed(actor, "activity.list_all"):  # admins, and keys with activities:read
        mine = or_(
            Activity.organizer_id == actor.user_id,
            exists().where(ActivityStaff.activity_id == Activity.id, ActivityStaff.user_id == actor.user_id),
            exists().where(Registration.activity_id == Activity.id, Registration.user_id == actor.user_id,
                           Registration.status == "approved"),
            exists().where(StudioMember.studio_id == Activity.studio_id, StudioMember.user_id == actor.user_id,
                           StudioMember.status == "active"),
        )
        q = q.where(or_(Activity.visibility.in_(("public", "registered")), mine))
    return list((await db.execute(q.limit(limit))).scalars())


async def register(db: AsyncSession, rooms: RoomCache, actor: Actor | None, activity: Activity) -> Registration:
    """Open activities approve at once; others wait for the organizer. Registering twice is a no-op."""
    acc = await access(db, activity, actor)
    policy.authorize(actor, "activity.register", acc)
    existing = await db.get(Registration, (activity.id, actor.user_id))
    if existing is not None:
        return existing
    status = "approved" if activity.registration == "open" else "pending"
    if status == "approved" and await approved_count(db, activity.id) >= activity.capacity:
        raise AgendaError("capacity", "the activity is full")
    reg = Registration(activity_id=activity.id, user_id=actor.user_id, status=status)
    db.add(reg)
    if status == "approved":
        outbox.record(db, "registration.decided", outbound.decision(activity, actor.user_id, status, "open_registration"))
    await rooms.commit(db, activity.id, actor.user_id)
    return reg


async def admit(db: AsyncSession, rooms: RoomCache, actor: Actor, activity: Activity) -> Registration:
    """Approved registration through an invitation link (its checks done by the caller)."""
    reg = await db.get(Registration, (activity.id, actor.user_id))
    if reg is not None and reg.status == "approved":
        return reg
    if await approved_count(db, activity.id) >= activity.capacity:
        raise AgendaError("capacity", "the activity is full")
    if reg is None:
        reg = Registration(activity_id=activity.id, user_id=actor.user_id, status="approved")
        db.add(reg)
    else:
        reg.status = "approved"
    outbox.record(db, "registration.decided", outbound.decision(activity, actor.user_id, "approved", "invitation"))
    await rooms.commit(db, activity.id, actor.user_id)
    return reg


async def approved_count(db: AsyncSession, activity_id: int) -> int:
    from sqlalchemy import func

    return (await db.execute(select(func.count()).select_from(Registration).where(
        Registration.activity_id == activity_id, Registration.status == "approved"))).scalar_one()


async def decide(db: AsyncSession, rooms: RoomCache, actor: Actor | None, activity: Activity, user_id: int,
                 approve: bool) -> Registration:
    policy.authorize(actor, "activity.registrations", await access(db, activity, actor))
    reg = await db.get(Registration, (activity.id, user_id))
    if reg is None:
        raise AgendaError("user_id", "that teacher has not registered")
    if approve and reg.status != "approved" and await approved_count(db, activity.id) >= activity.capacity:
        raise AgendaError("capacity", "the activity is full")
    audit.record(db, actor, "activity.registration", "user", user_id, {"from": reg.status, "approved": approve},
                 activity_id=activity.id)
    reg.status = "approved" if approve else "rejected"
    outbox.record(db, "registration.decided", outbound.decision(activity, user_id, reg.status, "organizer"))
    await rooms.commit(db, activity.id, user_id)
    return reg


async def registrations(db: AsyncSession, actor: Actor | None, activity: Activity) -> list[tuple[Registration, User]]:
    policy.authorize(actor, "activity.registrations.read", await access(db, activity, actor))
    rows = await db.execute(select(Registration, User).join(User, User.id == Registration.user_id)
                            .where(Registration.activity_id == activity.id).order_by(Registration.created_at))
    return [(r, u) for r, u in rows.all()]


async def staff_names(db: AsyncSession, a: Activity) -> dict[int, str]:
    """The display names of an activity's organizer and staff, for pages that say who runs it."""
    ids = {a.organizer_id, *(m.user_id for m in a.staff)}
    rows = await db.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return dict(rows.all())


def activity_json(a: Activity, names: dict[int, str] | None = None) -> dict[str, Any]:
    """`names` (or a `RoomView`'s own): the organizer's and staff's names, as `names` {id: name}."""
    s = schedule_of(a)
    names = names if names is not None else getattr(a, "names", None)
    staff: dict[str, list[int]] = {r + "s": [] for r in STAFF_ROLES}
    for member in a.staff:
        staff[member.role + "s"].append(member.user_id)
    return {
        "id": a.id, "state": a.state, "organizer_id": a.organizer_id, "studio_id": a.studio_id,
        **{k: v for k, v in {
            "title": s.title, "description": s.description, "subject": s.subject, "grade": s.grade,
            "level": s.level, "region": s.region, "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(), "capacity": s.capacity, "visibility": s.visibility,
            "registration": s.registration, "front_row": s.front_row}.items()},
        "time_zone": a.time_zone,  # IANA name: the pages and exports show its times on this clock
        "agenda": [phase_json(p) for p in s.phases],
        "planned_minutes": planned_minutes(s),
        "current_phase": a.current_phase,
        **{k: (aware(v).isoformat() if v else None) for k, v in (
            ("phase_started_at", a.phase_started_at), ("started_at", a.started_at), ("ended_at", a.ended_at))},
        **staff,
        **({"names": {str(k): v for k, v in dict(names).items()}} if names else {}),
    }


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r", "").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued with a leading space."""
    out, data = [], line.encode()
    while len(data) > 75:
        cut = 75
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        out.append(data[:cut].decode())
        data = b" " + data[cut:]
    out.append(data.decode())
    return "\r\n".join(out)


def ical(activities: list[Activity], base_url: str, name: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    fmt = "%Y%m%dT%H%M%SZ"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//collab//activities//EN", "CALSCALE:GREGORIAN",
             f"X-WR-CALNAME:{_ics_text(name)}"]
    for a in activities:
        s = schedule_of(a)
        agenda = "\n".join(f"{i + 1}. {p.title} ({p.minutes} min)" for i, p in enumerate(s.phases))
        lines += [
            "BEGIN:VEVENT",
            f"UID:activity-{a.id}@collab",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{s.starts_at.astimezone(timezone.utc).strftime(fmt)}",
            f"DTEND:{s.ends_at.astimezone(timezone.utc).strftime(fmt)}",
            f"SUMMARY:{_ics_text(s.title)}",
            f"DESCRIPTION:{_ics_text((s.description + chr(10) + chr(10) + agenda).strip())}",
            f"URL:{base_url}/activities/{a.id}",
            "STATUS:" + ("CANCELLED" if a.state == "cancelled" else "CONFIRMED"),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"

