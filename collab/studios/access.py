"""The actor's place in a studio, as the policy's `StudioAccess`: one query, used by every studio,
resource and document route and by `/ws/docs`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.auth.actor import Actor
from collab.policy import StudioAccess
from collab.studios.records import Studio, StudioMember


async def studio_access(db: AsyncSession, studio_id: int, actor: Actor | None) -> StudioAccess | None:
    """None when there is no such studio."""
    if actor is None:
        leader = (await db.execute(select(Studio.leader_id).where(Studio.id == studio_id))).scalar_one_or_none()
        return None if leader is None else StudioAccess(leader)
    row = (await db.execute(
        select(Studio.leader_id, StudioMember.role, StudioMember.status)
        .outerjoin(StudioMember, (StudioMember.studio_id == Studio.id) & (StudioMember.user_id == actor.user_id))
        .where(Studio.id == studio_id))).first()
    if row is None:
        return None
    leader_id, role, status = row
    return StudioAccess(leader_id, role if status == "active" else None, status == "pending")
