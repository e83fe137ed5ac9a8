"""Migrations: a fresh database upgrades to head; a server refuses an out-of-date schema and says why."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import harness
from collab.store import schema
from collab.store.db import make_engine


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'old.db'}"
    else:
        url = await harness.create_pg_database()
        yield url
        await harness.drop_pg_database(url)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=harness.ROOT, capture_output=True,
                          text=True, timeout=60)


async def test_server_refuses_an_old_schema_and_names_the_fix(empty_database):
    port = harness.free_port()
    proc = await asyncio.to_thread(run_cli, "serve", "--port", str(port), "--internal-port", "0",
                                   "--database-url", empty_database,
                                   "--secret", harness.SECRET)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "collab db upgrade" in out and "schema" in out

    upgraded = await asyncio.to_thread(run_cli, "db", "upgrade", "--database-url", empty_database)
    assert upgraded.returncode == 0, upgraded.stderr
    engine = make_engine(empty_database)
    assert await schema.current_revision(engine) == schema.head_revision()
    await engine.dispose()
    server = harness.Server(empty_database).start()  # now it starts
    server.cleanup()


async def test_downgraded_database_is_refused(empty_database):
    await asyncio.to_thread(schema.upgrade, empty_database)
    from alembic import command

    await asyncio.to_thread(command.downgrade, schema.alembic_config(empty_database), "base")
    engine = make_engine(empty_database)
    with pytest.raises(schema.SchemaOutOfDate, match="collab db upgrade"):
        await schema.ensure_current(engine)
    await engine.dispose()


async def test_the_migrations_build_exactly_the_tables_the_code_uses(empty_database):
    """A model changed without a migration (or the reverse) fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import collab.docs.records  # noqa: F401
    import collab.studios.records  # noqa: F401
    import sessions.groups.records  # noqa: F401
    import sessions.records  # noqa: F401
    from collab.store.models import Base

    await asyncio.to_thread(schema.upgrade, empty_database)
    engine = make_engine(empty_database)

    def diff(conn):
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        return [d for d in compare_metadata(ctx, Base.metadata)
                if not (isinstance(d, tuple) and d[0] in ("add_table", "remove_table") and d[1].name == "alembic_version")]

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []
