"""The embedded demo: what the README's first command seeds, and that seeding twice adds nothing."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from collab import demo
from collab.settings import Settings
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker
from collab.store.models import User
from collab.docs.records import LessonDoc
from collab.studios.records import Studio, StudioMember
from sessions.records import Activity


async def test_demo_seeds_accounts_an_activity_and_a_studio_once():
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'demo.db'}"
    await asyncio.to_thread(schema.upgrade, url)
    settings = Settings(database_url=url, secret="x" * 40)
    created = await demo.seed(settings)
    assert created == ["admin", "organizer", "expert", "teacher1", "teacher2"]
    assert await demo.seed(settings) == []
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        assert (await db.execute(select(func.count()).select_from(User))).scalar_one() == 5
        [activity] = (await db.execute(select(Activity))).scalars().all()
        assert activity.state == "scheduled" and activity.level == "national"
        assert [p.kind for p in activity.phases] == ["lesson_display", "discussion", "expert_guidance",
                                                     "online_interaction"]
        assert [s.role for s in activity.staff] == ["expert"]
        [studio] = (await db.execute(select(Studio))).scalars().all()
        roles = dict((await db.execute(select(User.username, StudioMember.role).join(
            StudioMember, StudioMember.user_id == User.id))).all())
        assert roles == {"teacher1": "leader", "teacher2": "member", "expert": "observer"}
        [doc] = (await db.execute(select(LessonDoc))).scalars().all()
        assert doc.studio_id == studio.id and doc.snapshot  # the lesson-plan template
    await engine.dispose()
