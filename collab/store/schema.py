"""Schema version: upgrade with Alembic, and refuse to serve an out-of-date database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from collab.store.db import normalize_url

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
FIX_COMMAND = "collab db upgrade"


class SchemaOutOfDate(RuntimeError):
    pass


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking: run from the CLI or a thread, never on the event loop."""
    command.upgrade(alembic_config(database_url), revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def ensure_current(engine: AsyncEngine) -> None:
    current = await current_revision(engine)
    head = head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at revision {current or 'none (empty database)'}, this server needs {head}; "
            f"run `{FIX_COMMAND}` (with the same --database-url / COLLAB_DATABASE_URL) and start again"
        )
