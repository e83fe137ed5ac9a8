"""recordings of the activity's program beside those of single publications

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activity_recordings") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="publication"))


def downgrade() -> None:
    with op.batch_alter_table("activity_recordings") as batch:
        batch.drop_column("kind")
