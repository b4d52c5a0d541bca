"""comment versions, sightings of deleted comments, API quota usage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00

Columns are added with plain ALTER TABLE (no batch rebuild), so the full-text triggers that
0002 put on `comments` stay in place on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("comments", sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("comments", sa.Column("gone_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "comment_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("author_name", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_comment_versions_comment_id_comments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_versions")),
    )
    op.create_index(
        op.f("ix_comment_versions_comment_id"), "comment_versions", ["comment_id"], unique=False
    )
    op.create_table(
        "api_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_usage")),
        sa.UniqueConstraint("platform", "day", name=op.f("uq_api_usage_platform")),
    )
    # Earlier versions of a comment are records too.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER comment_versions_no_{verb.lower()} BEFORE {verb} ON "
                "comment_versions BEGIN SELECT RAISE(ABORT, 'comment_versions is append-only: "
                f"{verb} refused'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER comment_versions_append_only BEFORE UPDATE OR DELETE ON "
            "comment_versions FOR EACH ROW EXECUTE FUNCTION hsm_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER comment_versions_no_truncate BEFORE TRUNCATE ON comment_versions "
            "FOR EACH STATEMENT EXECUTE FUNCTION hsm_refuse_change()"
        )


def downgrade() -> None:
    raise RuntimeError("comment_versions holds public records: it is never dropped.")
