"""Alembic environment: runs migrations through the async engine for SQLite and PostgreSQL alike."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import collab.docs.records  # noqa: F401  (registers the tables on Base.metadata)
import collab.studios.records  # noqa: F401
import sessions.records  # noqa: F401
import sessions.groups.records  # noqa: F401
from collab.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTER
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(_run_async())
