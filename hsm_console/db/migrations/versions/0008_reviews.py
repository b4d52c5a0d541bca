"""reviews, notes, notices and appeals in the one hash-chained log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:30:00

An entry may refer to another (`refers_to`): a review or notice to the action it concerns,
an appeal to the action, a decision to the appeal, a reversal to the review or decision it
carries out. Hashed by the third canonical form where set (`db/chain.py`); existing entries
keep their form. A plain integer, not a foreign key: SQLite cannot add one to a table in
place, and the chain itself proves what each entry says. One verdict per action and per
appeal, whatever the isolation level: a partial unique index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VERDICT_ENTRIES = "kind = 'review' OR (kind = 'appeal' AND action <> 'appeal')"


def upgrade() -> None:
    op.add_column("action_log", sa.Column("refers_to", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_action_log_refers_to"), "action_log", ["refers_to"], unique=False)
    op.create_index(
        "uq_action_log_verdict", "action_log", ["refers_to"], unique=True,
        sqlite_where=sa.text(VERDICT_ENTRIES), postgresql_where=sa.text(VERDICT_ENTRIES),
    )  # fmt: skip


def downgrade() -> None:
    raise RuntimeError("The action log holds public records: it is never narrowed again.")
