"""`hsm-console doctor`: is this computer and its database fit to moderate? One line per check,
OK / WARN / FAIL, and for anything not OK what to do about it, in plain words.

Read-only, except a probe entry written to and deleted from the keyring under a service name
of its own and a probe file in the debug log folder. It never migrates, never sends a token
(a platform is asked one unauthenticated GET: any HTTP answer proves it reachable), and says
nothing a token could be read from. Sites and their sign-ins are shown to administrators for
every department, to others for the departments they work for; people who are not users of
the console see the checks of the computer and the database only.
"""

from __future__ import annotations

import enum
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring
import requests
from keyring.errors import KeyringError
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from hsm_console.connectors.http import ApiClient, HttpSettings
from hsm_console.db.chain import chain_head
from hsm_console.db.engine import Database
from hsm_console.db.models import AgentJob, Site, SiteConnection
from hsm_console.display import local_time, safe_text
from hsm_console.errors import PlatformError, UserError
from hsm_console.host.credentials import CredentialStore
from hsm_console.rules.seals import SEAL_EVERY
from hsm_console.services.access import resolve_actor
from hsm_console.services.agent import agents_seen
from hsm_console.services.connect import ConnectService
from hsm_console.services.health import (
    HeldByAgents,
    TokenHealth,
    TokenState,
    site_token_health,
)
from hsm_console.services.seals import latest_seal

PROBE_SERVICE = "hsm-console-doctor"  # never the tokens' own service name
PLATFORM_TIMEOUT_S = 5.0
# The tables the database itself keeps append-only, and the triggers that do it, as the
# migrations at head leave them (db/append_only.py, db/disposal.py, migrations 0003 to 0011).
APPEND_ONLY = (
    "retained_records", "action_log", "comment_versions", "capture_gaps",
    "disposal_certificates", "disposed_records",
)  # fmt: skip
_TRIGGERS = {
    "sqlite": ("{}_no_update", "{}_no_delete"),
    "postgresql": ("{}_append_only", "{}_no_truncate"),
}
# What tells every open window of a change, on PostgreSQL (migration 0016, services/live.py).
LIVE_TRIGGERS = frozenset({"comments_live_insert", "comments_live_update", "action_log_live",
                           "presence_live"})  # fmt: skip
# What writes the dashboard's decisions from the log (migration 0026) and counts the comments
# of each site and status (migration 0029), on both databases.
DASHBOARD_TRIGGERS = frozenset({"action_log_decided", "comments_counted_insert",
                                "comments_counted_update", "comments_counted_delete"})  # fmt: skip
_DB_HELP = (
    "Check the database address (--database, HSM_DATABASE_URL or database_url in the "
    "settings file) and that the database server is running; IT has the details."
)


