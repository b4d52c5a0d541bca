"""The agent (docs/design.md, "The agent"): one headless process on a City server that holds
the platform tokens, runs the scheduled sync and carries out the platform step of every action
the workstations record, in the City-wide mode (`actions_by = "agent"`, PostgreSQL only).

- Jobs: a workstation commits an action's retained record, pending entry and job together
  (services/agent_jobs.py). The agent claims one with `FOR UPDATE SKIP LOCKED`, marks it
  claimed by this run (`instance`) and commits, then carries it out through the one way an
  action is carried out (`ModerationService.carry_out`, `BanService.carry_out_entry`); the job
  is deleted in the outcome entry's transaction. A job claimed before, by a run whose
  heartbeat has stopped, was interrupted somewhere around the platform call: it is reconciled
  from the platform's truth, never called again.
- Sync: each site has a lease (`agent_site_leases`) held by one agent until it expires; the
  heartbeat renews it, and another agent takes it over once it has expired.
- Tokens: the agent publishes an X25519 public key (its `agents` row); an administrator's
  workstation seals a site's tokens to it (libsodium's sealed box, PyNaCl) and the agent opens
  them into its own keyring and deletes the row. A token it renews is sealed to the other
  agents, so a refresh token that rotates on every use (X) stays current in both.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from base64 import b64decode, b64encode
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from sqlalchemy import ColumnElement, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Agent,
    AgentJob,
    AgentSignIn,
    Department,
    SealedSecret,
    Site,
    SiteLease,
    utcnow,
)
from hsm_console.errors import ConfigurationError
from hsm_console.host.credentials import CredentialStore, app_key
from hsm_console.rules.policy import Policy
from hsm_console.services.access import Actor
from hsm_console.services.agent_jobs import JobKind, outcome_of
from hsm_console.services.bans import BanService
from hsm_console.services.connector_factory import connector_factory
from hsm_console.services.health import HeldByAgents, TokenState, site_token_health
from hsm_console.services.moderation import ModerationService
from hsm_console.services.sync import SyncService
from hsm_console.services.tokens import TokenProvider, marks_in

log = logging.getLogger(__name__)

KEY_ENTRY = "agent-key:{name}"  # the agent's private key, in its own keyring

HEARTBEAT = 5.0  # seconds between heartbeats (and lease renewals)
STALE_AFTER = 30.0  # a heartbeat older than this: that run is gone
LEASE = 60.0  # a site's lease lasts this long unless renewed
POLL = 0.2  # seconds between looks for new jobs: the moderator waits about this
SYNC_EVERY = timedelta(minutes=15)
RETRY_RECONCILE = timedelta(seconds=30)  # after the platform could not be asked
RENEWAL_LOCK = 7315023  # pg_advisory_xact_lock's first key: one site's renewal at a time
PUBLISH_EVERY = 60.0  # seconds between publishing the sign-ins (at once after a change)


# --- sealing: the workstation's side -----------------------------------------------------


def seal(db: Database, sealed_by: str, key: str, text: str, *, skip: str | None = None) -> int:
    """Seal one keyring entry to every agent's public key (but `skip`'s); the number sealed.
    Only the agent's private key opens it: the database never holds the secret in clear."""
    with db.transaction() as session:
        agents = session.scalars(select(Agent).where(Agent.name != (skip or ""))).all()
        if not agents and skip is None:
            raise ConfigurationError(
                "No agent has published its key yet, so the credential cannot be sent to it "
                "and was not kept. Start the agent first (hsm-console agent on the City's "
                "server; docs/deployment.md, 4. The agent), then connect the site again."
            )
        for agent in agents:
            box = SealedBox(PublicKey(b64decode(agent.public_key))).encrypt(text.encode("utf-8"))
            session.add(
                SealedSecret(
                    agent=agent.name, key=key, sealed=b64encode(box).decode("ascii"),
                    sealed_by=sealed_by, sealed_at=utcnow(),
                )
            )  # fmt: skip
        return len(agents)


class SealingStore(HeldByAgents):
    """A workstation's keyring in the City-wide mode: a site's tokens are sealed to the agents
    and never kept here; the City's app is kept here too (an administrator signs in with it
    here, the agent renews with it there)."""

    kept_in = "the agents' keyrings, sealed to their keys (not this computer's)"

    def __init__(self, db: Database, username: str) -> None:
        super().__init__(db)
        self._db, self._username = db, username

    def _write(self, key: str, text: str) -> None:
        is_app = key.startswith(app_key(""))
        if is_app:
            super()._write(key, text)
        seal(self._db, self._username, key, text)


