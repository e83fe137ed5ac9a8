"""Who is told when someone joins or leaves a studio.

A studio's activities admit its members, so their room caches (`sessions`) must forget that person's
standing on every node. Studios do not know activities: `sessions` adds a hook here when it is
installed, and `collab.studios.membership` commits every change of membership through `commit`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from collab.studios.records import StudioMember

MembershipHook = Callable[[AsyncSession, int, int], Awaitable[None]]  # (db, studio_id, user_id)

REMOVED = "removed from the studio"  # the reason of the `unsubscribed` push a removed member's sockets get


async def still_in(db: AsyncSession, studio_id: int, user_id: int) -> bool:
    """After a change: whether the user is still a member, or only applying (never had access). Not
    so: they were removed or left, and their open sockets must lose the studio (docs, channels)."""
    row = await db.get(StudioMember, (studio_id, user_id))
    return row is not None


class MembershipHooks:
    def __init__(self) -> None:
        self._hooks: list[MembershipHook] = []

    def add(self, hook: MembershipHook) -> None:
        self._hooks.append(hook)

    async def commit(self, db: AsyncSession, studio_id: int, user_id: int) -> None:
        """Commit a change to someone's membership, then tell every hook: whoever changes a membership
        does it through here, so no route can forget to."""
        await db.commit()
        await self.changed(db, studio_id, user_id)

    async def changed(self, db: AsyncSession, studio_id: int, user_id: int) -> None:
        for hook in self._hooks:
            await hook(db, studio_id, user_id)
