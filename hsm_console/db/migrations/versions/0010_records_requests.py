"""records requests: the register of public-records requests

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:45:00

Illinois FOIA: five business days to answer, one five-day extension. The register is working
state (a request's state changes); every change of it is an entry of the hash-chained log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extended_to", sa.Date(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("handler", sa.String(length=200), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_records_requests_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_records_requests_comment_id_comments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_requests")),
    )
    op.create_index(
        op.f("ix_records_requests_department_id"), "records_requests", ["department_id"]
    )
    # A moderator's FOI action looks for the comment's open request in its own transaction.
    op.create_index(op.f("ix_records_requests_comment_id"), "records_requests", ["comment_id"])
    # A register row's history is its entries by subject ("request:12", "hold:3", ...).
    op.create_index("ix_action_log_subject", "action_log", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_action_log_subject", table_name="action_log")
    op.drop_index(op.f("ix_records_requests_comment_id"), table_name="records_requests")
    op.drop_index(op.f("ix_records_requests_department_id"), table_name="records_requests")
    op.drop_table("records_requests")
