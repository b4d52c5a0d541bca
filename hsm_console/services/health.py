"""Connection health: when each site was last read, what went wrong, and every gap.

A gap is an interval in which a site could not be read. The gap still open is bookkeeping in
`sync_state`; when the site is read again it becomes a `capture_gaps` record (append-only),
and that sync reads back from before the gap began (`read_back_from`).

"Program not running": when a sync starts more than NOT_RUNNING_FACTOR times the site's
expected interval after the last sync that read it, the time between is a gap. The expected
interval is the site setting `expected_sync_minutes` (EXPECTED_MINUTES if unset): auto-sync
runs every 5 to 60 minutes, so an hour's interval flags only real absences by default.

Token state (`TokenHealth`): read from this computer's keyring only (the tokens live where
the platform is called) and from the database's "needs reconnecting" mark; no token leaves
the keyring. A site that needs reconnecting cannot be synced: that interval is a gap of its
own kind (`GapKind.TOKEN`), closed by the first good sync after an administrator connects it
again, which reads back over it. WARN_BEFORE the last moment a site can still be read
without an administrator (the refresh token's expiry where the platform gives one, else the
access token's when it cannot renew), health warns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Agent,
    AgentSignIn,
    CaptureGap,
    Site,
    SiteConnection,
    SiteLease,
    SyncState,
    utcnow,
)
from hsm_console.display import local_time
from hsm_console.errors import ConfigurationError, NeedsReconnecting, PlatformError, UserError
from hsm_console.host.credentials import CredentialStore, TokenSet
from hsm_console.services.access import Actor
from hsm_console.services.limits import QuotaSpent

EXPECTED_MINUTES = 60
NOT_RUNNING_FACTOR = 2
WARN_BEFORE = timedelta(days=7)  # peers warn about a week before a sign-in ends


class GapKind(enum.StrEnum):
    PLATFORM = "platform"  # the platform failed, refused or could not be reached
    QUOTA = "quota"  # the platform's daily quota was spent
    WAIT = "wait"  # the platform announced a wait
    NOT_RUNNING = "not_running"  # no sync ran for longer than the site's expected interval
    # The site needed reconnecting: its platform refused its sign-in.
    TOKEN = "token"  # noqa: S105 (a kind of gap, not a token)

    @property
    def words(self) -> str:
        return {
            GapKind.TOKEN: "sign-in lapsed",
            GapKind.PLATFORM: "platform down or refusing",
            GapKind.QUOTA: "quota spent",
            GapKind.WAIT: "a wait the platform announced",
            GapKind.NOT_RUNNING: "program not running",
        }[self]


def kind_of(error: UserError) -> GapKind:
    if isinstance(error, NeedsReconnecting):
        return GapKind.TOKEN
    if isinstance(error, PlatformError) and error.retry_after is not None:
        return GapKind.WAIT
    if isinstance(error, QuotaSpent):
        return GapKind.QUOTA
    return GapKind.PLATFORM


def expected_interval(site: Site) -> timedelta:
    minutes = site.settings.get("expected_sync_minutes", EXPECTED_MINUTES)
    if not isinstance(minutes, int) or minutes < 1:
        minutes = EXPECTED_MINUTES
    return timedelta(minutes=minutes)


def state_of(session: Session, site_id: int) -> SyncState:
    """The site's sync bookkeeping, made on first use."""
    state = session.get(SyncState, site_id)
    if state is None:
        state = SyncState(site_id=site_id, cursor={})
        session.add(state)
        session.flush()
    return state


def _record(
    session: Session, site: Site, kind: GapKind, began: datetime, ended: datetime, detail: str
) -> None:
    session.add(
        CaptureGap(
            site_id=site.id, department_id=site.department_id, kind=kind.value,
            began_at=began, ended_at=ended, detail=detail, recorded_at=utcnow(),
        )
    )  # fmt: skip


def starting(session: Session, site: Site) -> datetime | None:
    """A sync of the site begins: records a "not running" gap if there was one; returns the
    time to read back from when the site was not read for a while (None: nothing missed)."""
    state = state_of(session, site.id)
    now = utcnow()
    if state.last_ok_at is None:
        return None
    if state.unreadable_since is not None:
        return state.last_ok_at
    interval = expected_interval(site)
    if now - state.last_ok_at > NOT_RUNNING_FACTOR * interval:
        detail = (
            f"No sync ran for {_duration(now - state.last_ok_at)} (expected every "
            f"{_duration(interval)})."
        )
        _record(session, site, GapKind.NOT_RUNNING, state.last_ok_at, now, detail)
        return state.last_ok_at
    return None


