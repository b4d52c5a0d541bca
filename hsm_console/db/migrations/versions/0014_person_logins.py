"""a database login per person

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:00:00

On a City-wide PostgreSQL every person signs in to the database as themselves, and the
database decides what they may read and write (`db/roles.py`, docs/design.md "Who the
database lets do what"). `person_logins` names that login (a PostgreSQL role name; a
Windows account such as `CITYHALL\\jdoe` maps to `jdoe` by default); a table of its own, so
`people` reads the same at every schema. SQLite leaves it empty.
The roles, grants and policies themselves are not a migration: `db upgrade` runs `db roles`
after the migrations, so a change to them needs no new revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_logins",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_person_logins_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_logins")),
        sa.UniqueConstraint("login", name=op.f("uq_person_logins_login")),
    )


def downgrade() -> None:
    op.drop_table("person_logins")
