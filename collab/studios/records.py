"""Tables of record for studios. Every change here ships with an Alembic migration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from collab.store.models import Base, utcnow


class Studio(Base):
    __tablename__ = "studios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(50), default="")
    grade: Mapped[str] = mapped_column(String(50), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StudioMember(Base):
    """A member (status active) or an applicant (status pending) with the role they hold or will hold."""

    __tablename__ = "studio_members"

    studio_id: Mapped[int] = mapped_column(ForeignKey("studios.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))  # leader, co_leader, member, observer (collab.policy)
    status: Mapped[str] = mapped_column(String(16))  # active, pending
    note: Mapped[str] = mapped_column(String(500), default="")  # an applicant's few words
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StudioPost(Base):
    """The studio channel's record: announcements from those who run it, and members' discussion."""

    __tablename__ = "studio_posts"
    __table_args__ = (Index("ix_studio_posts_studio", "studio_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    studio_id: Mapped[int] = mapped_column(ForeignKey("studios.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # announcement, discussion
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Resource(Base):
    """A file in a studio's library. The bytes live on disk under the resources directory, named by
    their SHA-256; these are the facts about them."""

    __tablename__ = "resources"
    __table_args__ = (Index("ix_resources_studio", "studio_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    studio_id: Mapped[int] = mapped_column(ForeignKey("studios.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # lesson_plan, slides, worksheet, video, other
    tags: Mapped[str] = mapped_column(String(500), default="")  # "|tag|tag|": exact tag match by LIKE
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
