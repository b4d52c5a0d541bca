"""DDL that makes the record tables append-only in the database itself.

The application never updates or deletes these rows; the triggers make sure nothing else
does either (a script, a SQL console, a bug). An administrator who drops a trigger can still
alter a row, which is what the hash chain is for: `verify-log` finds it.
"""

from __future__ import annotations

RECORD_TABLES = ("retained_records", "action_log")


def sqlite_ddl(tables: tuple[str, ...] = RECORD_TABLES) -> list[str]:
    statements = []
    for table in tables:
        for op in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
            )
    return statements


def postgresql_ddl() -> list[str]:
    statements = [
        """
        CREATE OR REPLACE FUNCTION hsm_refuse_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$ LANGUAGE plpgsql
        """
    ]
    for table in RECORD_TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hsm_refuse_change()"
        )
        statements.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hsm_refuse_change()"
        )
    return statements


def ddl_for(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return sqlite_ddl()
    if dialect == "postgresql":
        return postgresql_ddl()
    raise ValueError(f"unsupported database {dialect}")
