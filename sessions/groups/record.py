"""The record of an activity's breakout groups, as the replay, the exports and the organizer's report
read it: every group phase with its groups, who was in each (and how they came), the rapporteur, how
much each member said in the group's chat, the chat itself, and the size of the notes.

A teacher moved during a phase is listed in the group they ended in (`group_members` keeps one row per
teacher and phase); what they said before the move stays counted in the group they said it in."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.docs import service as doc_service
from collab.docs.records import DocEdit
from collab.spreadsheet import safe_cell
from collab.store.models import User
from sessions.groups.commands import message_json
from sessions.groups.records import ActivityGroup, GroupMember, GroupMessage
from sessions.records import Activity

PAGE = 100  # messages per page of a group's chat

HOW = {"assigned": "分配", "late": "迟到加入", "chosen": "自选", "moved": "调整", "listed": "名单"}  # the CSV's 加入方式


@dataclass
class Member:
    id: int
    username: str
    name: str
    school: str
    how: str
    messages: int = 0  # visible messages in this group's chat
    notes_edits: int | None = None  # updates they sent the group's notes; filled for the organizer's report


@dataclass
class GroupRecord:
    id: int
    phase: int
    number: int
    name: str
    doc_id: int | None
    rapporteur: tuple[int, str] | None
    members: list[Member] = field(default_factory=list)
    messages: int = 0  # visible
    hidden: int = 0
    notes_chars: int | None = None  # filled only for the organizer's report

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "name": self.name, "doc_id": self.doc_id,
                "rapporteur": {"id": self.rapporteur[0], "name": self.rapporteur[1]} if self.rapporteur else None,
                "messages": self.messages, "hidden": self.hidden,
                "members": [{"id": m.id, "name": m.name, "school": m.school, "how": m.how, "messages": m.messages,
                             **({"notes_edits": m.notes_edits} if m.notes_edits is not None else {})}
                            for m in self.members],
                **({"notes_chars": self.notes_chars} if self.notes_chars is not None else {})}


def phase_title(activity: Activity, phase: int) -> str:
    if not 0 <= phase < len(activity.phases):
        return str(phase + 1)
    return activity.phases[phase].title or "分组研讨"


async def groups_of(db: AsyncSession, activity: Activity) -> list[GroupRecord]:
    """Every group of the activity, by phase and number, with its members and the counts of its chat:
    three queries whatever the number of groups."""
    rows = (await db.execute(
        select(ActivityGroup, User.display_name).outerjoin(User, User.id == ActivityGroup.rapporteur_id)
        .where(ActivityGroup.activity_id == activity.id)
        .order_by(ActivityGroup.phase, ActivityGroup.number))).all()
    groups = {g.id: GroupRecord(g.id, g.phase, g.number, g.name, g.doc_id,
                                (g.rapporteur_id, name or "") if g.rapporteur_id is not None else None)
              for g, name in rows}
    if not groups:
        return []
    said: dict[tuple[int, int], int] = {}
    for gid, uid, status, n in (await db.execute(
            select(GroupMessage.group_id, GroupMessage.user_id, GroupMessage.status, func.count())
            .where(GroupMessage.activity_id == activity.id)
            .group_by(GroupMessage.group_id, GroupMessage.user_id, GroupMessage.status))).all():
        if gid not in groups:
            continue
        if status == "visible":
            groups[gid].messages += n
            said[(gid, uid)] = n
        else:
            groups[gid].hidden += n
    for m, u in (await db.execute(
            select(GroupMember, User).join(User, User.id == GroupMember.user_id)
            .where(GroupMember.activity_id == activity.id)
            .order_by(GroupMember.group_id, User.display_name, User.id))).all():
        g = groups.get(m.group_id)
        if g is not None:
            g.members.append(Member(u.id, u.username or "", u.display_name, u.school, m.how,
                                    said.get((g.id, u.id), 0)))
    return list(groups.values())


def by_phase(activity: Activity, groups: list[GroupRecord]) -> list[dict[str, Any]]:
    """The groups as the API gives them: `[{phase, title, groups: [...]}]`, phases in order."""
    out: list[dict[str, Any]] = []
    for g in groups:
        if not out or out[-1]["phase"] != g.phase:
            out.append({"phase": g.phase, "title": phase_title(activity, g.phase), "groups": []})
        out[-1]["groups"].append(g.json())
    return out


async def measure_notes(db: AsyncSession, doc_rooms, groups: list[GroupRecord]) -> None:
    """Each group's notes size in characters, as the notes are now (an open room's copy when this node
    edits them; 0 for a group that never opened its notes), and how many updates each member sent
    them (`doc_edits`, counted by the document's room)."""
    doc_ids = [g.doc_id for g in groups if g.doc_id is not None]
    edits = {(d, u): n for d, u, n in (await db.execute(select(DocEdit.doc_id, DocEdit.user_id, DocEdit.edits)
                                                        .where(DocEdit.doc_id.in_(doc_ids)))).all()}
    for g in groups:
        for m in g.members:
            m.notes_edits = edits.get((g.doc_id, m.id), 0)
        state = await doc_service.current_state(doc_rooms, db, g.doc_id) if g.doc_id is not None else b""
        g.notes_chars = len(doc_service.render(state, "")["text"].strip()) if state else 0  # (a gone one: b"")


async def messages(db: AsyncSession, group_id: int, *, before: int | None, hidden: bool,
                   limit: int = PAGE) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the group's chat, oldest first, ending before message `before` (the latest page when
    None); hidden messages only when `hidden`, flagged by their status. Also the cursor of the page
    before this one (None at the start)."""
    q = (select(GroupMessage, User.display_name).join(User, User.id == GroupMessage.user_id)
         .where(GroupMessage.group_id == group_id))
    if not hidden:
        q = q.where(GroupMessage.status == "visible")
    if before is not None:
        q = q.where(GroupMessage.id < before)
    rows = (await db.execute(q.order_by(GroupMessage.id.desc()).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit][::-1]
    return [message_json(m, n) for m, n in rows], (rows[0][0].id if more and rows else None)


def labels(activity: Activity, groups: list[GroupRecord]) -> dict[int, str]:
    """Each teacher's groups for the attendance report: "分组研讨：第3组", several phases joined by "；"."""
    out: dict[int, list[str]] = {}
    for g in groups:
        for m in g.members:
            out.setdefault(m.id, []).append(f"{phase_title(activity, g.phase)}：{g.name}")
    return {uid: "；".join(names) for uid, names in out.items()}


CSV_HEADERS = ["环节", "组号", "组名", "用户名", "姓名", "学校", "加入方式", "是否汇报人", "发言数"]


def to_csv(activity: Activity, groups: list[GroupRecord]) -> str:
    """Who was in which group, one line a member: UTF-8 with a BOM, so spreadsheet programs read the
    Chinese as such; a cell that would start a formula starts with an apostrophe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for g in groups:
        for m in g.members:
            rapporteur = g.rapporteur is not None and g.rapporteur[0] == m.id
            writer.writerow([safe_cell(phase_title(activity, g.phase)), g.number, safe_cell(g.name), safe_cell(m.username),
                             safe_cell(m.name), safe_cell(m.school), HOW.get(m.how, m.how), "是" if rapporteur else "否",
                             m.messages])
    return out.getvalue()
