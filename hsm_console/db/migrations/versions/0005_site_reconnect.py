"""a site's sign-in refused by its platform: "needs reconnecting" since when

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:00:00

A table of its own rather than a column on `sites`, so that code reading sites keeps working
on a database one step behind: set when a token renewal is refused, cleared when an
administrator connects the site again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_connections",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("reconnect_needed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_connections_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_connections")),
    )


def downgrade() -> None:
    op.drop_table("site_connections")
