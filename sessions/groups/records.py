"""Tables of record for breakout groups. Every change here ships with an Alembic migration.

A group belongs to one group phase of one activity (`phase` is the phase's position). A teacher is in
at most one group per phase: the primary key of `group_members` says so, which is what makes a late
joiner's assignment on two nodes at once safe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

import collab.docs.records  # noqa: F401  (a group's notes are a lesson document)
import sessions.records  # noqa: F401  (groups belong to activities)
from collab.store.models import Base, utcnow


class ActivityGroup(Base):
    __tablename__ = "activity_groups"
    __table_args__ = (UniqueConstraint("activity_id", "phase", "number", name="uq_activity_group_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    phase: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … within the phase
    name: Mapped[str] = mapped_column(String(100))
    doc_id: Mapped[int | None] = mapped_column(ForeignKey("lesson_docs.id", ondelete="SET NULL"))  # notes, once opened
    rapporteur_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_group", "group_id"),)

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    phase: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("activity_groups.id", ondelete="CASCADE"))
    how: Mapped[str] = mapped_column(String(16))  # assigned, late, chosen, moved, listed
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GroupMessage(Base):
    """A message in a group's chat (recorded before it is published, like the main discussion)."""

    __tablename__ = "group_messages"
    __table_args__ = (Index("ix_group_messages_group", "group_id", "id"),
                      Index("ix_group_messages_activity", "activity_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("activity_groups.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="visible")  # visible, hidden
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GroupRosterEntry(Base):
    """The organizer's list for a phase whose plan assigns from a list: who goes in which named group."""

    __tablename__ = "group_roster"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    phase: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(100))
    line: Mapped[int] = mapped_column(Integer)  # where it was in the uploaded list, to give it back in order