def failed(session: Session, site: Site, kind: GapKind, detail: str) -> None:
    """The site could not be read: opens a gap, or a new one if the reason changed."""
    state = state_of(session, site.id)
    now = utcnow()
    if state.unreadable_since is not None:
        if state.unreadable_kind == kind.value:
            state.unreadable_detail = detail
            return
        old = GapKind(state.unreadable_kind or GapKind.PLATFORM)
        _record(session, site, old, state.unreadable_since, now, state.unreadable_detail)
        state.unreadable_since = now
    else:
        # From the end of the last read, unless a "not running" gap already covers that.
        last = state.last_ok_at
        recent = last is not None and now - last <= NOT_RUNNING_FACTOR * expected_interval(site)
        state.unreadable_since = last if recent else now
    state.unreadable_kind = kind.value
    state.unreadable_detail = detail


def succeeded(session: Session, site: Site) -> None:
    """The site was read: the open gap, if any, becomes a record."""
    state = state_of(session, site.id)
    now = utcnow()
    if state.unreadable_since is not None:
        kind = GapKind(state.unreadable_kind or GapKind.PLATFORM)
        _record(session, site, kind, state.unreadable_since, now, state.unreadable_detail)
        state.unreadable_since = None
        state.unreadable_kind = None
        state.unreadable_detail = ""
    state.last_ok_at = now


@dataclass(frozen=True)
class Gap:
    kind: str
    words: str
    began_at: datetime
    ended_at: datetime | None  # None: still open
    detail: str


class TokenState(enum.StrEnum):
    NOT_CONNECTED = "not_connected"  # nothing stored on this computer
    RENEWS = "renews"  # a refresh token renews it (until `until`, when known)
    EXPIRES = "expires"  # lapses at `until`, and cannot renew
    NO_EXPIRY = "no_expiry"  # until revoked (a Facebook Page token, an API key)
    NEEDS_RECONNECTING = "needs_reconnecting"  # the platform refused it since `since`
    UNREADABLE = "unreadable"  # the keyring, or the site's entry in it, cannot be read


@dataclass(frozen=True)
class TokenHealth:
    """One site's sign-in as this computer holds it: state, times and words; never a token."""

    state: TokenState
    words: str
    until: datetime | None = None  # RENEWS: the refresh token's expiry; EXPIRES: the token's
    since: datetime | None = None  # NEEDS_RECONNECTING: when the platform refused it
    warning: str = ""  # set within WARN_BEFORE of `until`, for administrators


def token_health(
    site_name: str,
    tokens: TokenSet | None,
    reconnect_since: datetime | None,
    now: datetime,
    problem: str = "",
) -> TokenHealth:
    """The state of a site's sign-in from its stored `tokens` (None: nothing stored) and the
    database's mark; `problem` says why the keyring could not be read."""
    if reconnect_since is not None:
        return TokenHealth(
            TokenState.NEEDS_RECONNECTING,
            f"needs reconnecting since {local_time(reconnect_since)}",
            since=reconnect_since,
        )
    if problem:
        return TokenHealth(TokenState.UNREADABLE, f"cannot be read on this computer: {problem}")
    if tokens is None:
        return TokenHealth(TokenState.NOT_CONNECTED, "not connected on this computer")
    if tokens.refreshable:
        until = tokens.refresh_expires_at
        words = "renews itself" + (f" until {local_time(until)}" if until else "")
        return TokenHealth(TokenState.RENEWS, words, until, warning=_warning(site_name, until, now))
    if tokens.expires_at is not None:
        until = tokens.expires_at
        verb = "expired" if until <= now else "expires"
        return TokenHealth(
            TokenState.EXPIRES, f"{verb} {local_time(until)} (cannot renew itself)", until,
            warning=_warning(site_name, until, now),
        )  # fmt: skip
    return TokenHealth(TokenState.NO_EXPIRY, "does not expire")


def _warning(site_name: str, until: datetime | None, now: datetime) -> str:
    """Words for administrators within WARN_BEFORE of the sign-in's end ("" before)."""
    if until is None or until - now > WARN_BEFORE:
        return ""
    if until <= now:
        return (
            f"The sign-in of {site_name!r} ended {local_time(until)}: an administrator must "
            "connect the site again; until then its comments are not read."
        )
    days = max(1, round((until - now) / timedelta(days=1)))
    return (
        f"The sign-in of {site_name!r} ends {local_time(until)} (in about {days} "
        f"day{'s' if days != 1 else ''}): an administrator must connect the site again before "
        "then, or its comments stop arriving."
    )


_STAND_IN = "stand-in"  # no token: says only that the agent can renew it


class HeldByAgents(CredentialStore):
    """A workstation's keyring in the City-wide mode (services/agent.py's SealingStore): the
    agents hold the sites' tokens, so a site's sign-in is what they publish in
    `agent_sign_ins` (the state and expiry in each one's keyring, never a token)."""

    def __init__(self, db: Database) -> None:
        self.db = db


