"""studios, their resource library and lesson-prep documents; activities a studio schedules

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "studios",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("leader_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("subject", sa.String(50), nullable=False),
        sa.Column("grade", sa.String(50), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _at(),
    )
    op.create_table(
        "studio_members",
        sa.Column("studio_id", sa.Integer(), sa.ForeignKey("studios.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        _at("joined_at"),
    )
    op.create_index("ix_studio_members_user_id", "studio_members", ["user_id"])
    op.create_table(
        "studio_posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("studio_id", sa.Integer(), sa.ForeignKey("studios.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _at(),
    )
    op.create_index("ix_studio_posts_studio", "studio_posts", ["studio_id", "id"])
    op.create_table(
        "resources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("studio_id", sa.Integer(), sa.ForeignKey("studios.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tags", sa.String(500), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        _at(),
    )
    op.create_index("ix_resources_studio", "resources", ["studio_id", "id"])
    op.create_table(
        "lesson_docs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("studio_id", sa.Integer(), sa.ForeignKey("studios.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.Column("snapshot_upto", sa.Integer(), nullable=False),
        _at(),
        _at("updated_at"),
    )
    op.create_index("ix_lesson_docs_studio", "lesson_docs", ["studio_id", "id"])
    op.create_table(
        "doc_updates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("doc_id", sa.Integer(), sa.ForeignKey("lesson_docs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _at(),
    )
    op.create_index("ix_doc_updates_doc", "doc_updates", ["doc_id", "id"])
    op.create_table(
        "doc_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("doc_id", sa.Integer(), sa.ForeignKey("lesson_docs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        _at(),
    )
    op.create_index("ix_doc_versions_doc", "doc_versions", ["doc_id", "id"])
    op.create_table(
        "doc_comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("doc_id", sa.Integer(), sa.ForeignKey("lesson_docs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("doc_comments.id", ondelete="CASCADE")),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("anchor", sa.JSON()),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("resolved_by", sa.Integer(), sa.ForeignKey("users.id")),
        _at(),
    )
    op.create_index("ix_doc_comments_doc", "doc_comments", ["doc_id", "id"])
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("studio_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_activities_studio_id", "studios", ["studio_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_activities_studio_id", ["studio_id"])


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_index("ix_activities_studio_id")
        batch.drop_constraint("fk_activities_studio_id", type_="foreignkey")
        batch.drop_column("studio_id")
    for table in ("doc_comments", "doc_versions", "doc_updates", "lesson_docs", "resources", "studio_posts",
                  "studio_members", "studios"):
        op.drop_table(table)
