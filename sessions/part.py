"""Live activities as a node installs them: the activity routes, the room's `/ws` commands and its
channel namespace, the node's room cache, attendance recorded from presence, and what studios tell
about their members."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.parts import Part
from collab.realtime.dispatch import Registry
from collab.services import Services
from sessions import api, chat, hands, live, polls, qa, reactions
from sessions.attendance_final import Finalizer
from sessions.attendance_recorder import AttendanceRecorder
from sessions.records import Activity
from sessions.room_cache import RoomCache


def install(services: Services) -> Part:
    hub = services.hub
    rooms = services.provide(RoomCache(hub))
    attendance = services.provide(AttendanceRecorder(services.sessionmaker, services.settings.node_id))
    finalizer = services.provide(Finalizer(services))  # attendance.finalized, once per activity
    hub.on_user_presence("activity", attendance.hook)  # minutes for credit, from who is in the room
    hub.presence_feed.feed("activity")  # the room's online count, pushed (live.py's snapshot has the first)

    async def member_changed(db: AsyncSession, studio_id: int, user_id: int) -> None:
        # A studio's activities admit its members: their standing there changed on every node.
        for activity_id in (await db.execute(select(Activity.id).where(Activity.studio_id == studio_id))).scalars():
            await rooms.changed(activity_id, user_id)

    services.studio_members.add(member_changed)

    commands = Registry()
    for module in (live, chat, qa, polls, hands, reactions):
        module.register(commands)

    async def start() -> None:
        await attendance.start()
        await rooms.start()
        await finalizer.start()

    async def stop() -> None:
        await finalizer.stop()
        await attendance.stop()

    return Part("sessions", routes=api.routes, commands=commands, start=start, stop=stop)
