"""the comments of each site and status counted, kept by triggers

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02 14:20:00

The dashboard's backlog counted the waiting comments of every site along the queue's index:
at a million comments, 870,000 waiting, about 0.35 s of PostgreSQL's time on every opening
of the dashboard, whatever its filter. `comment_counts` holds the number of comments per
site and status, so the backlog reads one row per site (docs/design.md, "The consistency
dashboard"). Derived data, not a record, kept by the database itself so that no Python path
can forget it: it always equals `SELECT site_id, status, count(*) FROM comments GROUP BY
site_id, status` (no row for a count of zero, so a move compares it by its rows).

- SQLite: row triggers on INSERT, on UPDATE of `status` or `site_id`, and on DELETE.
- PostgreSQL: a statement trigger on INSERT (a page of sync is one statement: one upsert per
  site and status, not one per comment), a row trigger on UPDATE only WHEN the status or the
  site changes (an action's other updates of its comment, and sync's, fire nothing), and a
  statement trigger on DELETE. Their function is SECURITY DEFINER (the owner's, search_path
  fixed): whoever writes a comment updates its count, while a person's login only reads
  their departments' sites' rows (db/roles.py). Rows are changed in order of (site, status),
  so two transactions never wait on each other's counts in opposite orders.
Filled here from `comments` as it stands.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

TRIGGERS = ("comments_counted_insert", "comments_counted_update", "comments_counted_delete")
# Add `{n}` comments to one site's status; a count that falls to zero loses its row.
_ADD = """INSERT INTO comment_counts (site_id, status, comments) VALUES ({site}, {status}, {n})
    ON CONFLICT (site_id, status) DO UPDATE SET comments = comment_counts.comments + {n}"""
_SUBTRACT = """UPDATE comment_counts SET comments = comments - {n}
    WHERE site_id = {site} AND status = {status}"""
_EMPTIED = (
    "DELETE FROM comment_counts WHERE site_id = {site} AND status = {status} AND comments = 0"
)


def _sqlite_triggers() -> list[str]:
    add = _ADD.format(site="NEW.site_id", status="NEW.status", n=1)
    subtract = _SUBTRACT.format(site="OLD.site_id", status="OLD.status", n=1)
    emptied = _EMPTIED.format(site="OLD.site_id", status="OLD.status")
    return [
        f"CREATE TRIGGER comments_counted_insert AFTER INSERT ON comments BEGIN {add}; END",
        f"""CREATE TRIGGER comments_counted_update AFTER UPDATE OF status, site_id ON comments
        WHEN OLD.status IS NOT NEW.status OR OLD.site_id IS NOT NEW.site_id
        BEGIN {subtract}; {emptied}; {add}; END""",
        f"""CREATE TRIGGER comments_counted_delete AFTER DELETE ON comments
        BEGIN {subtract}; {emptied}; END""",
    ]


# PostgreSQL: the rows a statement inserted or deleted, as changes per site and status.
_CHANGES = """
    INSERT INTO comment_counts AS c (site_id, status, comments)
    SELECT site_id, status, {sign} count(*) FROM {rows} GROUP BY site_id, status
    ORDER BY site_id, status
    ON CONFLICT (site_id, status) DO UPDATE SET comments = c.comments + EXCLUDED.comments"""


def _postgresql_triggers() -> list[str]:
    function = (
        "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
        "SET search_path = pg_catalog, public AS $$ BEGIN {body}; RETURN NULL; END $$"
    )
    emptied = "DELETE FROM comment_counts WHERE comments = 0"
    # One comment moves from OLD's count to NEW's, the two rows taken in a fixed order.
    moved = f"""
        IF (OLD.site_id, OLD.status) < (NEW.site_id, NEW.status) THEN
            {_SUBTRACT.format(site="OLD.site_id", status="OLD.status", n=1)};
            {_ADD.format(site="NEW.site_id", status="NEW.status", n=1)};
        ELSE
            {_ADD.format(site="NEW.site_id", status="NEW.status", n=1)};
            {_SUBTRACT.format(site="OLD.site_id", status="OLD.status", n=1)};
        END IF;
        {_EMPTIED.format(site="OLD.site_id", status="OLD.status")}"""
    bodies = {
        "hsm_comments_counted_insert": _CHANGES.format(sign="", rows="inserted"),
        "hsm_comments_counted_update": moved,
        "hsm_comments_counted_delete": f"{_CHANGES.format(sign='-', rows='deleted')}; {emptied}",
    }
    statements = []
    for name, body in bodies.items():
        statements += [
            function.format(name=name, body=body),
            f"REVOKE ALL ON FUNCTION {name}() FROM PUBLIC",
        ]
    return [
        *statements,
        "CREATE TRIGGER comments_counted_insert AFTER INSERT ON comments "
        "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT "
        "EXECUTE FUNCTION hsm_comments_counted_insert()",
        "CREATE TRIGGER comments_counted_update AFTER UPDATE OF status, site_id ON comments "
        "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status "
        "OR OLD.site_id IS DISTINCT FROM NEW.site_id) "
        "EXECUTE FUNCTION hsm_comments_counted_update()",
        "CREATE TRIGGER comments_counted_delete AFTER DELETE ON comments "
        "REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT "
        "EXECUTE FUNCTION hsm_comments_counted_delete()",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "comment_counts",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "status", name=op.f("pk_comment_counts")),
    )
    op.execute(
        "INSERT INTO comment_counts (site_id, status, comments) "
        "SELECT site_id, status, count(*) FROM comments GROUP BY site_id, status"
    )
    for statement in _sqlite_triggers() if dialect == "sqlite" else _postgresql_triggers():
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON comments" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS hsm_{name}()")
    op.drop_table("comment_counts")
