"""The database side: users, a studio they all belong to, empty documents, and what a document costs
in storage (read straight from the tables with the server's own `collab.docs.store`)."""

from __future__ import annotations

import secrets

from pycrdt import Doc, Text
from sqlalchemy import func, select, text

from benchmarks.docs.traces import CONTENT
from collab.docs import store
from collab.docs.records import DocUpdate, LessonDoc
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import User
from collab.studios.records import Studio, StudioMember


async def seed_studio(url: str, n_users: int) -> tuple[int, list[tuple[int, str]]]:
    """A studio whose first user leads it and the others are members (all may edit): (studio id,
    [(user id, display name)])."""
    engine = make_engine(url)
    tag = secrets.token_hex(3)
    try:
        async with make_sessionmaker(engine)() as db:
            users = [User(username=f"bench_doc_{tag}_{k}", display_name=f"Bench writer {k}", role="teacher")
                     for k in range(n_users)]
            db.add_all(users)
            await db.flush()
            studio = Studio(name=f"Docs benchmark {tag}", leader_id=users[0].id, subject="math", grade="8",
                            region="bench", description="")
            db.add(studio)
            await db.flush()
            for k, u in enumerate(users):
                db.add(StudioMember(studio_id=studio.id, user_id=u.id, role="leader" if k == 0 else "member",
                                    status="active", note=""))
            await db.commit()
            return studio.id, [(u.id, u.display_name) for u in users]
    finally:
        await engine.dispose()


async def new_doc(url: str, studio_id: int, by: int, title: str) -> int:
    """An empty document (snapshot b"": no template), so its final text must be the trace's exactly."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            doc = LessonDoc(studio_id=studio_id, title=title, created_by=by, snapshot=b"", snapshot_upto=0)
            db.add(doc)
            await db.commit()
            return doc.id
    finally:
        await engine.dispose()


async def rows_written(url: str) -> int:
    """doc_updates ids handed out so far (each group commit is one row)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            seq = (await conn.execute(text("SELECT pg_get_serial_sequence('doc_updates', 'id')"))).scalar_one()
            last, called = (await conn.execute(text(f"SELECT last_value, is_called FROM {seq}"))).one()
            return int(last) if called else 0
    finally:
        await engine.dispose()


async def storage(url: str, doc_id: int) -> dict:
    """Stored bytes of the document (snapshot + update rows), before and after a forced compaction,
    and the text the stored document holds afterwards."""
    engine = make_engine(url)
    try:
        sm = make_sessionmaker(engine)
        async with sm() as db:
            rows = (await db.execute(select(func.count()).select_from(DocUpdate)
                                     .where(DocUpdate.doc_id == doc_id))).scalar_one()
            snap = (await db.execute(select(func.length(LessonDoc.snapshot))
                                     .where(LessonDoc.id == doc_id))).scalar_one()
            before = await store.stored_bytes(db, doc_id)
        async with sm() as db:
            compacted = await store.compact(db, doc_id)
        async with sm() as db:
            after = await store.stored_bytes(db, doc_id)
            stored = await store.load(db, doc_id)
        doc = Doc()
        if stored.snapshot:
            doc.apply_update(stored.snapshot)
        for u in stored.updates:
            doc.apply_update(u)
        return {"rows_before": int(rows), "snapshot_bytes_before": int(snap or 0), "bytes_before": before,
                "compact_result": list(compacted) if compacted else None, "bytes_after": after,
                "rows_after": len(stored.updates), "stored_text": str(doc.get(CONTENT, type=Text))}
    finally:
        await engine.dispose()
