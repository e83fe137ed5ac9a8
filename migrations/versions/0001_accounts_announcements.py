"""accounts and announcements

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), unique=True),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("school", sa.String(200), nullable=False, server_default=""),
        sa.Column("region", sa.String(100), nullable=False, server_default=""),
        sa.Column("role", sa.String(16), nullable=False, server_default="teacher"),
        sa.Column("idp_issuer", sa.String(255)),
        sa.Column("idp_subject", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("idp_issuer", "idp_subject", name="uq_users_idp"),
    )
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_announcements_channel", "announcements", ["channel"])


def downgrade() -> None:
    op.drop_index("ix_announcements_channel", table_name="announcements")
    op.drop_table("announcements")
    op.drop_table("users")
