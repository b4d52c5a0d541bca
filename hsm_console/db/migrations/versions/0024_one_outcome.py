"""one outcome per pending entry: a unique index on `action_log.outcome_of`

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 07:30:00

A pending entry is completed by exactly one outcome entry. The services re-check under the
chain's lock (services/moderation.py, `_complete`); this index is the database's guarantee.
Entries are never changed, so should a log already hold two outcomes of one entry (written
before this revision by a reconciliation racing the call), they stay: the index then covers
only entries after the last of them, and the plain index stays for the look-ups.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_PLAIN = "ix_action_log_outcome_of"
_UNIQUE = "uq_action_log_outcome"
_LAST_TWICE = """
    SELECT max(later.id) FROM action_log AS later
    JOIN action_log AS earlier ON earlier.outcome_of = later.outcome_of AND earlier.id < later.id
"""


def upgrade() -> None:
    last_twice = op.get_bind().execute(sa.text(_LAST_TWICE)).scalar()
    where = "outcome_of IS NOT NULL"
    if last_twice is None:
        op.drop_index(_PLAIN, table_name="action_log")
    else:
        where += f" AND id > {int(last_twice)}"
    op.create_index(
        _UNIQUE, "action_log", ["outcome_of"], unique=True,
        sqlite_where=sa.text(where), postgresql_where=sa.text(where),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index(_UNIQUE, table_name="action_log")
    if _PLAIN not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("action_log")}:
        op.create_index(_PLAIN, "action_log", ["outcome_of"])
