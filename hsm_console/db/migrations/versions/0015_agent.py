"""the agent: its key and heartbeat, its jobs, site leases, sealed secrets

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-02 02:00:00

Working state of `hsm-console agent` (services/agent.py), none of it a record: the log
stays the proof of every action. A job names the pending entry a workstation committed; the
agent deletes it in the transaction of the outcome entry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_agents")),
    )
    op.create_table(
        "agent_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=36), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["action_log.id"], name=op.f("fk_agent_jobs_entry_id_action_log")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_jobs")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_agent_jobs_entry_id")),
    )
    op.create_table(
        "agent_site_leases",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_agent_site_leases_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_agent_site_leases")),
    )
    op.create_table(
        "sealed_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("sealed_by", sa.String(length=200), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent"], ["agents.name"], name=op.f("fk_sealed_secrets_agent_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sealed_secrets")),
    )
    op.create_index(op.f("ix_sealed_secrets_agent"), "sealed_secrets", ["agent"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sealed_secrets_agent"), table_name="sealed_secrets")
    op.drop_table("sealed_secrets")
    op.drop_table("agent_site_leases")
    op.drop_table("agent_jobs")
    op.drop_table("agents")
