"""Who is told when someone joins or leaves a studio.

A studio's activities admit its members, so their room caches (`sessions`) must forget that person's
standing on every node. Studios do not know activities: `sessions` adds a hook here when it is
installed, and `collab.studios.membership` commits every change of membership through `commit`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

MembershipHook = Callable[[AsyncSession, int, int], Awaitable[None]]  # (db, studio_id, user_id)


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
