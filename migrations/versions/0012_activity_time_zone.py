"""each activity's time zone (an IANA name): its times are shown and exported in it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

from collab.settings import Settings, from_env

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Activities scheduled before zones existed were meant in the deployment's zone (COLLAB_TIME_ZONE,
    # else Asia/Shanghai); new ones get it from scheduling, so the column keeps no server default.
    zone = Settings().with_overrides(**from_env()).time_zone
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=False, server_default=zone))
    with op.batch_alter_table("activities") as batch:
        batch.alter_column("time_zone", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("time_zone")
