"""Founding a studio and everything about who is in it: applications, decisions, invitation links,
roles, leaving and removal. The rules of who may are in `collab.policy`; this module applies them and
keeps the one invariant the policy cannot see: a studio always has exactly one leader."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab import audit, catalog, policy
from collab.auth.actor import Actor
from collab.errors import DomainError
from collab.policy import STUDIO_ROLES, StudioAccess
from collab.store.models import User
from collab.studios.access import studio_access
from collab.studios.hooks import MembershipHooks
from collab.studios.records import Studio, StudioMember

LEVEL_FIELDS = ("subject", "grade", "region")


def _text(data: dict[str, Any], key: str, limit: int, required: bool = False, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or len(value.strip()) > limit or (required and not value.strip()):
        raise DomainError("invalid", f"{key}: {'1 to ' if required else 'at most '}{limit} characters")
    return value.strip()


def profile_from(data: dict[str, Any], current: Studio | None = None) -> dict[str, str]:
    def get(key: str, limit: int, required: bool = False) -> str:
        default = getattr(current, key) if current is not None else ""
        return _text(data, key, limit, required, default)

    return {"name": get("name", 100, required=True), "subject": get("subject", 50), "grade": get("grade", 50),
            "region": get("region", 100), "description": get("description", 5000)}


async def create(db: AsyncSession, actor: Actor | None, data: dict[str, Any]) -> Studio:
    policy.authorize(actor, "studio.create")
    studio = Studio(leader_id=actor.user_id, **profile_from(data))
    db.add(studio)
    await db.flush()
    db.add(StudioMember(studio_id=studio.id, user_id=actor.user_id, role="leader", status="active", note=""))
    await db.commit()
    return studio


async def get(db: AsyncSession, studio_id: int) -> Studio | None:
    return await db.get(Studio, studio_id)


async def guarded(db: AsyncSession, studio_id: int, actor: Actor | None, action: str) -> tuple[Studio, StudioAccess]:
    """The studio, once the policy allows `action` on it (raises `policy.Denied`, or DomainError not_found)."""
    access = await studio_access(db, studio_id, actor)
    if access is None:
        raise DomainError("not_found", "no such studio")
    policy.authorize(actor, action, access)
    return await db.get(Studio, studio_id), access


async def edit(db: AsyncSession, actor: Actor | None, studio_id: int, data: dict[str, Any]) -> Studio:
    studio, _ = await guarded(db, studio_id, actor, "studio.manage")
    for key, value in profile_from(data, studio).items():
        setattr(studio, key, value)
    await db.commit()
    return studio


async def apply(db: AsyncSession, actor: Actor | None, studio_id: int, note: str) -> StudioMember:
    await guarded(db, studio_id, actor, "studio.apply")
    if not isinstance(note, str) or len(note) > 500:
        raise DomainError("invalid", "note: at most 500 characters")
    row = await db.get(StudioMember, (studio_id, actor.user_id))
    if row is None:
        row = StudioMember(studio_id=studio_id, user_id=actor.user_id, role="member", status="pending", note=note)
        db.add(row)
    await db.commit()
    return row


async def join_by_link(db: AsyncSession, members: MembershipHooks, actor: Actor | None, studio_id: int,
                       role: str) -> StudioMember:
    """The caller checked the link; it names the role it grants (member or observer)."""
    await guarded(db, studio_id, actor, "studio.join_by_link")
    row = await db.get(StudioMember, (studio_id, actor.user_id))
    if row is None:
        row = StudioMember(studio_id=studio_id, user_id=actor.user_id, role=role, status="active", note="")
        db.add(row)
    else:  # an applicant holding a link is let in at once
        row.role, row.status = role, "active"
    await members.commit(db, studio_id, actor.user_id)
    return row


async def decide(db: AsyncSession, members: MembershipHooks, actor: Actor | None, studio_id: int, user_id: int,
                 approve: bool) -> StudioMember | None:
    await guarded(db, studio_id, actor, "studio.manage")
    row = await db.get(StudioMember, (studio_id, user_id))
    if row is None or row.status != "pending":
        raise DomainError("not_found", "no such application")
    if approve:
        row.status = "active"
    else:
        await db.delete(row)
        row = None
    audit.record(db, actor, "studio.application", "user", user_id, {"approved": approve}, studio_id=studio_id)
    await members.commit(db, studio_id, user_id)
    return row


async def set_role(db: AsyncSession, members: MembershipHooks, actor: Actor | None, studio_id: int, user_id: int,
                   role: str) -> StudioMember:
    """member <-> observer: those who run the studio. Co-leaders, and handing over leadership (the old
    leader stays on as a co-leader): the leader alone."""
    if role not in STUDIO_ROLES:
        raise DomainError("invalid", f"role is one of {', '.join(STUDIO_ROLES)}")
    studio, _ = await guarded(db, studio_id, actor, "studio.manage")
    row = await db.get(StudioMember, (studio_id, user_id))
    if row is None or row.status != "active":
        raise DomainError("not_found", "not a member of this studio")
    if row.role == "leader":
        raise DomainError("invalid", "the leader's role changes only by handing the studio to someone else")
    if role in ("leader", "co_leader") or row.role == "co_leader":
        await guarded(db, studio_id, actor, "studio.appoint")
    audit.record(db, actor, "studio.role", "user", user_id, {"from": row.role, "to": role}, studio_id=studio_id)
    if role == "leader":
        old = await db.get(StudioMember, (studio_id, studio.leader_id))
        if old is not None:
            old.role = "co_leader"
        studio.leader_id = user_id
    row.role = role
    await members.commit(db, studio_id, user_id)
    return row


async def remove(db: AsyncSession, members: MembershipHooks, actor: Actor | None, studio_id: int, user_id: int) -> None:
    studio, _ = await guarded(db, studio_id, actor, "studio.manage")
    row = await db.get(StudioMember, (studio_id, user_id))
    if row is None:
        raise DomainError("not_found", "not a member of this studio")
    if row.role == "leader":
        raise DomainError("invalid", "the leader cannot be removed; the leader may hand the studio over")
    if row.role == "co_leader":
        await guarded(db, studio_id, actor, "studio.appoint")
    audit.record(db, actor, "studio.remove", "user", user_id, {"role": row.role, "status": row.status},
                 studio_id=studio_id)
    await db.delete(row)
    await members.commit(db, studio_id, user_id)


async def leave(db: AsyncSession, members: MembershipHooks, actor: Actor | None, studio_id: int) -> None:
    await guarded(db, studio_id, actor, "studio.leave")
    row = await db.get(StudioMember, (studio_id, actor.user_id))
    await db.delete(row)
    await members.commit(db, studio_id, actor.user_id)


async def members(db: AsyncSession, studio_id: int, status: str = "active") -> list[tuple[StudioMember, User]]:
    rows = await db.execute(select(StudioMember, User).join(User, User.id == StudioMember.user_id)
                            .where(StudioMember.studio_id == studio_id, StudioMember.status == status)
                            .order_by(StudioMember.joined_at))
    return [(m, u) for m, u in rows.all()]


async def directory(db: AsyncSession, filters: dict[str, str], actor: Actor | None, mine: bool,
                    limit: int = 100) -> list[tuple[Studio, int]]:
    """Studios with their member counts, newest first; `q` searches names and descriptions."""
    count = (select(func.count()).select_from(StudioMember)
             .where(StudioMember.studio_id == Studio.id, StudioMember.status == "active").scalar_subquery())
    q = select(Studio, count).order_by(Studio.id.desc())
    for key in LEVEL_FIELDS:
        if filters.get(key):  # a subject or grade by its code or its name (collab.catalog)
            q = q.where(getattr(Studio, key).in_(catalog.spellings(filters[key])))
    if filters.get("q"):
        like = "%" + filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(Studio.name.ilike(like, escape="\\") | Studio.description.ilike(like, escape="\\"))
    if mine and actor is not None:
        q = q.where(Studio.id.in_(select(StudioMember.studio_id).where(
            StudioMember.user_id == actor.user_id, StudioMember.status == "active")))
    return [(s, n) for s, n in (await db.execute(q.limit(limit))).all()]


def studio_json(s: Studio, members_count: int | None = None) -> dict[str, Any]:
    out = {"id": s.id, "name": s.name, "leader_id": s.leader_id, "subject": s.subject, "grade": s.grade,
           "region": s.region, "description": s.description, "created_at": s.created_at.isoformat()}
    if members_count is not None:
        out["members"] = members_count
    return out


def member_json(m: StudioMember, u: User) -> dict[str, Any]:
    return {"user_id": u.id, "name": u.display_name, "school": u.school, "region": u.region, "role": m.role,
            "status": m.status, "note": m.note, "joined_at": m.joined_at.isoformat()}
