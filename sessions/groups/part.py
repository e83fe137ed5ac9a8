"""Breakout groups as a node installs them: the `group.*` commands, the node's copy of who is in which
group, the group home of notes documents, and the routes of the organizer's list and of the record. The
group channels are resolved by the room's namespace (`activity:<id>:group:<gid>`, sessions/live.py);
a group's small stage is the stage's (sessions/stage/group_stage.py)."""

from __future__ import annotations

from collab.docs import homes
from collab.parts import Part
from collab.realtime.dispatch import Registry
from collab.services import Services
from sessions.groups import commands, notes, record_api, roster_api
from sessions.groups.book import GroupBook


def install(services: Services) -> Part:
    book = services.provide(GroupBook(services.hub))
    homes.register(notes.HOME, notes.home)
    registry = Registry()
    commands.register(registry)

    async def start() -> None:
        await book.start()

    return Part("groups", routes=[*roster_api.routes, *record_api.routes], commands=registry, start=start)