class AgentStore(CredentialStore):
    """The agent's keyring: what it renews is sealed to the other agents as well."""

    def __init__(self, db: Database, name: str) -> None:
        self._db, self._name = db, name
        self.changed = threading.Event()  # a token arrived or renewed: publish its state

    def write_local(self, key: str, text: str) -> None:
        super()._write(key, text)
        self.changed.set()

    def read_local(self, key: str) -> str | None:
        return self._read(key)

    def _write(self, key: str, text: str) -> None:
        super()._write(key, text)
        self.changed.set()
        seal(self._db, self._name, key, text, skip=self._name)


# --- the agent ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    job_id: int
    entry_id: int
    kind: JobKind
    interrupted: bool  # claimed before by a run that stopped: reconcile, never call again


class _AgentModeration(ModerationService):
    """The agent acts for no one: it syncs every site and completes what others recorded."""

    def actor(self, session: Session) -> Actor:
        every = frozenset(session.scalars(select(Department.id)))
        return Actor(self.username, "HSM agent", every, frozenset(), False)


class AgentService:
    """One run of `hsm-console agent`. `run` until `stop` is set; the tests drive its steps."""

    def __init__(
        self,
        db: Database,
        policy: Policy,
        name: str,
        username: str,
        *,
        overrides: dict[str, object] | None = None,
        heartbeat: float = HEARTBEAT,
        stale_after: float = STALE_AFTER,
        lease: float = LEASE,
        poll: float = POLL,
        sync_every: timedelta = SYNC_EVERY,
    ) -> None:
        if db.is_sqlite:
            raise ConfigurationError(
                "The agent works on the City's shared PostgreSQL database only: a "
                "single-workstation file needs no agent (each action is carried out in full "
                "by the console)."
            )
        self.db, self.name, self.username = db, name, username
        self.instance = str(uuid.uuid4())
        self.heartbeat, self.stale_after, self.lease = heartbeat, stale_after, lease
        self.poll, self.sync_every = poll, sync_every
        self.store = AgentStore(db, name)
        self.tokens = TokenProvider(self.store, on_refused=marks_in(db), shared=self.renewing)
        connectors = connector_factory(self.store, dict(overrides or {}), self.tokens, db)
        self.moderation = _AgentModeration(db, policy, connectors, username)
        self.bans = BanService(db, policy, connectors, username)
        self.sync = SyncService(db, connectors, self.moderation)
        self._synced: dict[int, float] = {}  # site id -> time.monotonic() of its last sync
        self._box: SealedBox[PrivateKey] | None = None
        self._published = -PUBLISH_EVERY  # time.monotonic() of the last publish_sign_ins

    # --- start: the key and the heartbeat row -------------------------------------------------

    def register(self) -> None:
        """Publish the public key (made once, the private key kept in this keyring) and start
        the heartbeat; refuse to run beside a live agent of the same name."""
        entry = KEY_ENTRY.format(name=self.name)
        stored = self.store.read_local(entry)
        private = PrivateKey(b64decode(stored)) if stored else PrivateKey.generate()
        if not stored:
            self.store.write_local(entry, b64encode(bytes(private)).decode("ascii"))
        self._box = SealedBox(private)
        public = b64encode(bytes(private.public_key)).decode("ascii")
        with self.db.transaction() as session:
            alive = session.execute(
                select(Agent.host, Agent.beat_at > self._stale_limit())
                .where(Agent.name == self.name, Agent.instance != self.instance)
                .with_for_update()
            ).first()
            if alive is not None and alive[1]:
                raise ConfigurationError(
                    f"An agent named {self.name!r} is already running (on {alive[0]}). Give "
                    "this one another name (--name) or stop that one first."
                )
            values = {
                "public_key": public, "instance": self.instance, "host": socket.gethostname(),
                "started_at": func.now(), "beat_at": func.now(),
            }  # fmt: skip
            stmt = pg_insert(Agent).values(name=self.name, **values)
            session.execute(stmt.on_conflict_do_update(index_elements=[Agent.name], set_=values))
        log.info("agent %s started (run %s)", self.name, self.instance)

    def _stale_limit(self) -> ColumnElement[datetime]:
        return func.now() - timedelta(seconds=self.stale_after)

    def beat(self) -> None:
        """The heartbeat: this run is alive, and its sites' leases are renewed."""
        with self.db.transaction() as session:
            session.execute(
                update(Agent)
                .where(Agent.name == self.name, Agent.instance == self.instance)
                .values(beat_at=func.now())
            )
            session.execute(
                update(SiteLease)
                .where(SiteLease.holder == self.name)
                .values(expires_at=func.now() + timedelta(seconds=self.lease))
            )

    # --- tokens --------------------------------------------------------------------------

    def open_sealed(self) -> int:
        """Open what was sealed to this agent into its keyring, and delete it; the count."""
        assert self._box is not None, "register() first"
        opened = 0
        with self.db.transaction() as session:
            # Taken and deleted in one statement: the agent's login may not UPDATE the table,
            # which SELECT ... FOR UPDATE would need; the keyring write commits with it.
            rows = session.execute(
                delete(SealedSecret)
                .where(SealedSecret.agent == self.name)
                .returning(SealedSecret.id, SealedSecret.key, SealedSecret.sealed,
                           SealedSecret.sealed_by)
            ).all()  # fmt: skip
            for row_id, key, sealed, sealed_by in sorted(rows):
                try:
                    text = self._box.decrypt(b64decode(sealed)).decode("utf-8")
                except (CryptoError, ValueError):
                    # Sealed to a key this agent no longer has: connect the site again.
                    log.error(
                        "sealed credential %s (for %s, from %s) does not open with this agent's "
                        "key; it was deleted: connect the site again", row_id, key, sealed_by,
                    )  # fmt: skip
                else:
                    self.store.write_local(key, text)
                    opened += 1
                    log.info("credential for %s received from %s", key, sealed_by)
        return opened

    def publish_sign_ins(self) -> int:
        """Publish each active site's token state in this agent's keyring (never a token) for
        the workstations (`agent_sign_ins`); the number of rows that changed."""
        self.store.changed.clear()
        now = utcnow()
        with self.db.transaction() as session:
            sites = session.scalars(select(Site).where(Site.active).order_by(Site.id)).all()
            rows = []
            for site in sites:
                health = site_token_health(self.store, site, None, now)  # the keyring alone
                problem = health.words if health.state is TokenState.UNREADABLE else ""
                rows.append(
                    {"agent": self.name, "site_id": site.id, "state": health.state.value,
                     "until": health.until, "problem": problem, "checked_at": now}
                )  # fmt: skip
            if not rows:
                return 0
            offer = pg_insert(AgentSignIn).values(rows)
            new = offer.excluded
            changed = session.execute(
                offer.on_conflict_do_update(
                    index_elements=[AgentSignIn.agent, AgentSignIn.site_id],
                    set_={"state": new.state, "until": new.until, "problem": new.problem,
                          "checked_at": new.checked_at},
                    where=or_(AgentSignIn.state != new.state, AgentSignIn.problem != new.problem,
                              AgentSignIn.until.is_distinct_from(new.until)),
                ).returning(AgentSignIn.site_id)
            ).all()  # fmt: skip
        self._published = time.monotonic()
        return len(changed)

    @contextmanager
    def renewing(self, site: Site) -> Iterator[None]:
        """One agent at a time renews a site's tokens: X rotates its refresh token on every
        use, so a second renewal with the old one would end the sign-in. Inside the lock a
        token another agent renewed meanwhile is opened first, and used instead."""
        with self.db.transaction() as session:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:key, :site)"),
                {"key": RENEWAL_LOCK, "site": site.id},
            )
            if self._box is not None:
                self.open_sealed()
            yield

    # --- jobs ----------------------------------------------------------------------------

    def claim(self) -> Claim | None:
        """The oldest job no live run holds, claimed by this run and committed."""
        live = select(Agent.instance).where(Agent.beat_at > self._stale_limit())
        with self.db.transaction() as session:
            job = session.scalar(
                select(AgentJob)
                .where(or_(AgentJob.claimed_by.is_(None), AgentJob.claimed_by.not_in(live)))
                .where(or_(AgentJob.not_before.is_(None), AgentJob.not_before <= func.now()))
                .order_by(AgentJob.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if job is None:
                return None
            claim = Claim(job.id, job.entry_id, JobKind(job.kind), job.attempts > 0)
            if outcome_of(session, job.entry_id) is not None:
                session.delete(job)  # completed already (its outcome is the proof)
                return None
            job.claimed_by, job.claimed_at = self.instance, utcnow()
            job.attempts += 1
        if claim.interrupted:
            log.warning(
                "job %s (log entry %s) was interrupted in another run: reconciling it from "
                "the platform, not calling again", claim.job_id, claim.entry_id,
            )  # fmt: skip
        return claim

    def carry_out(self, claim: Claim) -> None:
        """Steps 3-4 of the claimed job; the job leaves with the outcome entry."""

        def done(session: Session) -> None:
            session.execute(delete(AgentJob).where(AgentJob.id == claim.job_id))

        if claim.kind is JobKind.BAN:
            self.bans.carry_out_entry(claim.entry_id, interrupted=claim.interrupted, then=done)
            return
        result = self.moderation.carry_out(claim.entry_id, interrupted=claim.interrupted, then=done)
        if result is None:  # the platform could not be asked: reconcile again later
            with self.db.transaction() as session:
                session.execute(
                    update(AgentJob)
                    .where(AgentJob.id == claim.job_id)
                    .values(claimed_by=None, not_before=func.now() + RETRY_RECONCILE)
                )

    def work(self, limit: int = 100) -> int:
        """Claim and carry out jobs until none is left (or `limit`); how many were done."""
        done = 0
        while done < limit:
            claim = self.claim()
            if claim is None:
                break
            self.carry_out(claim)
            done += 1
        return done

    # --- sync ----------------------------------------------------------------------------

    def take_leases(self) -> list[Site]:
        """The active sites whose lease this agent holds now: its own, renewed, and any
        whose lease expired, taken over."""
        with self.db.transaction() as session:
            ids = list(session.scalars(select(Site.id).where(Site.active).order_by(Site.id)))
            if not ids:
                return []
            until = func.now() + timedelta(seconds=self.lease)
            offer = pg_insert(SiteLease).values(
                [{"site_id": i, "holder": self.name, "expires_at": until} for i in ids]
            )
            taken = offer.on_conflict_do_update(
                index_elements=[SiteLease.site_id],
                set_={"holder": offer.excluded.holder, "expires_at": offer.excluded.expires_at},
                where=or_(SiteLease.holder == self.name, SiteLease.expires_at < func.now()),
            ).returning(SiteLease.site_id)
            held = set(session.scalars(taken))
            sites = list(session.scalars(select(Site).where(Site.id.in_(held)).order_by(Site.id)))
            session.expunge_all()
            return sites

    def sync_due(self) -> int:
        """Sync the leased sites not synced by this run within `sync_every`; how many."""
        now = time.monotonic()
        every = self.sync_every.total_seconds()
        due = [s for s in self.take_leases() if now - self._synced.get(s.id, -every) >= every]
        if not due:
            return 0
        for result in self.sync.sync_sites(due):  # a failure is logged by SyncService
            self._synced[result.site_id] = time.monotonic()
        return len(due)

    def release(self) -> None:
        """On a clean stop: the leases go at once, and the heartbeat says this run ended."""
        with self.db.transaction() as session:
            session.execute(delete(SiteLease).where(SiteLease.holder == self.name))
            session.execute(
                update(Agent)
                .where(Agent.name == self.name, Agent.instance == self.instance)
                .values(beat_at=self._stale_limit())
            )

    # --- the process -----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: heartbeat, sync and jobs on threads of their own, so a long sync
        never holds up an action."""
        self.register()
        with (
            self._loop(stop, self.heartbeat, self._beat_and_open, "heartbeat"),
            self._loop(stop, self.heartbeat, self.sync_due, "sync"),
        ):
            while not stop.is_set():
                if not self._guarded(self.work, "jobs"):
                    stop.wait(self.poll)
        self._guarded(self.release, "release")
        log.info("agent %s stopped", self.name)

    def _beat_and_open(self) -> None:
        self.beat()
        self.open_sealed()  # a site connected meanwhile is usable within a heartbeat
        if self.store.changed.is_set() or time.monotonic() - self._published >= PUBLISH_EVERY:
            self.publish_sign_ins()

    @contextmanager
    def _loop(
        self, stop: threading.Event, every: float, step: Callable[[], object], what: str
    ) -> Iterator[None]:
        def loop() -> None:
            while not stop.is_set():
                self._guarded(step, what)
                stop.wait(every)

        thread = threading.Thread(target=loop, name=f"agent-{what}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    @staticmethod
    def _guarded(step: Callable[[], object], what: str) -> object:
        """One step; a failure (the database away, a bug) is logged and the loop goes on."""
        try:
            return step()
        except Exception:
            log.exception("agent: %s failed; trying again", what)
            return None


def agents_seen(db: Database, stale_after: float = STALE_AFTER) -> Sequence[tuple[str, str, bool]]:
    """(name, host, alive) of every agent that ever started, for `doctor`."""
    limit = func.now() - timedelta(seconds=stale_after)
    with db.session() as session:
        rows = session.execute(
            select(Agent.name, Agent.host, Agent.beat_at > limit).order_by(Agent.name)
        ).all()
    return [(name, host, bool(alive)) for name, host, alive in rows]
