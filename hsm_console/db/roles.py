"""Who the database lets do what, on a City-wide PostgreSQL (docs/design.md, "Who the database
lets do what"): group roles, table grants and row-level security, declared here in one place.

Every person signs in to PostgreSQL with a login of their own (`person_logins`), member of
`hsm_person` and of the group role of each role they hold (`GROUPS`); the agent's login is a
member of `hsm_agent`. `TABLES` says, per table, how its rows are scoped and what each group
may do; `apply` turns it into GRANTs and policies, idempotently (`hsm-console db roles`, run by
`db upgrade`). Rows are scoped through SECURITY DEFINER helpers that read the login's person
from `person_logins`, `people` and `role_grants` (`session_user`, never a value the client sends):

- `hsm_me()`: the person's username (what a log entry's `actor` must be), or the agent's login;
- `hsm_my_departments()`: the departments of any of their roles (City-wide ones: all);
- `hsm_sees_all()`: a City-wide supervisor or records officer, or the agent;
- `hsm_has_role(role)`, `hsm_my_sites()`;
- `hsm_chain_head()`: the chain's newest (id, hash), which every writer needs and RLS hides;
  `hsm_locked_chain_head(key)` the same after taking the chain's lock, in one round trip;
- `hsm_chain_links(after, count)`: (id, prev_hash, entry_hash) of every entry, for whoever may
  read the log (supervisors, records officers, administrators), to prove the chain unbroken
  across entries they may not read.

The owner (who runs `db upgrade`) owns the tables and is not subject to their policies; no
person's login is the owner. A new table must be classified in `TABLES` (a test fails
otherwise).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from hsm_console.rules.domain import Role


class Group(enum.StrEnum):
    PERSON = "hsm_person"  # every person's login: the City-wide tables, the helpers
    MODERATOR = "hsm_moderator"
    SUPERVISOR = "hsm_supervisor"
    RECORDS_OFFICER = "hsm_records_officer"  # exists since migration 0011 (hsm_dispose)
    ADMINISTRATOR = "hsm_administrator"
    AGENT = "hsm_agent"  # the headless agent: reads every department, carries out actions


GROUPS: dict[Role, Group] = {
    Role.MODERATOR: Group.MODERATOR,
    Role.SUPERVISOR: Group.SUPERVISOR,
    Role.RECORDS_OFFICER: Group.RECORDS_OFFICER,
    Role.ADMINISTRATOR: Group.ADMINISTRATOR,
}
# Made by migration 0011 and owned by it: hsm_dispose's role sees every row it disposes of.
DISPOSER = "hsm_disposer"


class Scope(enum.Enum):
    """How a table's rows are scoped for a person's login."""

    OWNER = "owner"  # the migrations' bookkeeping: read by all (the schema check), owner's
    CITY = "city"  # no department: every person reads every row
    DEPARTMENT = "department"  # by its department_id (None: City-wide rows)
    SITE = "site"  # by its site_id's department
    COMMENT = "comment"  # by its comment's site
    LOG = "log"  # action_log: by department, plus seals, admin entries; actor checked


S, SI, SIU = "SELECT", "SELECT, INSERT", "SELECT, INSERT, UPDATE"
SIUD = "SELECT, INSERT, UPDATE, DELETE"


@dataclass(frozen=True)
class Table:
    scope: Scope
    grants: dict[Group, str] = field(default_factory=dict)
    # Administrators see every row (the sites and their sign-in bookkeeping).
    administrators: bool = False
    # Rows of no department bind every department (a City-wide hold or certificate), so
    # everyone reads them; elsewhere only those who see all departments do.
    citywide: bool = False
    # A column naming the person a row belongs to: others in the department read the row,
    # only that person writes or deletes it (presence).
    own: str | None = None


_WORK = {Group.MODERATOR: SIU, Group.SUPERVISOR: SIU, Group.AGENT: SIU}  # what sync writes
_PEOPLE = (Group.MODERATOR, Group.SUPERVISOR, Group.RECORDS_OFFICER, Group.ADMINISTRATOR)
_RECORD = {g: SI for g in _PEOPLE}  # step 2 of an action is a person's
_READ = {Group.PERSON: S, Group.AGENT: S}

# Every table of the models, and how the database scopes it. Append-only tables (doctor's
# APPEND_ONLY) get SELECT and INSERT only; their triggers refuse the rest even to the owner.
TABLES: dict[str, Table] = {
    "alembic_version": Table(Scope.OWNER, {**_READ}),
    "departments": Table(Scope.CITY, {**_READ, Group.ADMINISTRATOR: SIU}),
    "people": Table(Scope.CITY, {**_READ, Group.ADMINISTRATOR: SIU}),
    "role_grants": Table(Scope.CITY, {**_READ, Group.ADMINISTRATOR: SIUD}),
    "person_logins": Table(Scope.CITY, {**_READ, Group.ADMINISTRATOR: SIUD}),
    "sites": Table(Scope.DEPARTMENT, {**_READ, Group.ADMINISTRATOR: SIU}, administrators=True),
    "site_connections": Table(
        Scope.SITE, {**_READ, **_WORK, Group.ADMINISTRATOR: SIUD}, administrators=True
    ),
    "sync_state": Table(Scope.SITE, {**_READ, **_WORK}, administrators=True),
    "site_checks": Table(Scope.SITE, {**_READ, **_WORK}, administrators=True),
    "api_usage": Table(Scope.CITY, {**_READ, **_WORK}),  # units per platform and day
    "posts": Table(Scope.SITE, {**_READ, **_WORK}),
    "comments": Table(Scope.SITE, {**_READ, **_WORK}),
    "retained_records": Table(Scope.SITE, {**_READ, **_RECORD}),
    "comment_versions": Table(Scope.COMMENT, {**_READ, Group.MODERATOR: SI,
                                              Group.SUPERVISOR: SI, Group.AGENT: SI}),
    "capture_gaps": Table(Scope.DEPARTMENT, {**_READ, Group.MODERATOR: SI,
                                             Group.SUPERVISOR: SI, Group.AGENT: SI}),
    "action_log": Table(Scope.LOG, {**_READ, **_RECORD, Group.AGENT: SI}),  # its outcomes
    # The dashboard's applied decisions (migration 0026): derived from the log and written
    # only by its trigger (SECURITY DEFINER), read by department like the log's entries.
    "dashboard_decisions": Table(Scope.DEPARTMENT, {**_READ}),
    # Each site's comments per status (migration 0029): written only by the triggers on
    # `comments` (SECURITY DEFINER), read by site like the comments they count.
    "comment_counts": Table(Scope.SITE, {**_READ}),
    "records_requests": Table(Scope.DEPARTMENT, {**_READ, Group.MODERATOR: SI,
                                                 Group.RECORDS_OFFICER: SIU}),
    "legal_holds": Table(Scope.DEPARTMENT, {**_READ, Group.RECORDS_OFFICER: SIU},
                         citywide=True),
    "disposal_certificates": Table(Scope.DEPARTMENT, {**_READ, Group.RECORDS_OFFICER: SI},
                                   citywide=True),
    "disposed_records": Table(Scope.COMMENT, {**_READ}),  # written by hsm_dispose alone
    "bans": Table(Scope.DEPARTMENT, {**_READ, Group.MODERATOR: SIU, Group.SUPERVISOR: SIU,
                                     Group.AGENT: SIU}),
    # Every suggestion of a comment (migration 0019): replaced by sync when a comment changes.
    "comment_suggestions": Table(Scope.SITE, {**_READ, Group.MODERATOR: SIUD,
                                              Group.SUPERVISOR: SIUD, Group.AGENT: SIUD}),
    # Who has which comment open (migration 0016): working state, each person's own rows.
    "presence": Table(Scope.DEPARTMENT, {Group.PERSON: SIUD}, own="username"),
    # The agent's working tables (migration 0015; services/agent.py). No content: ids, times,
    # public keys, and tokens sealed to an agent's public key, which only that agent opens.
    "agents": Table(Scope.CITY, {**_READ, Group.AGENT: SIU}),
    "agent_jobs": Table(Scope.CITY, {**_READ, Group.MODERATOR: SI, Group.SUPERVISOR: SI,
                                     Group.AGENT: "SELECT, UPDATE, DELETE"}),
    "agent_site_leases": Table(Scope.CITY, {**_READ, Group.AGENT: SIUD}),
    "sealed_secrets": Table(Scope.CITY, {Group.ADMINISTRATOR: SI,
                                         Group.AGENT: "SELECT, INSERT, DELETE"}),
    # Each site's token state in each agent's keyring (migration 0023): no secret, by site.
    "agent_sign_ins": Table(Scope.SITE, {**_READ, Group.AGENT: SIUD}, administrators=True),
}  # fmt: skip

# What a person's login may see of a table, by scope (each helper in a sub-select, so it is
# evaluated once per query, not once per row).
_MINE = "(SELECT hsm_my_departments())::integer[]"
_ALL = "(SELECT hsm_sees_all())"
_IN_DEPARTMENT = f"(department_id = ANY ({_MINE}) OR (department_id IS NULL AND {_ALL}))"
_ON_SITE = "(site_id = ANY ((SELECT hsm_my_sites())::integer[]))"
_OF_COMMENT = "(EXISTS (SELECT 1 FROM comments c WHERE c.id = comment_id))"
_ADMINISTRATOR = "(SELECT hsm_has_role('administrator'))"
_ROWS = {Scope.DEPARTMENT: _IN_DEPARTMENT, Scope.SITE: _ON_SITE, Scope.COMMENT: _OF_COMMENT}
# The log: the person's departments, City-wide entries for those who see all, every seal (a
# head's hash, nothing of a department), the administrative entries for administrators.
_LOG_READ = (f"({_IN_DEPARTMENT} OR kind = 'seal' "
             f"OR (kind = 'admin' AND {_ADMINISTRATOR}))")  # fmt: skip
# An entry is written only in the login's own name, in their departments, or City-wide: a
# seal, an administrator's change, a disposal under a City-wide certificate, or anything by
# those who see every department.
_LOG_WRITE = (f"(actor = (SELECT hsm_me()) AND (department_id = ANY ({_MINE}) "
              f"OR (kind = 'admin' AND {_ADMINISTRATOR}) "
              f"OR (department_id IS NULL AND (kind = 'seal' OR {_ALL} OR (kind = 'disposal' "
              "AND (SELECT hsm_has_role('records_officer')))))))")  # fmt: skip
# The agent completes actions (outcome entries), seals the log and steps bans' platform calls.
_AGENT_LOG_WRITE = ("(actor = (SELECT hsm_me()) AND (outcome_of IS NOT NULL "
                    "OR kind IN ('seal', 'ban')))")  # fmt: skip

_HELPERS = """
CREATE OR REPLACE FUNCTION hsm_is_agent() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT pg_has_role(session_user, 'hsm_agent', 'MEMBER')
$$;
CREATE OR REPLACE FUNCTION hsm_me() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT COALESCE(
        (SELECT p.username FROM people p JOIN person_logins l ON l.person_id = p.id
         WHERE l.login = session_user AND p.active),
        CASE WHEN hsm_is_agent() THEN session_user::text END)
