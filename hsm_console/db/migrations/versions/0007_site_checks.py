"""site checks: the latest outcome of the policy's own checks on each site

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:00:00

Policy, Section 2: a site's profile says the City maintains it and links to the social
media policy, and each City post links back to highlandil.gov. One row per site and check,
updated in place at each sync: state, not a record, so no append-only trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_checks",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("check", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("failing", sa.JSON(), nullable=False),
        sa.Column("seen", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_checks_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", "check", name=op.f("pk_site_checks")),
    )


def downgrade() -> None:
    op.drop_table("site_checks")
