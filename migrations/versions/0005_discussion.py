"""discussion: chat messages, mutes, slow mode and pre-moderation

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("slow_mode", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("premoderation", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chat_activity", "chat_messages", ["activity_id", "id"])
    op.create_index("ix_chat_author", "chat_messages", ["activity_id", "user_id", "created_at"])
    op.create_table(
        "activity_mutes",
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("activity_mutes")
    op.drop_index("ix_chat_author", table_name="chat_messages")
    op.drop_index("ix_chat_activity", table_name="chat_messages")
    op.drop_table("chat_messages")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("premoderation")
        batch.drop_column("slow_mode")
