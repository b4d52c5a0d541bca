"""every suggestion of screening kept, and found by code

Revision ID: 0019
Revises: 0013
Create Date: 2026-12-02 02:00:00

Until now only a comment's first suggestion was stored (`comments.suggested_code`), so a
phone number in an advert hid the advert. `comment_suggestions` keeps each one: code, why and
the matched spans. It copies the comment's site, status and time so that the queue filtered
to "any suggestion of code X" walks `ix_comment_suggestions_queue` in the queue's own order,
one branch per site and status, instead of reading every comment that ever had the code and
discarding those already decided. A trigger keeps the copied status in step with the comment
(the moderation service never has to know), and blanks the why and spans when a disposal
blanks the text: the why quotes the matched words. `ix_comments_suggested_code` is dropped:
nothing reads by the first code alone any more.

Existing comments are screened again here, in batches, with the shipped word lists; a stored
first suggestion that screening no longer makes (a repeat found at sync) is kept, last.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from hsm_console.rules.screening import Screener

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BATCH = 2000

_SQLITE_TRIGGER = """
CREATE TRIGGER comment_suggestions_follow AFTER UPDATE OF status, text ON comments
WHEN OLD.status IS NOT NEW.status OR (NEW.text = '' AND OLD.text IS NOT '')
BEGIN
    UPDATE comment_suggestions SET status = NEW.status,
        why = CASE WHEN NEW.text = '' THEN '' ELSE why END,
        spans = CASE WHEN NEW.text = '' THEN '[]' ELSE spans END
    WHERE comment_id = NEW.id;
END
"""
# SECURITY DEFINER: a disposal runs as hsm_disposer, which may not write this table itself.
_PG_FUNCTION = """
CREATE FUNCTION comment_suggestions_follow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE comment_suggestions SET status = NEW.status,
        why = CASE WHEN NEW.text = '' THEN '' ELSE why END,
        spans = CASE WHEN NEW.text = '' THEN '[]'::json ELSE spans END
    WHERE comment_id = NEW.id;
    RETURN NULL;
END
$$
"""
_PG_TRIGGER = """
CREATE TRIGGER comment_suggestions_follow AFTER UPDATE OF status, text ON comments
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                   OR (NEW.text = '' AND OLD.text IS DISTINCT FROM ''))
EXECUTE FUNCTION comment_suggestions_follow()
"""


def upgrade() -> None:
    op.create_table(
        "comment_suggestions",
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("spans", sa.JSON(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"],
            name=op.f("fk_comment_suggestions_comment_id_comments"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_comment_suggestions_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("comment_id", "code", name=op.f("pk_comment_suggestions")),
    )  # fmt: skip
    op.create_index(
        "ix_comment_suggestions_queue",
        "comment_suggestions",
        ["code", "site_id", "status", "created_at", "comment_id"],
    )
    op.drop_index("ix_comments_suggested_code", table_name="comments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)
    _backfill()


def _backfill() -> None:
    """Screen every comment again and store all its suggestions."""
    bind = op.get_bind()
    screener = Screener.default()
    comments = sa.table(
        "comments", sa.column("id"), sa.column("text"), sa.column("site_id"),
        sa.column("status"), sa.column("created_at"), sa.column("suggested_code"),
        sa.column("suggestion_why"),
    )  # fmt: skip
    suggestions = sa.table(
        "comment_suggestions", sa.column("comment_id"), sa.column("code"), sa.column("rank"),
        sa.column("why"), sa.column("spans", sa.JSON()), sa.column("site_id"),
        sa.column("status"), sa.column("created_at"),
    )  # fmt: skip
    last = 0
    while True:
        batch = bind.execute(
            sa.select(comments).where(comments.c.id > last).order_by(comments.c.id).limit(BATCH)
        ).all()
        if not batch:
            return
        last = batch[-1].id
        rows: list[dict[str, Any]] = []
        firsts: list[dict[str, Any]] = []
        for comment in batch:
            found = [
                (s.code, s.why, [[m.start, m.end] for m in s.matches])
                for s in screener.screen(comment.text)
            ]
            stored = comment.suggested_code
            if stored is not None and all(code != stored for code, _, _ in found):
                found.append((stored, comment.suggestion_why, []))
            for rank, (code, why, spans) in enumerate(found):
                rows.append(
                    dict(
                        comment_id=comment.id, code=code, rank=rank, why=why, spans=spans,
                        site_id=comment.site_id, status=comment.status,
                        created_at=comment.created_at,
                    )
                )  # fmt: skip
            first = found[0][:2] if found else (None, "")
            if first != (stored, comment.suggestion_why if stored is not None else ""):
                firsts.append({"key": comment.id, "code": first[0], "why": first[1]})
        if rows:
            bind.execute(suggestions.insert(), rows)
        if firsts:
            bind.execute(
                comments.update()
                .where(comments.c.id == sa.bindparam("key"))
                .values(suggested_code=sa.bindparam("code"), suggestion_why=sa.bindparam("why")),
                firsts,
            )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS comment_suggestions_follow ON comments"
               if op.get_bind().dialect.name == "postgresql"
               else "DROP TRIGGER IF EXISTS comment_suggestions_follow")  # fmt: skip
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS comment_suggestions_follow()")
    op.create_index("ix_comments_suggested_code", "comments", ["suggested_code"])
    op.drop_index("ix_comment_suggestions_queue", table_name="comment_suggestions")
    op.drop_table("comment_suggestions")
