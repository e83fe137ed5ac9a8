"""Famous-teacher studios as a node installs them: their routes, and the studio and document channels."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from collab.parts import Part
from collab.realtime.dispatch import Registry
from collab.services import Services
from collab.studios import api, channel
from collab.studios.hooks import REMOVED, still_in


def install(services: Services) -> Part:
    commands = Registry()
    channel.register(commands)

    async def member_changed(db: AsyncSession, studio_id: int, user_id: int) -> None:
        if not await still_in(db, studio_id, user_id):  # removed or left: the studio channel ends, everywhere
            await services.hub.kick(channel.channel_of(studio_id), user_id, REMOVED)

    services.studio_members.add(member_changed)
    return Part("studios", routes=api.routes, commands=commands)
