"""Fixtures shared by the suite. Databases come in two kinds, SQLite and PostgreSQL, and every
storage-touching test runs on both through the `database_url` fixture."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
import redis.asyncio as aioredis

import harness
from collab.auth.accounts import create_user
from collab.store import schema
from collab.store.db import make_engine, make_sessionmaker


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def database_url(request):
    """A migrated, empty database of each kind, fresh for each test module."""
    if request.param == "sqlite":
        d = tempfile.mkdtemp(prefix="collab-db-")
        url = f"sqlite+aiosqlite:///{Path(d) / 'test.db'}"
    else:
        url = await harness.create_pg_database()
    await asyncio.to_thread(schema.upgrade, url)
    yield url
    if request.param == "postgres":
        await harness.drop_pg_database(url)


@pytest.fixture(scope="module")
async def users(database_url):
    """Accounts of every platform role in the module's database: {role: (id, token)}."""
    engine = make_engine(database_url)
    out = {}
    async with make_sessionmaker(engine)() as db:
        for username, role in [("admin1", "admin"), ("org1", "organizer"), ("expert1", "expert"),
                               ("teacher1", "teacher"), ("teacher2", "teacher")]:
            u = await create_user(db, username=username, password="password-" + username,
                                  display_name=username.title(), role=role)
            out[username] = (u.id, harness.token_for(u.id, role, u.display_name))
        await db.commit()
    await engine.dispose()
    return out


@pytest.fixture(scope="session")
async def redis_url():
    client = aioredis.from_url(harness.REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # the test command starts Redis; running pytest bare needs one too
        pytest.fail(f"no Redis at {harness.REDIS_URL} ({exc}); run scripts/test, which starts one")
    await client.flushdb()
    await client.aclose()
    return harness.REDIS_URL
