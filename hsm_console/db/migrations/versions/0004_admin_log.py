"""administrative changes in the one hash-chained log; one first administrator

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:30:00

`action_log` takes every kind of entry: `kind`, `subject`, `before` and `after` are added and
the columns only an action needs become nullable. Existing entries are untouched (kind
"action", hashed by the first canonical form as before).

SQLite cannot drop NOT NULL in place, so the table is rebuilt by hand rather than by Alembic's
batch mode: batch's copy refers to the old table by name, and dropping the old table would
then break the copy's self-reference (`outcome_of`) as a foreign key. The copy refers to
itself, and SQLite renames that reference with the table. Its append-only triggers go with
the old table and are made again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from hsm_console.db.append_only import sqlite_ddl

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NOW_NULLABLE: dict[str, sa.types.TypeEngine[Any]] = {
    "comment_id": sa.Integer(),
    "site_id": sa.Integer(),
    "department_id": sa.Integer(),
    "record_id": sa.Integer(),
    "record_sha256": sa.String(length=64),
    "policy_version": sa.String(length=32),
}
OLD_COLUMNS = (
    "id", "at", "actor", "state", "action", "comment_id", "site_id", "department_id",
    "record_id", "record_sha256", "reason_code", "note", "policy_version", "second_review",
    "outcome_of", "detail", "prev_hash", "entry_hash",
)  # fmt: skip
FIRST_RUN = "kind = 'admin' AND action = 'init'"
CITYWIDE = "department_id IS NULL"


def _new_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("kind", sa.String(length=16), server_default="action", nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_log()
    else:
        for column in _new_columns():
            op.add_column("action_log", column)
        for name, type_ in NOW_NULLABLE.items():
            op.alter_column("action_log", name, existing_type=type_, nullable=True)
    op.create_index(
        "uq_action_log_first_run", "action_log", ["kind", "action"], unique=True,
        sqlite_where=sa.text(FIRST_RUN), postgresql_where=sa.text(FIRST_RUN),
    )  # fmt: skip
    op.create_index(
        "uq_role_grants_citywide", "role_grants", ["person_id", "role"], unique=True,
        sqlite_where=sa.text(CITYWIDE), postgresql_where=sa.text(CITYWIDE),
    )  # fmt: skip


def _rebuild_sqlite_log() -> None:
    new = "action_log_v4"

    def nullable(name: str) -> bool:
        return name in NOW_NULLABLE

    op.create_table(
        new,
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=nullable("comment_id")),
        sa.Column("site_id", sa.Integer(), nullable=nullable("site_id")),
        sa.Column("department_id", sa.Integer(), nullable=nullable("department_id")),
        sa.Column("record_id", sa.Integer(), nullable=nullable("record_id")),
        sa.Column("record_sha256", sa.String(length=64), nullable=nullable("record_sha256")),
        sa.Column("reason_code", sa.String(length=8), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=nullable("policy_version")),
        sa.Column("second_review", sa.Boolean(), nullable=False),
        sa.Column("outcome_of", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        *_new_columns(),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_action_log_comment_id_comments")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_action_log_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["outcome_of"], [f"{new}.id"], name=op.f("fk_action_log_outcome_of_action_log")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["retained_records.id"],
            name=op.f("fk_action_log_record_id_retained_records"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_action_log_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_log")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_action_log_entry_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_action_log_prev_hash")),
    )
    columns = ", ".join(OLD_COLUMNS)
    op.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM action_log")
    op.execute("DROP TABLE action_log")  # its triggers go with it; DROP fires none
    op.execute(f"ALTER TABLE {new} RENAME TO action_log")
    for column in ("comment_id", "department_id", "outcome_of"):
        op.create_index(op.f(f"ix_action_log_{column}"), "action_log", [column], unique=False)
    for statement in sqlite_ddl(("action_log",)):
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError("The action log holds public records: it is never narrowed again.")
