"""What disposal does to the rows, and the database's guard around it (docs/design.md,
"Retention, holds and disposal").

A disposed record keeps its row (ids, site, platform, times, SHA-256) with its content blanked,
and a `disposed_records` row names it with its SHA-256 and the `dispose` entry of the log.
`retained_records` and `comment_versions` stay append-only to everything else:
- SQLite: their UPDATE triggers let through exactly the blanking of a row that a
  `disposed_records` row of a `dispose` entry names, and nothing else;
- PostgreSQL: one SECURITY DEFINER function, `hsm_dispose(entry)`, owned by the NOLOGIN role
  `hsm_disposer`, carries out a `dispose` entry already in the chain; the triggers let an
  UPDATE through only when `current_user` is that role (inside the function), so a general
  UPDATE grant is not enough, and EXECUTE is granted to the role `hsm_records_officer` alone
  (the console's login today; each records officer's login when people sign in to the
  database themselves). The function checks the entry, the certificate's thirty days and
  that its actor is a records officer of each comment's department.
DELETE stays refused on both.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hsm_console.db.chain import canonical

# Blanked content: text, author, raw payload, attachments, post text, permalinks.
RECORD_BLANK: dict[str, Any] = {
    "post_text": "", "post_permalink": "", "author_id": "", "author_name": "", "text": "",
    "permalink": "", "attachments": [], "raw": {},
}  # fmt: skip
COMMENT_BLANK: dict[str, Any] = {
    "author_id": "", "author_name": "", "text": "", "permalink": "", "attachments": [], "raw": {},
}  # fmt: skip
VERSION_BLANK: dict[str, Any] = {"author_name": "", "text": "", "raw": {}}
# Screening's first suggestion's why quotes the comment ('Profanity: "…"'): it goes too
# (migration 0025; `comment_suggestions` follows the text by a trigger, 0019). Not part of
# the disposal entry's hash of the working copy.
COMMENT_DERIVED_BLANK: dict[str, Any] = {"status": "disposed", "suggestion_why": ""}
_COMMENT_FORM = "hsm-disposed-comment-v1"


def is_blank(values: dict[str, Any]) -> bool:
    """A retained record's values as disposal leaves them."""
    return all(values[name] == blank for name, blank in RECORD_BLANK.items())


def comment_hash(comment: dict[str, Any], versions: list[dict[str, Any]]) -> str:
    """The SHA-256 of a comment's working copy and its earlier versions as they stood when
    disposed of: what the `dispose` entry keeps of a comment never retained."""
    values = [comment["id"], comment["external_id"],
              *(comment[name] for name in COMMENT_BLANK),
              [[v["author_name"], v["text"], v["raw"]] for v in versions]]  # fmt: skip
    return hashlib.sha256(canonical(_COMMENT_FORM, values)).hexdigest()


_RECORD_KEPT = (
    "id", "comment_id", "captured_at", "captured_by", "site_id", "platform",
    "comment_external_id", "parent_external_id", "post_external_id", "created_at", "sha256",
)  # fmt: skip
_VERSION_KEPT = ("id", "comment_id", "edited_at", "replaced_seen_at")
_LISTED_BY_DISPOSE = (
    "SELECT 1 FROM disposed_records d JOIN action_log e ON e.id = d.entry_id "
    "WHERE e.kind = 'disposal' AND e.action = 'dispose' AND d.comment_id = OLD.comment_id AND "
)


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _sqlite_blank(blank: dict[str, Any]) -> str:
    return " AND ".join(f"NEW.{n} = '{_literal(v)}'" for n, v in blank.items())


