"""document homes: a lesson document belongs to a studio or to something another part registers
(collab.docs.homes), such as an activity's breakout group

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lesson_docs") as batch:
        batch.add_column(sa.Column("home", sa.String(32), nullable=False, server_default="studio"))
        batch.add_column(sa.Column("home_id", sa.Integer(), nullable=True))
        batch.alter_column("studio_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # documents of other homes have no studio to belong to before this revision: they go, with what
    # hangs on them (spelled out: SQLite runs migrations without foreign-key actions)
    homeless = "SELECT id FROM lesson_docs WHERE studio_id IS NULL"
    op.execute(f"UPDATE activity_groups SET doc_id = NULL WHERE doc_id IN ({homeless})")
    for table in ("doc_comments", "doc_versions", "doc_updates"):
        op.execute(f"DELETE FROM {table} WHERE doc_id IN ({homeless})")
    op.execute("DELETE FROM lesson_docs WHERE studio_id IS NULL")
    with op.batch_alter_table("lesson_docs") as batch:
        batch.alter_column("studio_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("home_id")
        batch.drop_column("home")
