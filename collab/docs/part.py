"""Lesson-prep documents as a node installs them: the rooms of open documents, `/ws/docs`, the routes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import WebSocketRoute

from collab.docs import api, homes
from collab.docs.endpoint import doc_socket
from collab.docs.records import LessonDoc
from collab.docs.rooms import DocRooms
from collab.parts import Part
from collab.services import Services
from collab.studios.hooks import REMOVED, still_in


def install(services: Services) -> Part:
    settings = services.settings
    rooms = services.provide(DocRooms(services.sessionmaker, services.hub, settings.node_id,
                                      settings.doc_idle_seconds))

    async def member_changed(db: AsyncSession, studio_id: int, user_id: int) -> None:
        # Removed from the studio (or left it): their document sockets close (4003) and their `doc:`
        # subscriptions end, on every node. Access is checked at connect, so only open ones need this.
        if await still_in(db, studio_id, user_id):
            return
        docs = select(LessonDoc.id).where(LessonDoc.studio_id == studio_id, LessonDoc.home == homes.STUDIO)
        for doc_id in (await db.execute(docs)).scalars():
            await rooms.evicted(doc_id, user_id)
            await services.hub.kick(f"doc:{doc_id}", user_id, REMOVED)

    services.studio_members.add(member_changed)
    return Part("docs", routes=[*api.routes, WebSocketRoute("/ws/docs/{doc_id}", doc_socket)],
                start=rooms.start, stop=rooms.stop)
