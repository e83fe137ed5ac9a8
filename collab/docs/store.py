"""A document's storage: a snapshot plus the updates appended since, compacted as they pile up.

Yjs updates are idempotent and commute, which makes every step here safe to repeat or race:
- `load` reads the update rows before the snapshot. A compaction that lands in between folds rows into
  the snapshot that were already read: they apply twice, which changes nothing.
- `compact` deletes exactly the rows it folded, by id, never a range, so a row committed late with a
  smaller id (PostgreSQL hands out ids before commit) is folded next time instead of being lost.
- Two nodes compacting at once: the document row is locked, so the second one folds what is left.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone

from pycrdt import Doc
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from collab.docs.records import DocEdit, DocUpdate, LessonDoc

COMPACT_ROWS = 200  # updates since the snapshot that trigger a compaction
COMPACT_MIN_BYTES = 64 * 1024  # ... or bytes since, once they also exceed the snapshot's size


@dataclass(frozen=True, slots=True)
class Stored:
    snapshot: bytes
    updates: list[bytes]

    def updates_bytes(self) -> int:
        return sum(len(u) for u in self.updates)


async def load(db: AsyncSession, doc_id: int) -> Stored | None:
    rows = list((await db.execute(select(DocUpdate.data).where(DocUpdate.doc_id == doc_id)
                                  .order_by(DocUpdate.id))).scalars())
    snapshot = (await db.execute(select(LessonDoc.snapshot).where(LessonDoc.id == doc_id))).scalar_one_or_none()
    if snapshot is None:
        return None
    return Stored(snapshot, rows)


async def append(db: AsyncSession, doc_id: int, data: bytes, touch: bool = True,
                 edits: dict[int, int] | None = None) -> None:
    """Store one update; `touch` also moves the document's "last edited" (callers do it at most every
    few seconds: it is a second statement per keystroke otherwise). `edits`: how many of the updates
    merged into it each person sent, added to their count in the same transaction."""
    now = datetime.now(timezone.utc)
    await db.execute(insert(DocUpdate).values(doc_id=doc_id, data=data, created_at=now))
    if touch:
        await db.execute(update(LessonDoc).where(LessonDoc.id == doc_id).values(updated_at=now))
    for user_id, n in (edits or {}).items():
        stmt = _upsert(db).values(doc_id=doc_id, user_id=user_id, edits=n, last_at=now)
        await db.execute(stmt.on_conflict_do_update(index_elements=["doc_id", "user_id"],
                                                    set_={"edits": DocEdit.edits + n, "last_at": now}))
    await db.commit()


def _upsert(db: AsyncSession):
    """An INSERT into doc_edits that knows ON CONFLICT, in the dialect `db` speaks."""
    if db.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(DocEdit)


def merge_state(snapshot: bytes, updates: list[bytes]) -> bytes:
    """The whole document as one update, through a Doc so deleted content is garbage-collected."""
    doc = Doc()
    if snapshot:
        doc.apply_update(snapshot)
    for u in updates:
        doc.apply_update(u)
    return doc.get_update()


async def stored_bytes(db: AsyncSession, doc_id: int) -> int:
    snap = (await db.execute(select(func.length(LessonDoc.snapshot)).where(LessonDoc.id == doc_id))).scalar_one()
    rows = (await db.execute(select(func.coalesce(func.sum(func.length(DocUpdate.data)), 0))
                             .where(DocUpdate.doc_id == doc_id))).scalar_one()
    return int(snap or 0) + int(rows)


def needs_compaction(rows: int, rows_bytes: int, snapshot_bytes: int) -> bool:
    return rows >= COMPACT_ROWS or rows_bytes >= max(COMPACT_MIN_BYTES, snapshot_bytes)


async def compact(db: AsyncSession, doc_id: int) -> tuple[int, int] | None:
    """Fold the update rows into the snapshot. Returns (stored bytes before, after), or None when the
    document is gone."""
    doc = (await db.execute(select(LessonDoc).where(LessonDoc.id == doc_id).with_for_update())).scalar_one_or_none()
    if doc is None:
        await db.rollback()
        return None
    rows = (await db.execute(select(DocUpdate.id, DocUpdate.data).where(DocUpdate.doc_id == doc_id)
                             .order_by(DocUpdate.id))).all()
    before = len(doc.snapshot) + sum(len(d) for _, d in rows)
    if not rows:
        await db.rollback()
        return before, before
    merged = await asyncio.to_thread(merge_state, doc.snapshot, [d for _, d in rows])
    ids = [i for i, _ in rows]
    doc.snapshot, doc.snapshot_upto = merged, max(ids)
    for i in range(0, len(ids), 500):
        await db.execute(delete(DocUpdate).where(DocUpdate.id.in_(ids[i:i + 500])))
    await db.commit()
    return before, len(merged)
