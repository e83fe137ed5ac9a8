"""Tables of record for lesson-prep documents. Every change here ships with an Alembic migration.

A document's content is `snapshot` (a Yjs update holding everything up to `snapshot_upto`) followed by
the rows of `doc_updates` with larger ids. Compaction folds rows into the snapshot; the two together
always equal the whole document, whichever node compacts and whenever it stops.

A document belongs to a **home** (`home`, `home_id`): a studio (`home = "studio"`, and `studio_id` says
which, for the studio's cascade and listing) or something another part registers in
`collab.docs.homes`, such as an activity's breakout group (`home_id` is then that group's id; such a
document has no studio)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from collab.store.models import Base, utcnow


class LessonDoc(Base):
    __tablename__ = "lesson_docs"
    __table_args__ = (Index("ix_lesson_docs_studio", "studio_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    studio_id: Mapped[int | None] = mapped_column(ForeignKey("studios.id", ondelete="CASCADE"))  # studio homes
    home: Mapped[str] = mapped_column(String(32), default="studio", server_default="studio")  # collab.docs.homes
    home_id: Mapped[int | None] = mapped_column(Integer)  # the owner in a home other than a studio
    title: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    snapshot: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    snapshot_upto: Mapped[int] = mapped_column(Integer, default=0)  # the last doc_updates id folded in
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocUpdate(Base):
    """One stored Yjs update (often several clients' edits merged by a group commit)."""

    __tablename__ = "doc_updates"
    __table_args__ = (Index("ix_doc_updates_doc", "doc_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("lesson_docs.id", ondelete="CASCADE"))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocVersion(Base):
    """A named version: the whole document state when it was saved."""

    __tablename__ = "doc_versions"
    __table_args__ = (Index("ix_doc_versions_doc", "doc_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("lesson_docs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocComment(Base):
    """A comment on a range of the text, or a reply in its thread (parent_id). The range is kept as two
    Yjs relative positions, so it moves with the edits around it."""

    __tablename__ = "doc_comments"
    __table_args__ = (Index("ix_doc_comments_doc", "doc_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("lesson_docs.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("doc_comments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    anchor: Mapped[dict | None] = mapped_column(JSON)  # {"start": relpos, "end": relpos}; threads only
    quote: Mapped[str] = mapped_column(Text, default="")  # the text commented on, when it was
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocEdit(Base):
    """How many updates each person's sockets sent a document, counted by the room that stored them
    (one statement per person per group commit). The sync protocol's updates say nothing of their
    author: this is the only record of who edited, in how many steps, and when last."""

    __tablename__ = "doc_edits"

    doc_id: Mapped[int] = mapped_column(ForeignKey("lesson_docs.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    edits: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
