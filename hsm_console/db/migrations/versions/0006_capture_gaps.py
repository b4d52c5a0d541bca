"""capture gaps: every interval in which a site could not be read, kept as records

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:00:00

`capture_gaps` is append-only like the other record tables: a gap is written once, when it
has ended (a record never changes). The gap still open is bookkeeping in `sync_state`
(`unreadable_since`, `unreadable_kind`, `unreadable_detail`), beside `last_ok_at`, the end of
the last sync that read the site.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hsm_console.db.append_only import sqlite_ddl

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unreadable_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unreadable_kind", sa.String(length=16), nullable=True),
        sa.Column("unreadable_detail", sa.Text(), server_default="", nullable=False),
    ):
        op.add_column("sync_state", column)
    op.create_table(
        "capture_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("began_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_capture_gaps_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_capture_gaps_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_gaps")),
    )
    op.create_index(op.f("ix_capture_gaps_site_id"), "capture_gaps", ["site_id"], unique=False)
    op.create_index(
        op.f("ix_capture_gaps_department_id"), "capture_gaps", ["department_id"], unique=False
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in sqlite_ddl(("capture_gaps",)):
            op.execute(statement)
    else:
        op.execute(
            "CREATE TRIGGER capture_gaps_append_only BEFORE UPDATE OR DELETE ON capture_gaps "
            "FOR EACH ROW EXECUTE FUNCTION hsm_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER capture_gaps_no_truncate BEFORE TRUNCATE ON capture_gaps "
            "FOR EACH STATEMENT EXECUTE FUNCTION hsm_refuse_change()"
        )


def downgrade() -> None:
    raise RuntimeError("capture_gaps holds public records: it is never dropped.")