class Verdict(enum.StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    check: str
    verdict: Verdict
    words: str
    todo: str = ""  # what to do, when not OK


def expected_triggers(dialect: str) -> frozenset[str]:
    return frozenset(name.format(t) for t in APPEND_ONLY for name in _TRIGGERS[dialect])


def catalog_names(db: Database, sqlite_query: str, postgresql_query: str) -> frozenset[str]:
    """The names a catalog query lists, in the database's own dialect."""
    query = sqlite_query if db.is_sqlite else postgresql_query
    with db.engine.connect() as connection:
        return frozenset(str(name) for name in connection.execute(text(query)).scalars())


def present_triggers(db: Database) -> frozenset[str]:
    """Trigger names read from the catalog (PostgreSQL: enabled ones only)."""
    return catalog_names(
        db, "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'",
    )  # fmt: skip


def diagnose(
    db: Database,
    username: str,
    log_folder: Path,
    credentials: CredentialStore | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    by_agent: bool = False,
) -> list[Finding]:
    """Every check, in order; the database's later checks only when it can be read. In the
    City-wide mode (`by_agent`), the agent's heartbeat too, and the sign-ins the agents
    publish in place of this computer's keyring."""
    findings = [_schema(db)]
    if findings[0].verdict is not Verdict.FAIL:
        findings += [_triggers(db), _dashboard_trigger(db), _chain(db, clock())]
        if not db.is_sqlite:
            findings.append(_live_triggers(db))
        if by_agent:
            findings.append(_agent_heartbeat(db))
    findings += [_keyring(), _log_folder(log_folder)]
    if findings[0].verdict is not Verdict.FAIL:
        # The City-wide mode: the sign-ins are the agents', as they publish them.
        store = credentials or (HeldByAgents(db) if by_agent else CredentialStore())
        findings += list(_sites(db, username, store, clock()))
    return findings


def _agent_heartbeat(db: Database) -> Finding:
    seen = agents_seen(db)
    running = [f"{name} on {host}" for name, host, alive in seen if alive]
    stopped = [f"{name} on {host}" for name, host, alive in seen if not alive]
    with db.session() as session:
        waiting = session.scalar(select(func.count()).select_from(AgentJob)) or 0
    if running:
        words = f"running: {', '.join(running)}"
        if stopped:
            words += f"; stopped: {', '.join(stopped)}"
        return Finding("agent heartbeat", Verdict.OK, f"{words}; {waiting} action(s) waiting")
    return Finding(
        "agent heartbeat", Verdict.FAIL,
        (f"no heartbeat from {', '.join(stopped)}" if stopped else "no agent has ever started")
        + f"; {waiting} action(s) waiting for it",
        "Actions are recorded but not carried out on the platforms, and nothing is synced. "
        "IT starts the agent on the City's server (docs/deployment.md, 4. The agent; "
        "hsm-console agent status).",
    )  # fmt: skip


def _schema(db: Database) -> Finding:
    try:
        current = db.current_revision()
    except SQLAlchemyError as exc:
        cause = type(getattr(exc, "orig", None) or exc).__name__
        return Finding("database", Verdict.FAIL, f"cannot be reached ({cause})", _DB_HELP)
    head = db.head_revision()
    if current == head:
        return Finding("database", Verdict.OK, f"reachable ({db.dialect}), schema {head}")
    return Finding(
        "database", Verdict.FAIL,
        f"the schema is at {current or 'nothing (empty database)'}, this program needs {head}",
        "An administrator runs: hsm-console db upgrade (after a backup: hsm-console db backup).",
    )  # fmt: skip


def _triggers(db: Database) -> Finding:
    return _present(
        db, "append-only triggers", expected_triggers(db.dialect), Verdict.FAIL,
        "Records can be altered now. Run hsm-console verify-log, tell the City Clerk's office, "
        "and have the database administrator restore the trigger (or the database from a "
        "backup).",
    )  # fmt: skip


def _dashboard_trigger(db: Database) -> Finding:
    # The dashboard's decisions and backlog are derived by these triggers (migrations 0026 and
    # 0029): without them the dashboard silently stops counting new decisions or comments.
    return _present(
        db, "dashboard triggers", DASHBOARD_TRIGGERS, Verdict.WARN,
        "The dashboard's figures no longer follow new decisions or comments; the log and the "
        "comments themselves are whole. The database's owner restores the trigger and refills "
        "its table (dashboard_decisions from the log, migration 0026; comment_counts from the "
        "comments, migration 0029: their DDL and backfill); IT has the details.",
    )  # fmt: skip


def _live_triggers(db: Database) -> Finding:
    return _present(
        db, "live update triggers", LIVE_TRIGGERS, Verdict.WARN,
        "Open windows no longer learn of others' actions until they reload (F5); nothing is "
        "lost. The database's owner runs: hsm-console db upgrade, or restores the trigger "
        "(migration 0016's DDL).",
    )  # fmt: skip


def _present(db: Database, check: str, wanted: frozenset[str], missing_is: Verdict, todo: str
             ) -> Finding:  # fmt: skip
    missing = sorted(wanted - present_triggers(db))
    if not missing:
        return Finding(check, Verdict.OK, f"all {len(wanted)} present")
    return Finding(check, missing_is, f"missing or disabled: {', '.join(missing)}", todo)


def _chain(db: Database, now: datetime) -> Finding:
    with db.session() as session:
        head_id, head_hash = chain_head(session)
        try:
            seal = latest_seal(session)
        except UserError as exc:
            return Finding("log", Verdict.FAIL, exc.message)
    head = f"head entry {head_id} ({head_hash[:16]}...)"
    if head_id == 0:
        return Finding("log", Verdict.OK, "empty: nothing logged yet")
    if seal is None:
        return Finding(
            "log", Verdict.WARN, f"{head}; never sealed",
            "A records officer runs: hsm-console seal (a sync seals once a day by itself).",
        )  # fmt: skip
    age = now - seal.sealed_at
    words = f"{head}; newest seal {local_time(seal.sealed_at)} ({_hours(age)} ago)"
    if age > 2 * SEAL_EVERY:
        return Finding(
            "log", Verdict.WARN, words,
            "No seal for two days: run a sync, or a records officer runs hsm-console seal.",
        )  # fmt: skip
    return Finding("log", Verdict.OK, words)


def _keyring() -> Finding:
    probe = secrets.token_hex(8)
    try:
        keyring.set_password(PROBE_SERVICE, "probe", probe)
        read = keyring.get_password(PROBE_SERVICE, "probe")
        keyring.delete_password(PROBE_SERVICE, "probe")
    except (KeyringError, OSError) as exc:  # NoKeyringError; a file keyring's own folder
        return Finding(
            "keyring", Verdict.FAIL, f"cannot be used ({type(exc).__name__})",
            "Sign in to the desktop session (its keyring unlocks with it) or ask IT to set "
            "one up; sites cannot be connected or synced from this computer until then.",
        )  # fmt: skip
    if read != probe:
        return Finding(
            "keyring", Verdict.FAIL, "gave back something other than what was written",
            "Ask IT to check this computer's keyring.",
        )  # fmt: skip
    return Finding("keyring", Verdict.OK, f"usable ({type(keyring.get_keyring()).__name__})")


def _log_folder(folder: Path) -> Finding:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return Finding(
            "debug log folder", Verdict.WARN, f"{folder} cannot be written ({exc.strerror})",
            "Ask IT to give your account write access to it; without it problems leave no "
            "trace for IT.",
        )  # fmt: skip
    return Finding("debug log folder", Verdict.OK, f"{folder} is writable")


def _sites(
    db: Database, username: str, credentials: CredentialStore, now: datetime
) -> Iterator[Finding]:
    with db.session() as session:
        try:
            actor = resolve_actor(session, username)
        except UserError:
            # The agent's own login is no person, but syncs every site with its keyring.
            if not _is_agent(db):
                yield Finding("sites", Verdict.WARN, f"not shown: {username} is not a console user")
                return
            actor = None
        sites = [
            s for s in session.scalars(select(Site).where(Site.active).order_by(Site.id))
            if actor is None or actor.administers or actor.works_for(s.department_id)
        ]  # fmt: skip
        marks = {m.site_id: m.reconnect_needed_at for m in session.scalars(select(SiteConnection))}
        session.expunge_all()
    if actor is not None and actor.administers:
        sign_ins = ConnectService(db, username, credentials, clock=lambda: now).sign_ins()
    else:
        sign_ins = {
            s.id: site_token_health(credentials, s, marks.get(s.id), now)
            for s in sites
            if not s.is_sandbox
        }
    for site in sites:
        name = f"site {site.id} {safe_text(site.name)} ({site.platform})"
        yield _reachable(name, site)
        if site.id in sign_ins:
            yield _sign_in(name, site.id, sign_ins[site.id], now)


def _is_agent(db: Database) -> bool:
    """Whether this login is an agent's (db/roles.py), which may read every site."""
    if db.is_sqlite:
        return False
    try:
        with db.engine.connect() as connection:
            return bool(connection.execute(text("SELECT hsm_is_agent()")).scalar())
    except SQLAlchemyError:  # a login that may not even ask: no agent's
        return False


def _reachable(name: str, site: Site) -> Finding:
    answered: list[int] = []

    def status(response: requests.Response) -> PlatformError:
        answered.append(response.status_code)
        return PlatformError(f"HTTP {response.status_code}")

    client = ApiClient(
        site.base_url, platform_name=site.platform, error_parser=status,
        settings=HttpSettings(timeout=PLATFORM_TIMEOUT_S, retries=0, backoff=0),
    )  # fmt: skip
    try:
        client.send("GET", "")
        answered.append(200)
    except PlatformError as exc:
        if not answered:
            return Finding(
                f"{name} platform", Verdict.FAIL, f"{site.base_url} cannot be reached",
                f"{exc.message} If it persists, ask IT whether this computer may reach "
                f"{site.base_url}.",
            )  # fmt: skip
    finally:
        client.close()
    if answered[0] >= 500:
        return Finding(
            f"{name} platform", Verdict.WARN, f"{site.base_url} answers with an error "
            f"(HTTP {answered[0]})", "The platform may be having trouble; try a sync later.",
        )  # fmt: skip
    return Finding(f"{name} platform", Verdict.OK, f"{site.base_url} answers")


def _sign_in(name: str, site_id: int, health: TokenHealth, now: datetime) -> Finding:
    check = f"{name} sign-in"
    reconnect = f"An administrator runs: hsm-console admin connect {site_id}"
    if health.state in (TokenState.NOT_CONNECTED, TokenState.NEEDS_RECONNECTING):
        return Finding(check, Verdict.FAIL, health.words, reconnect)
    if health.state is TokenState.UNREADABLE:
        return Finding(check, Verdict.FAIL, health.words, "See the keyring check above.")
    if health.until is not None and health.until <= now:
        return Finding(check, Verdict.FAIL, health.words, reconnect)
    if health.warning:
        return Finding(check, Verdict.WARN, health.words, reconnect + " before then.")
    return Finding(check, Verdict.OK, health.words)


def _hours(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
