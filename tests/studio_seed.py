"""A studio with one member of every role, written straight to a database, for tests that exercise
documents and the library before (or without) going through the studio API."""

from __future__ import annotations

import secrets

import harness
from collab.auth.accounts import create_user
from collab.docs.records import LessonDoc
from collab.docs.template import lesson_plan
from collab.store.db import make_engine, make_sessionmaker
from collab.studios.records import Studio, StudioMember

ROLES = ("leader", "co_leader", "member", "observer")


async def seed_studio(url: str) -> dict:
    """{"studio": id, "users": {name: (id, token)}} with users leader, co_leader, member, observer,
    outsider (no role)."""
    engine = make_engine(url)
    tag = secrets.token_hex(3)
    users = {}
    async with make_sessionmaker(engine)() as db:
        for name in (*ROLES, "outsider"):
            u = await create_user(db, username=f"{name}_{tag}", password="password-" + name,
                                  display_name=name.title(), role="teacher")
            users[name] = (u.id, harness.token_for(u.id, "teacher", u.display_name))
        studio = Studio(name=f"Studio {tag}", leader_id=users["leader"][0], subject="math", grade="8",
                        region="Zhejiang", description="")
        db.add(studio)
        await db.flush()
        for role in ROLES:
            db.add(StudioMember(studio_id=studio.id, user_id=users[role][0], role=role, status="active", note=""))
        await db.commit()
        out = {"studio": studio.id, "users": users}
    await engine.dispose()
    return out


async def new_doc(url: str, studio_id: int, by: int, title: str = "函数的概念", template: bool = True) -> int:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        doc = LessonDoc(studio_id=studio_id, title=title, created_by=by,
                        snapshot=lesson_plan(title) if template else b"", snapshot_upto=0)
        db.add(doc)
        await db.commit()
        doc_id = doc.id
    await engine.dispose()
    return doc_id
