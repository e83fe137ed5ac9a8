"""attendance intervals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attendance_intervals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("node_id", sa.String(100), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_attendance_activity_user", "attendance_intervals", ["activity_id", "user_id"])
    op.create_index("ix_attendance_open", "attendance_intervals", ["node_id", "left_at"])


def downgrade() -> None:
    op.drop_index("ix_attendance_open", table_name="attendance_intervals")
    op.drop_index("ix_attendance_activity_user", table_name="attendance_intervals")
    op.drop_table("attendance_intervals")