def sqlite_ddl() -> list[str]:
    kept_record = " AND ".join(f"NEW.{n} IS OLD.{n}" for n in _RECORD_KEPT)
    kept_version = " AND ".join(f"NEW.{n} IS OLD.{n}" for n in _VERSION_KEPT)
    return [
        "DROP TRIGGER retained_records_no_update",
        "CREATE TRIGGER retained_records_no_update BEFORE UPDATE ON retained_records WHEN NOT ("
        f"EXISTS ({_LISTED_BY_DISPOSE}d.record_id = OLD.id AND d.sha256 = OLD.sha256) "
        f"AND {kept_record} AND {_sqlite_blank(RECORD_BLANK)}) "
        "BEGIN SELECT RAISE(ABORT, 'retained_records is append-only: UPDATE refused'); END",
        "DROP TRIGGER comment_versions_no_update",
        "CREATE TRIGGER comment_versions_no_update BEFORE UPDATE ON comment_versions WHEN NOT ("
        f"EXISTS ({_LISTED_BY_DISPOSE}d.record_id IS NULL) "
        f"AND {kept_version} AND {_sqlite_blank(VERSION_BLANK)}) "
        "BEGIN SELECT RAISE(ABORT, 'comment_versions is append-only: UPDATE refused'); END",
    ]


def _pg_blank(blank: dict[str, Any]) -> str:
    cast = {n: "" if isinstance(v, str) else "::text" for n, v in blank.items()}
    return " AND ".join(f"NEW.{n}{cast[n]} = '{_literal(v)}'" for n, v in blank.items())


def _pg_kept(names: tuple[str, ...]) -> str:
    new = ", ".join(f"NEW.{n}" for n in names)
    old = ", ".join(f"OLD.{n}" for n in names)
    return f"({new}) IS NOT DISTINCT FROM ({old})"


def _pg_guard(table: str, listed: str, kept: tuple[str, ...], blank: dict[str, Any]) -> list[str]:
    return [
        f"""
        CREATE FUNCTION hsm_guard_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND current_user = 'hsm_disposer'
               AND EXISTS ({_LISTED_BY_DISPOSE}{listed})
               AND {_pg_kept(kept)} AND {_pg_blank(blank)} THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """,
        f"DROP TRIGGER {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION hsm_guard_{table}()",
    ]


_PG_DISPOSE = """
CREATE FUNCTION hsm_dispose(p_entry integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    e action_log%ROWTYPE;
    cert disposal_certificates%ROWTYPE;
    item jsonb;
    rec jsonb;
    v_comment integer;
    v_department integer;
    n integer := 0;
BEGIN
    SELECT * INTO e FROM action_log WHERE id = p_entry;
    IF NOT FOUND OR e.kind <> 'disposal' OR e.action <> 'dispose' THEN
        RAISE EXCEPTION 'hsm_dispose: log entry % is not a disposal', p_entry
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM disposed_records WHERE entry_id = p_entry) THEN
        RAISE EXCEPTION 'hsm_dispose: log entry % was carried out already', p_entry
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO cert FROM disposal_certificates
        WHERE id = (e.after::jsonb ->> 'certificate_id')::integer;
    IF NOT FOUND OR (now() AT TIME ZONE 'America/Chicago')::date < cert.allowed_from THEN
        RAISE EXCEPTION 'hsm_dispose: no certificate allows disposal today'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR item IN SELECT * FROM jsonb_array_elements(e.after::jsonb -> 'comments') LOOP
        v_comment := (item ->> 'comment')::integer;
        SELECT s.department_id INTO v_department
            FROM comments c JOIN sites s ON s.id = c.site_id WHERE c.id = v_comment;
        IF v_department IS NULL
           OR (cert.department_id IS NOT NULL AND cert.department_id <> v_department)
           OR NOT EXISTS (
               SELECT 1 FROM people p JOIN role_grants g ON g.person_id = p.id
               WHERE p.username = e.actor AND p.active AND g.role = 'records_officer'
                 AND (g.department_id IS NULL OR g.department_id = v_department)) THEN
            RAISE EXCEPTION 'hsm_dispose: comment % is not %''s to dispose of under %',
                v_comment, e.actor, cert.number USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO disposed_records (comment_id, record_id, sha256, certificate_id, entry_id,
                                      disposed_at)
            VALUES (v_comment, NULL, item ->> 'sha256', cert.id, p_entry, now());
        UPDATE comments SET author_id = '', author_name = '', text = '', permalink = '',
                            attachments = '[]', raw = '{}', status = 'disposed'
            WHERE id = v_comment;
        UPDATE comment_versions SET author_name = '', text = '', raw = '{}'
            WHERE comment_id = v_comment;
        FOR rec IN SELECT * FROM jsonb_array_elements(item -> 'records') LOOP
            INSERT INTO disposed_records (comment_id, record_id, sha256, certificate_id,
                                          entry_id, disposed_at)
                VALUES (v_comment, (rec ->> 0)::integer, rec ->> 1, cert.id, p_entry, now());
            UPDATE retained_records SET post_text = '', post_permalink = '', author_id = '',
                   author_name = '', text = '', permalink = '', attachments = '[]', raw = '{}'
                WHERE id = (rec ->> 0)::integer AND comment_id = v_comment
                  AND sha256 = rec ->> 1;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'hsm_dispose: retained record % does not match the entry',
                    rec ->> 0 USING ERRCODE = 'insufficient_privilege';
            END IF;
        END LOOP;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$
"""


