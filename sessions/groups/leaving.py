"""A teacher who may no longer be in the room leaves their groups with it (sessions.chat's removal,
sessions.api's withdrawn registration call this)."""

from __future__ import annotations

from sqlalchemy import select

from collab.docs.rooms import DocRooms
from sessions.groups.records import ActivityGroup, GroupMember
from sessions.room import channel_of, group_channel_of


async def shut_out(services, activity_id: int, user_id: int, reason: str) -> None:
    """A teacher who may no longer be in the room (removed by a moderator, registration withdrawn) leaves
    it and their groups with it: their subscriptions to the room's and the groups' channels end and their
    sockets on the groups' notes close, on every node. Coming back, the policy keeps them out of all."""
    await services.hub.kick(channel_of(activity_id), user_id, reason)
    async with services.sessionmaker() as db:
        rows = (await db.execute(select(ActivityGroup.id, ActivityGroup.doc_id)
                                 .join(GroupMember, GroupMember.group_id == ActivityGroup.id)
                                 .where(GroupMember.activity_id == activity_id, GroupMember.user_id == user_id))).all()
    for group_id, doc_id in rows:
        await out_of(services, activity_id, group_id, doc_id, user_id, reason, "removed_from_activity")


async def out_of(services, activity_id: int, group_id: int, doc_id: int | None, user_id: int, reason: str,
                 notes_reason: str) -> None:
    """On every node: `user_id`'s subscription to the group's channel ends (`reason`, in the
    `unsubscribed` push) and their sockets on its notes close (4003 `notes_reason`)."""
    await services.hub.kick(group_channel_of(activity_id, group_id), user_id, reason)
    if doc_id is not None:
        await services.get(DocRooms).evicted(doc_id, user_id, notes_reason)
