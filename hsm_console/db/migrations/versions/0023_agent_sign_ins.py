"""the agents' sign-ins: each site's token state as each agent holds it, no secret

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 05:00:00

In the City-wide mode a workstation holds no token, so its Sign-in column and `doctor` show
what the agents publish here (services/agent.py, `publish_sign_ins`): the state and expiry of
each site's tokens in each agent's keyring. Working state, never a record.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_sign_ins",
        sa.Column("agent", sa.String(length=100), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent"], ["agents.name"], name=op.f("fk_agent_sign_ins_agent_agents")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_agent_sign_ins_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("agent", "site_id", name=op.f("pk_agent_sign_ins")),
    )


def downgrade() -> None:
    op.drop_table("agent_sign_ins")
