"""retention: legal holds, disposal certificates, disposed records and the disposal guard

Revision ID: 0011
Revises: 0010 (the records requests register, whose requests a hold may name)
Create Date: 2026-12-01 22:50:00

Holds are working state (a hold is lifted); certificates and disposed records never change.
The record tables stay append-only, but for the one change disposal makes: `db/disposal.py`
(on SQLite, UPDATE triggers that let through only the blanking of a row a disposal lists; on
PostgreSQL, the SECURITY DEFINER function `hsm_dispose` owned by the NOLOGIN role
`hsm_disposer`, which the guards alone let through). On PostgreSQL this migration creates
the roles `hsm_disposer` and `hsm_records_officer`, so `db upgrade` needs CREATEROLE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hsm_console.db import disposal
from hsm_console.db.append_only import sqlite_ddl

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_WHEN_NOT_BLANK = "record_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.String(length=200), nullable=True),
        sa.Column("from_on", sa.Date(), nullable=True),
        sa.Column("thru_on", sa.Date(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_legal_holds_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_legal_holds_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["records_requests.id"],
            name=op.f("fk_legal_holds_request_id_records_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(op.f("ix_legal_holds_department_id"), "legal_holds", ["department_id"])
    op.create_table(
        "disposal_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("notice_given_on", sa.Date(), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=False),
        sa.Column("allowed_from", sa.Date(), nullable=False),
        sa.Column("covers", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_disposal_certificates_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["action_log.id"],
            name=op.f("fk_disposal_certificates_entry_id_action_log"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposal_certificates")),
        sa.UniqueConstraint("number", name=op.f("uq_disposal_certificates_number")),
    )
    op.create_table(
        "disposed_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_disposed_records_comment_id_comments")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["retained_records.id"],
            name=op.f("fk_disposed_records_record_id_retained_records"),
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["disposal_certificates.id"],
            name=op.f("fk_disposed_records_certificate_id_disposal_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["action_log.id"], name=op.f("fk_disposed_records_entry_id_action_log")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposed_records")),
        sa.UniqueConstraint("record_id", name=op.f("uq_disposed_records_record_id")),
    )
    op.create_index(op.f("ix_disposed_records_comment_id"), "disposed_records", ["comment_id"])
    op.create_index(op.f("ix_disposed_records_entry_id"), "disposed_records", ["entry_id"])
    op.create_index(
        "uq_disposed_records_comment",
        "disposed_records",
        ["comment_id"],
        unique=True,
        sqlite_where=sa.text(_WHEN_NOT_BLANK),
        postgresql_where=sa.text(_WHEN_NOT_BLANK),
    )

    kept = ("disposal_certificates", "disposed_records")  # never change once written
    if op.get_bind().dialect.name == "sqlite":
        for statement in [*sqlite_ddl(kept), *disposal.sqlite_ddl()]:
            op.execute(statement)
        return
    for table in kept:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hsm_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hsm_refuse_change()"
        )
    for statement in disposal.postgresql_ddl():
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError("disposed_records proves lawful disposals: it is never dropped.")
