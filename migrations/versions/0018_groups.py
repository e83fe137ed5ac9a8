"""breakout groups: a group phase's plan, the groups, their members, chats and the organizer's list

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activity_phases") as batch:
        batch.add_column(sa.Column("groups", sa.JSON(), nullable=True))
    op.create_table(
        "activity_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("doc_id", sa.Integer(), sa.ForeignKey("lesson_docs.id", ondelete="SET NULL"), nullable=True),
        sa.Column("rapporteur_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("activity_id", "phase", "number", name="uq_activity_group_number"),
    )
    op.create_table(
        "group_members",
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("phase", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("activity_groups.id", ondelete="CASCADE"), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_group_members_group", "group_members", ["group_id"])
    op.create_table(
        "group_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("activity_groups.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_group_messages_group", "group_messages", ["group_id", "id"])
    op.create_index("ix_group_messages_activity", "group_messages", ["activity_id", "id"])
    op.create_table(
        "group_roster",
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("phase", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("group_name", sa.String(100), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("group_roster")
    op.drop_index("ix_group_messages_activity", "group_messages")
    op.drop_index("ix_group_messages_group", "group_messages")
    op.drop_table("group_messages")
    op.drop_index("ix_group_members_group", "group_members")
    op.drop_table("group_members")
    op.drop_table("activity_groups")
    with op.batch_alter_table("activity_phases") as batch:
        batch.drop_column("groups")
