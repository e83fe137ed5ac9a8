"""A group's notes: a lesson document (the same y-websocket documents as studios) whose home is the
group (collab/docs/homes.py). It is made the first time anyone of the group opens it, from the guiding
questions, so an idle group costs nothing; who may read and edit it is the policy's `group.notes.read`
and `group.notes`, asked of the group as it stands when the document is opened."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collab.auth.actor import Actor
from collab.docs.homes import Home
from collab.docs.records import LessonDoc
from collab.docs.service import create_in_home
from collab.docs.template import group_notes
from collab.policy import GroupAccess
from sessions import scheduling
from sessions.groups.formation import lock_group
from sessions.groups.records import ActivityGroup, GroupMember
from sessions.groups.rules import GroupPhase
from sessions.records import Activity

HOME = "group"  # lesson_docs.home of a group's notes; lesson_docs.home_id is the group's id


async def open_notes(db: AsyncSession, view, phase: GroupPhase, group_id: int, created_by: int) -> int:
    """The group's notes document, made now if nobody made it yet (two first askers on two nodes make
    one: the group's row is held while it is made). Commits."""
    await lock_group(db, group_id)
    group = (await db.execute(select(ActivityGroup).where(ActivityGroup.id == group_id))).scalar_one()
    if group.doc_id is not None:
        await db.commit()
        return group.doc_id
    title = f"{group.name}：{view.title}"[:200]
    doc = await create_in_home(db, HOME, group_id, title, created_by,
                               group_notes(title, phase.plan.questions), commit=False)
    await db.execute(update(ActivityGroup).where(ActivityGroup.id == group_id).values(doc_id=doc.id))
    await db.commit()
    return doc.id


async def home(db: AsyncSession, doc: LessonDoc, actor: Actor | None) -> Home | None:
    """The home of a group's notes, for the document's sockets and routes: the group, and the actor's place."""
    group = await db.get(ActivityGroup, doc.home_id) if doc.home_id is not None else None
    activity = None if group is None else await db.get(Activity, group.activity_id)
    if activity is None:
        return None
    acc = await scheduling.access(db, activity, actor)
    member = actor is not None and (await db.execute(select(GroupMember.group_id).where(
        GroupMember.activity_id == group.activity_id, GroupMember.phase == group.phase,
        GroupMember.user_id == actor.user_id))).scalar() == group.id
    running = activity.state == "live" and activity.current_phase == group.phase
    return Home(GroupAccess(acc, member=member, running=running), read="group.notes.read", edit="group.notes",
                manage="group.notes.manage")
