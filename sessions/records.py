"""Tables of record for activities. Every change here ships with an Alembic migration."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

import collab.studios.records  # noqa: F401  (activities may belong to a studio)
from collab.store.models import Base, utcnow

STAFF_ROLES = ("host", "expert", "presenter")


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_starts_at", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(50), default="")
    grade: Mapped[str] = mapped_column(String(50), default="")
    level: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(100), default="")
    time_zone: Mapped[str] = mapped_column(String(64))  # IANA name: its times are shown and exported in it
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    front_row: Mapped[int] = mapped_column(Integer, default=30, server_default="30")  # agenda.DEFAULT_FRONT_ROW
    visibility: Mapped[str] = mapped_column(String(16))
    registration: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="scheduled")  # see sessions.lifecycle
    organizer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    studio_id: Mapped[int | None] = mapped_column(ForeignKey("studios.id", ondelete="SET NULL"), index=True)
    current_phase: Mapped[int | None] = mapped_column(Integer)
    phase_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the attendance was closed and reported (the `attendance.finalized` webhook): set once.
    attendance_finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    slow_mode: Mapped[int] = mapped_column(Integer, default=0)
    premoderation: Mapped[bool] = mapped_column(Boolean, default=False)
    qa_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    phases: Mapped[list["ActivityPhase"]] = relationship(
        order_by="ActivityPhase.position", cascade="all, delete-orphan", lazy="selectin")
    staff: Mapped[list["ActivityStaff"]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class ActivityPhase(Base):
    __tablename__ = "activity_phases"
    __table_args__ = (UniqueConstraint("activity_id", "position", name="uq_activity_phase_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int] = mapped_column(Integer)
    chat: Mapped[bool] = mapped_column(Boolean)
    questions: Mapped[bool] = mapped_column(Boolean)
    hands: Mapped[bool] = mapped_column(Boolean)
    polls: Mapped[bool] = mapped_column(Boolean)
    groups: Mapped[dict | None] = mapped_column(JSON, default=None)  # a group phase's plan (docs/groups.md)


class ActivityStaff(Base):
    """Hosts run the activity, experts moderate and guide, presenters show the lesson example."""

    __tablename__ = "activity_staff"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class Registration(Base):
    __tablename__ = "activity_registrations"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, rejected
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ActivityEvent(Base):
    """The activity's record, in order: phase changes now; chat, questions, polls and moderation as they
    come. Written before it is broadcast; the replay timeline is read from here."""

    __tablename__ = "activity_events"
    __table_args__ = (Index("ix_activity_events_activity", "activity_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AttendanceInterval(Base):
    """One stretch of a teacher's presence in an activity's room on one node (see sessions.attendance)."""

    __tablename__ = "attendance_intervals"
    __table_args__ = (Index("ix_attendance_activity_user", "activity_id", "user_id"),
                      Index("ix_attendance_open", "node_id", "left_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    node_id: Mapped[str] = mapped_column(String(100))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_activity", "activity_id", "id"),
                      Index("ix_chat_author", "activity_id", "user_id", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # visible, held, hidden, deleted
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Mute(Base):
    __tablename__ = "activity_mutes"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: for the whole activity


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_activity", "activity_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending, open, answered, dismissed
    answer: Mapped[str | None] = mapped_column(Text)
    answered_live: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    votes: Mapped[int] = mapped_column(Integer, default=0)  # kept equal to the rows of question_votes
    spotlight: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QuestionVote(Base):
    __tablename__ = "question_votes"

    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Poll(Base):
    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(300))
    options: Mapped[list] = mapped_column(JSON)
    multiple: Mapped[bool] = mapped_column(Boolean)
    anonymous: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))  # open, closed
    results_shown: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PollAnswer(Base):
    """One answer per teacher per poll, changeable until the poll closes."""

    __tablename__ = "poll_answers"

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    choices: Mapped[list] = mapped_column(JSON)


class Hand(Base):
    """A teacher's raised hand: one row per teacher per activity, its latest state."""

    __tablename__ = "hands"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # raised, lowered, called
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Removal(Base):
    """A teacher removed from an activity by a moderator: out of the room until readmitted."""

    __tablename__ = "activity_removals"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    removed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Recording(Base):
    """A recording for the replay: the activity's program (`kind` "program": everyone on stage and the
    shared screen, one MP4, H.264 and AAC), or one stage publication (WebM, VP8 and Opus as viewers got
    them)."""

    __tablename__ = "activity_recordings"
    __table_args__ = (Index("ix_activity_recordings_activity", "activity_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # who was on stage (the organizer, for the program)
    kind: Mapped[str] = mapped_column(String(16), default="publication", server_default="publication")
    file: Mapped[str] = mapped_column(String(200))  # under the recordings directory
    media_type: Mapped[str] = mapped_column(String(50), default="video/webm")
    bytes: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LessonVideo(Base):
    """A recorded lesson example uploaded to an activity, for the presenter to play on the stage."""

    __tablename__ = "lesson_videos"
    __table_args__ = (Index("ix_lesson_videos_activity", "activity_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