def postgresql_dispose_words(blank_words: bool = True) -> list[str]:
    """Migration 0018's `hsm_dispose`: as above, and each row it blanks loses its search
    words too (db/search_index.py), so a disposed text cannot be found by them. Replacing the
    function needs membership of its owner, as creating it did."""
    body = _PG_DISPOSE
    if blank_words:  # the three UPDATEs (comments, versions, records) each end their SET so
        assert body.count("raw = '{}'") == 3
        body = body.replace("raw = '{}'", "raw = '{}', search_words = ''")
    return [
        "GRANT hsm_disposer TO CURRENT_USER",
        body.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1),
        "REVOKE hsm_disposer FROM CURRENT_USER",
    ]


def postgresql_dispose_suggestions(blank_suggestions: bool = True) -> list[str]:
    """Migration 0025's `hsm_dispose`: as 0018's, and the first suggestion's why of each
    comment it disposes of is blanked too (COMMENT_DERIVED_BLANK)."""
    made = postgresql_dispose_words()
    if blank_suggestions:
        status = "status = 'disposed'"
        assert made[1].count(status) == 1
        made[1] = made[1].replace(status, f"{status}, suggestion_why = ''")
    return made


def postgresql_ddl() -> list[str]:
    # Roles are cluster-wide: another database's upgrade may be creating them at this moment.
    roles = """
    DO $$ BEGIN
        BEGIN CREATE ROLE hsm_disposer NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
        BEGIN CREATE ROLE hsm_records_officer NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END $$
    """
    return [
        roles,
        "GRANT SELECT, UPDATE ON retained_records, comments, comment_versions TO hsm_disposer",
        "GRANT SELECT, INSERT ON disposed_records TO hsm_disposer",
        "GRANT USAGE ON SEQUENCE disposed_records_id_seq TO hsm_disposer",
        "GRANT SELECT ON action_log, disposal_certificates, people, role_grants, sites "
        "TO hsm_disposer",
        *_pg_guard("retained_records", "d.record_id = OLD.id AND d.sha256 = OLD.sha256",
                   _RECORD_KEPT, RECORD_BLANK),
        *_pg_guard("comment_versions", "d.record_id IS NULL", _VERSION_KEPT, VERSION_BLANK),
        _PG_DISPOSE,
        # Owned by the role the guards let through; changing the owner needs its membership,
        # and the new owner CREATE on the schema for that moment (an owner role that is no
        # superuser, as docs/deployment.md sets up: PostgreSQL 15 grants PUBLIC none).
        "GRANT hsm_disposer TO CURRENT_USER",
        "GRANT CREATE ON SCHEMA public TO hsm_disposer",
        "ALTER FUNCTION hsm_dispose(integer) OWNER TO hsm_disposer",
        "REVOKE CREATE ON SCHEMA public FROM hsm_disposer",
        "REVOKE hsm_disposer FROM CURRENT_USER",
        "REVOKE ALL ON FUNCTION hsm_dispose(integer) FROM PUBLIC",
        "GRANT EXECUTE ON FUNCTION hsm_dispose(integer) TO hsm_records_officer",
        "GRANT hsm_records_officer TO CURRENT_USER",  # the console's one login, for now
    ]  # fmt: skip