$$;
CREATE OR REPLACE FUNCTION hsm_my_roles() RETURNS TABLE (role text, department_id integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT g.role, g.department_id FROM role_grants g JOIN people p ON p.id = g.person_id
    JOIN person_logins l ON l.person_id = p.id WHERE l.login = session_user AND p.active
$$;
CREATE OR REPLACE FUNCTION hsm_sees_all() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT hsm_is_agent() OR EXISTS (SELECT 1 FROM hsm_my_roles() r
        WHERE r.department_id IS NULL AND r.role IN ('supervisor', 'records_officer'))
$$;
CREATE OR REPLACE FUNCTION hsm_has_role(wanted text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT EXISTS (SELECT 1 FROM hsm_my_roles() r WHERE r.role = wanted)
$$;
CREATE OR REPLACE FUNCTION hsm_my_departments() RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT CASE WHEN hsm_sees_all() THEN ARRAY(SELECT id FROM departments)
        ELSE ARRAY(SELECT DISTINCT r.department_id FROM hsm_my_roles() r
                   WHERE r.role <> 'administrator' AND r.department_id IS NOT NULL) END
$$;
CREATE OR REPLACE FUNCTION hsm_my_sites() RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT ARRAY(SELECT id FROM sites WHERE department_id = ANY (hsm_my_departments()))
$$;
CREATE OR REPLACE FUNCTION hsm_chain_head(OUT id integer, OUT entry_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT id, entry_hash FROM action_log ORDER BY id DESC LIMIT 1
$$;
CREATE OR REPLACE FUNCTION hsm_locked_chain_head(lock_key bigint, OUT id integer,
    OUT entry_hash text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    -- A VOLATILE function's next statement reads with a new snapshot: the head committed
    -- by whoever held the lock before, not the one this call's statement began with.
    SELECT a.id, a.entry_hash INTO id, entry_hash FROM action_log a ORDER BY a.id DESC LIMIT 1;
END
$$;
CREATE OR REPLACE FUNCTION hsm_chain_links(after_id integer, how_many integer)
RETURNS TABLE (id integer, prev_hash text, entry_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT e.id, e.prev_hash, e.entry_hash FROM action_log e
    WHERE e.id > after_id AND (hsm_sees_all() OR EXISTS (SELECT 1 FROM hsm_my_roles() r
        WHERE r.role IN ('supervisor', 'records_officer', 'administrator')))
    ORDER BY e.id LIMIT how_many
$$;
"""
# Every person may call these; the agent too (it has no person, or one of its own).
HELPERS = ("hsm_is_agent()", "hsm_me()", "hsm_my_roles()", "hsm_sees_all()",
           "hsm_has_role(text)", "hsm_my_departments()", "hsm_my_sites()",
           "hsm_chain_head()", "hsm_locked_chain_head(bigint)",
           "hsm_chain_links(integer, integer)")  # fmt: skip


def _create_group(name: str) -> str:
    # Group roles are cluster-wide: another database's `db roles` may create one at once.
    return (f"DO $$ BEGIN CREATE ROLE {name} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")  # fmt: skip


def statements(sequences: dict[str, str]) -> list[str]:
    """The DDL of `apply`, in order; `sequences`: each table's id sequence, where it has one."""
    everyone = ", ".join(g.value for g in Group)
    ddl = [_create_group(g.value) for g in Group]
    ddl.append(_HELPERS)
    for helper in HELPERS:
        ddl += [f"REVOKE ALL ON FUNCTION {helper} FROM PUBLIC",
                f"GRANT EXECUTE ON FUNCTION {helper} TO {Group.PERSON}, {Group.AGENT}"]  # fmt: skip
    ddl.append("GRANT USAGE ON SCHEMA public TO " + everyone)
    for name, table in TABLES.items():
        ddl.append(f"REVOKE ALL ON {name} FROM PUBLIC, {everyone}")
        sequence = sequences.get(name)
        if sequence is not None:
            ddl.append(f"REVOKE ALL ON SEQUENCE {sequence} FROM PUBLIC, {everyone}")
        for group, privileges in table.grants.items():
            ddl.append(f"GRANT {privileges} ON {name} TO {group}")
            if sequence is not None and "INSERT" in privileges:
                ddl.append(f"GRANT USAGE ON SEQUENCE {sequence} TO {group}")
        ddl += _policies(name, table)
    return ddl


def _policies(name: str, table: Table) -> list[str]:
    if table.scope in (Scope.OWNER, Scope.CITY):
        return [f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY"]
    ddl = [f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"]
    if table.scope is Scope.LOG:
        return [
            *ddl,
            f"CREATE POLICY hsm_all_rows ON {name} FOR SELECT TO {Group.AGENT}, {DISPOSER} "
            "USING (true)",
            f"CREATE POLICY hsm_person_reads ON {name} FOR SELECT TO {Group.PERSON} "
            f"USING {_LOG_READ}",
            f"CREATE POLICY hsm_person_writes ON {name} FOR INSERT TO {Group.PERSON} "
            f"WITH CHECK {_LOG_WRITE}",
            f"CREATE POLICY hsm_agent_writes ON {name} FOR INSERT TO {Group.AGENT} "
            f"WITH CHECK {_AGENT_LOG_WRITE}",
        ]
    rows = _ROWS[table.scope]
    if table.citywide:
        rows = f"(department_id = ANY ({_MINE}) OR department_id IS NULL)"
    if table.administrators:
        rows = f"({rows} OR {_ADMINISTRATOR})"
    if table.own is not None:
        mine = f"({table.own} = (SELECT hsm_me()))"
        return [
            *ddl,
            f"CREATE POLICY hsm_person_reads ON {name} FOR SELECT TO {Group.PERSON} USING {rows}",
            f"CREATE POLICY hsm_person_adds ON {name} FOR INSERT TO {Group.PERSON} "
            f"WITH CHECK ({rows} AND {mine})",
            f"CREATE POLICY hsm_person_changes ON {name} FOR UPDATE TO {Group.PERSON} "
            f"USING {mine} WITH CHECK ({rows} AND {mine})",
            f"CREATE POLICY hsm_person_deletes ON {name} FOR DELETE TO {Group.PERSON} USING {mine}",
        ]
    return [
        *ddl,
        f"CREATE POLICY hsm_person_rows ON {name} TO {Group.PERSON} USING {rows} WITH CHECK {rows}",
        # The agent and hsm_dispose (which checks each row itself): every row; what they
        # may do with it is their table grants'.
        f"CREATE POLICY hsm_all_rows ON {name} FOR ALL TO {Group.AGENT}, {DISPOSER} "
        "USING (true) WITH CHECK (true)",
    ]


_SEQUENCES = (
    "SELECT table_name, pg_get_serial_sequence(table_name, 'id') FROM information_schema.columns "
    "WHERE table_schema = 'public' AND column_name = 'id' AND table_name = ANY(:names)"
)


def apply(connection: Connection) -> None:
    """Create or update the group roles, grants and policies in the caller's transaction."""
    names = list(TABLES)
    found = connection.execute(text(_SEQUENCES), {"names": names})
    sequences = {table: sequence for table, sequence in found if sequence is not None}
    for table, policy in connection.execute(
        text("SELECT tablename, policyname FROM pg_policies WHERE schemaname = 'public' "
             "AND tablename = ANY(:names) AND policyname LIKE 'hsm\\_%'"), {"names": names}
    ):  # fmt: skip
        connection.exec_driver_sql(f'DROP POLICY "{policy}" ON {table}')
    for statement in statements(sequences):
        connection.exec_driver_sql(statement)


# --- a person's login --------------------------------------------------------------------

_LOGIN = re.compile(r"[a-z_][a-z0-9_.@-]{0,62}")
_RESERVED = ("pg_", "hsm_")
_RESERVED_NAMES = frozenset({"public", "none", "postgres", "current_user", "session_user",
                             "current_role", "user"})  # fmt: skip


def login_problem(login: str) -> str | None:
    """Why `login` cannot be a person's database login, or None."""
    if not _LOGIN.fullmatch(login) or len(login.encode()) > 63:
        return (f"{login!r} cannot be a database login: use 1 to 63 lower-case letters, digits, "
                "'_', '.', '@' or '-', starting with a letter or '_'.")  # fmt: skip
    if login.startswith(_RESERVED) or login in _RESERVED_NAMES:
        return f"{login!r} is a name PostgreSQL or HSM Console keeps for itself."
    return None


def default_login(account: str) -> str:
    """The login an account signs in with: `CITYHALL\\jdoe` -> `jdoe` (what SSPI and GSSAPI
    give with include_realm=0, or a pg_ident.conf map from `jdoe@CITYHALL.LOCAL`)."""
    return account.rsplit("\\", 1)[-1].lower()


def quoted(login: str) -> str:
    """A checked login as an identifier (it may hold '.', '@' and '-')."""
    assert login_problem(login) is None
    return f'"{login}"'


def groups_for(roles: Iterable[Role], active: bool) -> frozenset[Group]:
    """The group roles a person's login is a member of: none once deactivated."""
    if not active:
        return frozenset()
    return frozenset({Group.PERSON, *(GROUPS[r] for r in roles)})


def membership_statements(login: str, held: Iterable[str], wanted: frozenset[Group]) -> list[str]:
    """GRANT and REVOKE that make `login` a member of exactly `wanted` among HSM's groups
    (the agent's membership is IT's, never changed here)."""
    ours = {g.value for g in Group if g is not Group.AGENT}
    now = {h for h in held if h in ours}
    want = {g.value for g in wanted}
    name = quoted(login)
    return [f"GRANT {g} TO {name}" for g in sorted(want - now)] + [
        f"REVOKE {g} FROM {name}" for g in sorted(now - want)
    ]
