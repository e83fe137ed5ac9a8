"""Migration 0012 on SQLite and PostgreSQL: activities scheduled before time zones existed get the
deployment's zone (COLLAB_TIME_ZONE, else Asia/Shanghai), and a downgrade takes the column away again."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

import harness
from collab.store import schema
from collab.store.db import make_engine


@pytest.fixture(params=["sqlite", "postgres"])
async def old_database(request):
    """A database at 0011 holding one activity."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'old.db'}"
    else:
        url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url, "0011")
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO users (id, username, display_name, school, region, role, created_at) "
                                   "VALUES (1, 'org', '组织者', '', '', 'organizer', :now)"), {"now": now})
        await conn.execute(sa.text(
            "INSERT INTO activities (id, title, description, subject, grade, level, region, starts_at, ends_at, "
            "capacity, visibility, registration, state, organizer_id, slow_mode, premoderation, qa_approval, "
            "created_at, updated_at) VALUES (1, '旧活动', '', '', '', 'school', '', :now, :now, 10, 'public', "
            "'open', 'ended', 1, 0, false, false, :now, :now)"), {"now": now})
    await engine.dispose()
    yield url
    if request.param == "postgres":
        await harness.drop_pg_database(url)


async def zones(url: str) -> list[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        out = list((await conn.execute(sa.text("SELECT time_zone FROM activities"))).scalars())
    await engine.dispose()
    return out


@pytest.mark.parametrize("deployment_zone", [None, "Asia/Urumqi"])
async def test_old_activities_get_the_deployments_zone(old_database, deployment_zone, monkeypatch):
    if deployment_zone:
        monkeypatch.setenv("COLLAB_TIME_ZONE", deployment_zone)
    else:
        monkeypatch.delenv("COLLAB_TIME_ZONE", raising=False)
    await asyncio.to_thread(schema.upgrade, old_database)
    assert await zones(old_database) == [deployment_zone or "Asia/Shanghai"]
    engine = make_engine(old_database)
    assert await schema.current_revision(engine) == schema.head_revision()
    await engine.dispose()

    await asyncio.to_thread(command.downgrade, schema.alembic_config(old_database), "0011")
    with pytest.raises(sa.exc.DBAPIError):
        await zones(old_database)