def published_token_health(
    db: Database, site: Site, reconnect_since: datetime | None, now: datetime
) -> TokenHealth:
    """A site's sign-in as the agents hold it: the one syncing it (its lease) first, then a
    running one, then whichever said last."""
    with db.session() as session:
        found = session.execute(
            select(AgentSignIn)
            .join(Agent, Agent.name == AgentSignIn.agent)
            .outerjoin(
                SiteLease,
                (SiteLease.site_id == AgentSignIn.site_id) & (SiteLease.holder == Agent.name),
            )
            .where(AgentSignIn.site_id == site.id)
            .order_by(SiteLease.holder.is_(None), Agent.beat_at.desc(), Agent.name)
            .limit(1)
        ).scalar()
        session.expunge_all()
    if found is None:
        if reconnect_since is not None:
            return token_health(site.name, None, reconnect_since, now)
        return TokenHealth(TokenState.NOT_CONNECTED, "no agent holds it yet")
    by = f" (agent {found.agent})"
    state = TokenState(found.state)
    if reconnect_since is None and state is TokenState.NOT_CONNECTED:
        return TokenHealth(state, f"not connected with the agent{by}")
    if reconnect_since is None and state is TokenState.UNREADABLE:
        return TokenHealth(state, f"the agent's keyring cannot be read: {found.problem}{by}")
    # The token_health of a stand-in with the published times (no token leaves the agent).
    stand_in = None
    if state is TokenState.RENEWS:
        stand_in = TokenSet("-", refresh_token=_STAND_IN, refresh_expires_at=found.until)
    elif state in (TokenState.EXPIRES, TokenState.NO_EXPIRY):
        stand_in = TokenSet("-", expires_at=found.until)
    health = token_health(site.name, stand_in, reconnect_since, now)
    return replace(health, words=health.words + by)


def site_token_health(
    credentials: CredentialStore, site: Site, reconnect_since: datetime | None, now: datetime
) -> TokenHealth:
    """`token_health` of a site from this computer's keyring (the agents', in the City-wide
    mode)."""
    if isinstance(credentials, HeldByAgents):
        return published_token_health(credentials.db, site, reconnect_since, now)
    try:
        tokens = credentials.find_tokens(site)
    except ConfigurationError as exc:
        return token_health(site.name, None, reconnect_since, now, exc.message)
    return token_health(site.name, tokens, reconnect_since, now)


@dataclass(frozen=True)
class SiteHealth:
    site_id: int
    site_name: str
    platform: str
    department: str
    last_ok_at: datetime | None
    last_error: str
    token: TokenHealth
    gaps: list[Gap] = field(default_factory=list)  # oldest first; an open gap last

    @property
    def readable(self) -> bool:
        return not self.gaps or self.gaps[-1].ended_at is not None


def health(
    db: Database,
    actor: Actor,
    credentials: CredentialStore | None = None,
    now: datetime | None = None,
) -> list[SiteHealth]:
    """Every site the person may see (moderates, supervises or administers), with its gaps
    and its sign-in's state in this computer's keyring (its warning for administrators)."""
    store = credentials or CredentialStore()
    now = now or utcnow()
    with db.session() as session:
        sites = [
            s
            for s in session.scalars(select(Site).order_by(Site.id))
            if actor.administers or actor.may_moderate(s.department_id)
            or actor.may_read_log(s.department_id)
        ]  # fmt: skip
        answer = []
        for site in sites:
            state = session.get(SyncState, site.id)
            gaps = [
                Gap(g.kind, GapKind(g.kind).words, g.began_at, g.ended_at, g.detail)
                for g in session.scalars(
                    select(CaptureGap).where(CaptureGap.site_id == site.id).order_by(CaptureGap.id)
                )
            ]
            if state is not None and state.unreadable_since is not None:
                kind = GapKind(state.unreadable_kind or GapKind.PLATFORM)
                gaps.append(
                    Gap(kind.value, kind.words, state.unreadable_since, None,
                        state.unreadable_detail)
                )  # fmt: skip
            mark = session.get(SiteConnection, site.id)
            token = site_token_health(store, site, mark.reconnect_needed_at if mark else None, now)
            if not actor.administers:  # the warning asks an administrator to act
                token = replace(token, warning="")
            answer.append(
                SiteHealth(
                    site.id, site.name, site.platform, site.department.name,
                    state.last_ok_at if state else None, state.last_error if state else "",
                    token, gaps,
                )
            )  # fmt: skip
        return answer


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = minutes // 60
    return f"{hours} hours" if hours < 48 else f"{hours // 24} days"
