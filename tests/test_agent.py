"""The City-wide mode's agent (docs/design.md, "The agent"): workstations record (steps 1-2),
agents carry out (steps 3-4) exactly once, over real PostgreSQL and real HTTP to the sandbox.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import func, select, text

from hsm_console.app import App
from hsm_console.cli.main import build_parser
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    AgentJob,
    Comment,
    LogEntry,
    SealedSecret,
    Site,
    SiteLease,
    utcnow,
)
from hsm_console.errors import ConfigurationError, NotPossible
from hsm_console.host.config import load_settings
from hsm_console.host.credentials import (
    KEYRING_SERVICE,
    CredentialStore,
    TokenSet,
    credential_key,
)
from hsm_console.rules.bans import BanState, city_today
from hsm_console.rules.domain import Action, EntryState, Platform, Role
from hsm_console.rules.policy import load_policy
from hsm_console.services import admin
from hsm_console.services.agent import AgentService, AgentStore, SealingStore
from hsm_console.services.doctor import Verdict, diagnose
from hsm_console.services.tokens import TokenProvider
from hsm_console.services.verify import verify_log
from hsm_sandbox.faults import FaultKind
from hsm_sandbox.server import SandboxServer
from tests.conftest import FAST_NETWORK, World, build_world

pytestmark = pytest.mark.postgres


@pytest.fixture
def bare(postgres_db: Database, sandbox: SandboxServer) -> World:
    """The tests' world on PostgreSQL plus dan, a second moderator of Police (four
    moderators: alice, bob, carol, dan)."""
    world = build_world(postgres_db, sandbox)
    with postgres_db.transaction() as session:
        dan = admin.ensure_person(session, "dan", "Dan Moderator")
        police = session.get(Site, world.police_site)
        assert police is not None
        admin.grant(session, dan, Role.MODERATOR, police.department)
    return world


@pytest.fixture
def city(bare: World) -> World:
    """`bare`, synced the single-workstation way."""
    bare.app("alice").sync.sync()
    bare.app("carol").sync.sync()
    bare.sandbox.reset()  # the seed again, as synced; no request seen yet
    return bare


_opened: list[Database] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().dispose()


def _database(world: World) -> Database:
    """A connection pool of its own, as another computer's program has."""
    db = Database(world.db.engine.url.render_as_string(hide_password=False))
    _opened.append(db)
    return db


def _workstation(world: World, username: str, wait: float = 0.0) -> App:
    """A workstation in the City-wide mode."""
    db = _database(world)
    return App(
        db=db, policy=load_policy(), username=username, agent_wait=wait,
        credentials=SealingStore(db, username), connector_overrides=dict(FAST_NETWORK),
    )  # fmt: skip


def _agent(world: World, name: str, lease: float = 1.0, stale_after: float = 1.0) -> AgentService:
    """An agent with quick heartbeats: by default a second without one means it stopped."""
    service = AgentService(
        _database(world), load_policy(), name, "hsm_agent_login",
        overrides=dict(FAST_NETWORK), heartbeat=0.1, stale_after=stale_after, lease=lease,
        poll=0.05,
    )  # fmt: skip
    service.register()
    return service


def _comments(world: World, site_id: int, count: int, skip: int = 0) -> list[Comment]:
    with world.db.session() as session:
        found = session.scalars(
            select(Comment)
            .where(Comment.site_id == site_id, Comment.platform_state == "visible")
            .order_by(Comment.id)
            .offset(skip)
            .limit(count)
        ).all()
        session.expunge_all()
    assert len(found) == count
    return list(found)


def _posts(sandbox: SandboxServer) -> int:
    return len(sandbox.requests_seen("POST")) + len(sandbox.requests_seen("DELETE"))


def _until(done: Callable[[], bool], what: str, tries: int = 2400) -> None:
    """Wait for something another thread or process does (a safety stop, not a bound)."""
    for _ in range(tries):
        if done():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def _jobs(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(AgentJob)) or 0


def _outcomes(db: Database, entry_id: int) -> list[LogEntry]:
    with db.session() as session:
        return list(session.scalars(select(LogEntry).where(LogEntry.outcome_of == entry_id)))


def test_the_workstation_records_and_the_agent_carries_it_out(city: World) -> None:
    station = _workstation(city, "alice")
    comment = _comments(city, city.parks_site, 1)[0]

    sent = station.moderation.act(comment.id, Action.HIDE, "PRF", "Profanity.")

    # Steps 1-2 only: pending entry and job committed, nothing asked of the platform.
    assert sent.sent
    assert sent.outcome_entry_id is None
    assert "sent to the agent" in sent.message
    assert _posts(city.sandbox) == 0
    assert _jobs(city.db) == 1
    agent = _agent(city, "a")
    assert agent.work() == 1
    [outcome] = _outcomes(city.db, sent.pending_entry_id)
    assert (outcome.state, outcome.actor) == (EntryState.APPLIED.value, "hsm_agent_login")
    assert len(city.sandbox.requests_seen("POST", comment.external_id)) == 1
    assert _jobs(city.db) == 0
    with city.db.session() as session:
        shown = session.get(Comment, comment.id)
        assert shown is not None
        assert (shown.status, shown.platform_state, shown.pending_entry_id) == (
            "hidden", "hidden", None,
        )  # fmt: skip
    assert verify_log(city.db).ok


def test_a_running_agent_answers_the_moderator_within_the_wait(city: World) -> None:
    agent = _agent(city, "a")
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,))
    runner.start()
    try:
        comment = _comments(city, city.parks_site, 1)[0]
        result = _workstation(city, "bob", wait=30.0).moderation.act(comment.id, Action.HIDE, "PRF")
    finally:
        stop.set()
        runner.join()
    assert result.ok
    assert result.message.startswith("Hidden on Facebook; recorded as log entry")
    assert result.outcome_entry_id is not None
    assert result.outcome_entry_id > result.pending_entry_id
    with city.db.session() as session:  # a clean stop hands its leases over at once
        assert session.scalar(select(func.count()).select_from(SiteLease)) == 0


def test_a_workstation_in_agent_mode_never_calls_a_platform(city: World) -> None:
    hide, bulk = _comments(city, city.parks_site, 1), _comments(city, city.parks_site, 3, 1)
    station = _workstation(city, "alice")

    station.moderation.act(hide[0].id, Action.HIDE, "PRF")
    results = station.moderation.act_many([c.id for c in bulk], Action.REMOVE, "SPM")
    with pytest.raises(NotPossible, match="agent"):
        station.sync.sync()
    with city.db.transaction() as session:
        with pytest.raises(NotPossible, match="agent"):
            station.connectors(session.get_one(Site, city.parks_site))
        pat = admin.ensure_person(session, "pat", "Pat Supervisor")
        parks = session.get(Site, city.parks_site)
        assert parks is not None
        admin.grant(session, pat, Role.SUPERVISOR, parks.department)
    ends = city_today(utcnow()) + timedelta(days=30)
    ban = station.bans.propose(hide[0].id, "Spam links in three comments.", ["SPM"], ends)
    supervisor = _workstation(city, "pat")
    approved = supervisor.bans.approve(ban.id, "Plainly spam.")

    assert [r.state for r in results if not isinstance(r, Exception)] == [EntryState.PENDING] * 3
    assert approved.state is EntryState.PENDING
    assert "sent to the agent" in approved.message
    assert city.sandbox.requests_seen() == []  # not a single call, not even a read
    assert _jobs(city.db) == 5  # a hide, three removals, a ban: all the agent's
    agent = _agent(city, "a")
    assert agent.work() == 5
    assert _posts(city.sandbox) == 5  # hide, three removals, the Page's block: once each
    assert supervisor.bans.get(ban.id).state is BanState.ACTIVE
    assert verify_log(city.db).ok


def test_two_agents_and_four_workstations_act_once_each(city: World) -> None:
    """Four moderators hide at once, two agents carry out: each action once, none lost, the
    chain unforked."""
    work = {
        "alice": _comments(city, city.parks_site, 4),
        "bob": _comments(city, city.parks_site, 4, 4),
        "carol": _comments(city, city.police_site, 4),
        "dan": _comments(city, city.police_site, 4, 4),
    }
    stop = threading.Event()
    # Neither stops here: on a loaded machine a heartbeat late by a second must not make the
    # other agent take over (that is the killed-agent test's case).
    agents = [_agent(city, name, stale_after=60.0) for name in ("a", "b")]
    runners = [threading.Thread(target=a.run, args=(stop,)) for a in agents]
    results: dict[str, list[object]] = {}

    def moderate(username: str) -> None:
        station = _workstation(city, username, wait=0.5)
        results[username] = [
            station.moderation.act(c.id, Action.HIDE, "PRF") for c in work[username]
        ]

    stations = [threading.Thread(target=moderate, args=(u,)) for u in work]
    for thread in runners + stations:
        thread.start()
    for thread in stations:
        thread.join()
    _until(lambda: _jobs(city.db) == 0, "every job carried out")
    stop.set()
    for thread in runners:
        thread.join()

    assert sum(len(r) for r in results.values()) == 16
    for comments in work.values():
        for comment in comments:  # once each: no second call by the other agent
            assert len(city.sandbox.requests_seen("POST", comment.external_id)) == 1
    with city.db.session() as session:
        pending = session.scalars(
            select(LogEntry.id).where(LogEntry.state == "pending", LogEntry.kind == "action")
        ).all()
        outcomes = session.execute(
            select(LogEntry.outcome_of, LogEntry.state).where(LogEntry.outcome_of.in_(pending))
        ).all()
        by_agent = session.execute(
            select(LogEntry.actor, func.count())
            .where(LogEntry.outcome_of.in_(pending))
            .group_by(LogEntry.actor)
        ).all()
    assert len(pending) == 16
    assert sorted(o or 0 for o, _ in outcomes) == sorted(pending)  # one each, none lost
    assert {state for _, state in outcomes} == {"applied"}
    assert by_agent == [("hsm_agent_login", 16)]
    assert verify_log(city.db).ok


def test_each_site_is_synced_by_one_agent_and_taken_over_when_its_lease_lapses(
    bare: World,
) -> None:
    a, b = _agent(bare, "a", lease=0.5), _agent(bare, "b", lease=0.5)
    sites = sorted([bare.parks_site, bare.police_site])

    assert [s.id for s in a.take_leases()] == sites
    assert b.take_leases() == []
    a.beat()  # renewed: still a's
    assert b.take_leases() == []
    with bare.db.transaction() as session:  # a stops beating; its leases run out
        session.execute(text("UPDATE agent_site_leases SET expires_at = now() - interval '1s'"))
    assert [s.id for s in b.take_leases()] == sites
    assert a.take_leases() == []
    assert b.sync_due() == 2
    assert b.sync_due() == 0
    assert bare.sandbox.requests_seen("GET") != []


def test_an_agent_of_the_same_name_already_running_is_refused(bare: World) -> None:
    _agent(bare, "a")
    with pytest.raises(ConfigurationError, match="already running"):
        _agent(bare, "a")


@pytest.mark.expected_log("interrupted in another run")
def test_an_agent_killed_at_the_platform_call_is_reconciled_by_the_other(
    city: World, tmp_path: Path
) -> None:
    comment = _comments(city, city.parks_site, 1)[0]
    # The platform holds the call open: the agent is inside step 3 when it dies.
    city.sandbox.faults.add(FaultKind.SLOW, method="POST", path=comment.external_id, seconds=60)
    sent = _workstation(city, "alice").moderation.act(comment.id, Action.HIDE, "PRF")
    url = city.db.engine.url.render_as_string(hide_password=False)
    with (tmp_path / "agent.log").open("w") as errors:
        child = subprocess.Popen(
            [
                sys.executable, "-m", "hsm_console", "agent", "run", "--name", "killed",
                "--heartbeat", "0.1", "--stale-after", "1", "--sync-minutes", "1000",
            ],
            env={**os.environ, "HSM_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
            stderr=errors,
        )  # fmt: skip
    try:
        _until(
            lambda: len(city.sandbox.requests_seen("POST", comment.external_id)) == 1,
            "the killed agent's call reaching the platform",
        )
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert _outcomes(city.db, sent.pending_entry_id) == []

    survivor = _agent(city, "survivor")
    _until(lambda: survivor.work() == 1, "the survivor taking the job over")

    [outcome] = _outcomes(city.db, sent.pending_entry_id)
    assert outcome.detail.startswith("Completed by reconciliation after an interruption")
    assert outcome.state == EntryState.FAILED.value  # the platform still shows it visible
    assert len(city.sandbox.requests_seen("POST", comment.external_id)) == 1  # never twice
    assert _jobs(city.db) == 0
    assert verify_log(city.db).ok


def _parks_on_x(world: World) -> Site:
    """A real (not demo) site, whose tokens an administrator connects."""
    with world.db.transaction() as session:
        parks = session.get(Site, world.parks_site)
        assert parks is not None
        site = admin.ensure_site(
            session, parks.department, Platform.X, "Parks on X", "4400000001",
            "https://api.x.com", {},
        )  # fmt: skip
        session.flush()
        session.expunge(site)
        return site


def test_a_sealed_token_reaches_the_agent_only(bare: World, file_keyring: PlaintextKeyring) -> None:
    agent = _agent(bare, "a")
    site = _parks_on_x(bare)
    secret = TokenSet("access-TOKEN-7f3a", refresh_token="refresh-TOKEN-91c2")
    station = _workstation(bare, "ada")

    station.credentials.set_tokens(site, secret)

    assert keyring.get_password("HSM Console", credential_key(site)) is None  # not kept here
    with bare.db.session() as session:
        everything = session.scalar(text("SELECT string_agg(s::text, ' ') FROM sealed_secrets s"))
    assert everything is not None
    assert credential_key(site) in everything
    assert "TOKEN" not in everything  # sealed: neither token is readable in the database
    assert agent.open_sealed() == 1
    assert agent.store.get_tokens(site).refresh_token == "refresh-TOKEN-91c2"
    with bare.db.session() as session:
        assert session.scalar(select(func.count()).select_from(SealedSecret)) == 0


class _Ring(CredentialStore):
    """A keyring file of its own (one process has one keyring; two agents need two)."""

    ring: PlaintextKeyring

    def _read(self, key: str) -> str | None:
        return self.ring.get_password(KEYRING_SERVICE, key)

    def _write(self, key: str, text: str) -> None:
        self.ring.set_password(KEYRING_SERVICE, key, text)


class _OwnKeyring(AgentStore, _Ring):
    def __init__(self, db: Database, name: str, path: Path) -> None:
        super().__init__(db, name)
        self.ring = PlaintextKeyring()
        self.ring.file_path = str(path)  # type: ignore[misc]


def test_two_agents_never_both_renew_a_rotating_refresh_token(
    bare: World, file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    """X spends its refresh token on every renewal: the agents renew a site one at a time, and
    the second uses the token the first renewed and sealed to it, never the spent one."""
    a, b = _agent(bare, "a"), _agent(bare, "b")
    site = _parks_on_x(bare)
    lapsing = TokenSet("access-0", "refresh-0", utcnow() + timedelta(seconds=30))
    for agent in (a, b):  # each its own keyring, as on two servers
        agent.store = _OwnKeyring(bare.db, agent.name, tmp_path / f"{agent.name}.cfg")
        agent.store.write_local(credential_key(site), lapsing.to_json())
    spent: list[str] = []
    inside = threading.Event()

    def refresh(_: Site, tokens: TokenSet, now: datetime) -> TokenSet:
        assert tokens.refresh_token not in spent, "a spent refresh token was used again"
        assert tokens.refresh_token is not None
        spent.append(tokens.refresh_token)
        inside.set()
        time.sleep(0.3)  # the other agent asks meanwhile
        n = len(spent)
        return TokenSet(f"access-{n}", f"refresh-{n}", now + timedelta(hours=2))

    got: dict[str, str] = {}

    def use(agent: AgentService) -> None:
        provider = TokenProvider(agent.store, refresh, shared=agent.renewing)
        got[agent.name] = provider.current(site)

    first = threading.Thread(target=use, args=(a,))
    first.start()
    assert inside.wait(10)
    use(b)  # due as well in its own keyring, and waits for a's renewal
    first.join()
    assert spent == ["refresh-0"]
    assert got == {"a": "access-1", "b": "access-1"}
    assert b.store.get_tokens(site).refresh_token == "refresh-1"  # sealed to it by a


def test_the_workstations_see_each_sign_in_as_the_agent_holds_it(
    bare: World, file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    """A workstation holds no token: its Sign-in column and doctor show the state and expiry
    the agent publishes (never a token)."""
    agent = _agent(bare, "a")
    with bare.db.transaction() as session:
        parks = session.get(Site, bare.parks_site)
        assert parks is not None
        x, tiktok = (
            admin.ensure_site(session, parks.department, platform, name, account, url, {})
            for platform, name, account, url in (
                (Platform.X, "Parks on X", "4400000001", "https://api.x.com"),
                (Platform.TIKTOK, "Parks on TikTok", "parks-open-id", "https://open.tiktokapis.com"),
            )
        )  # fmt: skip
        session.flush()
        session.expunge_all()
    ends = utcnow() + timedelta(days=3)
    station = _workstation(bare, "ada")
    station.credentials.set_tokens(
        x, TokenSet("access-SECRET", "refresh-SECRET", None, "bearer", ends)
    )
    assert agent.open_sealed() == 1
    assert agent.publish_sign_ins() == 4  # both demo sites, X, and TikTok (not connected)
    assert agent.publish_sign_ins() == 0  # nothing changed: nothing written

    sign_ins = station.connect.sign_ins()
    assert sign_ins[x.id].words.startswith("renews itself until ")
    assert sign_ins[x.id].words.endswith("(agent a)")
    assert "connect the site again before then" in sign_ins[x.id].warning
    assert sign_ins[tiktok.id].words == "not connected with the agent (agent a)"
    with bare.db.session() as session:
        published = session.scalar(text("SELECT string_agg(s::text, ' ') FROM agent_sign_ins s"))
    assert published is not None
    assert "SECRET" not in published
    checks = {f.check: f for f in diagnose(bare.db, "ada", tmp_path, by_agent=True)}
    assert checks["site 3 Parks on X (x) sign-in"].verdict is Verdict.WARN
    assert checks["site 4 Parks on TikTok (tiktok) sign-in"].verdict is Verdict.FAIL
    assert checks["live update triggers"].verdict is Verdict.OK

    with bare.db.transaction() as session:  # the token lapsed on the agent: said at once
        session.execute(text("DROP TRIGGER action_log_live ON action_log"))
    agent.store.set_tokens(x, TokenSet("access-SECRET", "refresh-SECRET", None, "bearer",
                                       utcnow() - timedelta(hours=1)))  # fmt: skip
    assert agent.store.changed.is_set()
    assert agent.publish_sign_ins() == 1
    checks = {f.check: f for f in diagnose(bare.db, "ada", tmp_path, by_agent=True)}
    assert checks["site 3 Parks on X (x) sign-in"].verdict is Verdict.FAIL
    live = checks["live update triggers"]
    assert (live.verdict, live.words) == (Verdict.WARN, "missing or disabled: action_log_live")


def test_a_token_an_agent_renews_is_sealed_to_the_other(
    bare: World, file_keyring: PlaintextKeyring
) -> None:
    a, b = _agent(bare, "a"), _agent(bare, "b")
    with bare.db.session() as session:
        site = session.get(Site, bare.parks_site)
        assert site is not None
        session.expunge(site)
    AgentStore(bare.db, "a").set_tokens(site, TokenSet("rotated-access", "rotated-refresh"))
    with bare.db.session() as session:
        assert session.scalars(select(SealedSecret.agent)).all() == ["b"]
    assert a.open_sealed() == 0
    assert b.open_sealed() == 1


def test_no_agent_no_sealing_and_doctor_says_so(bare: World, tmp_path: Path) -> None:
    with bare.db.session() as session:
        site = session.get(Site, bare.parks_site)
        assert site is not None
    with pytest.raises(ConfigurationError, match="Start the agent first"):
        SealingStore(bare.db, "ada").set_tokens(site, TokenSet("x"))
    checks = {f.check: f for f in diagnose(bare.db, "ada", tmp_path, CredentialStore(),
                                           by_agent=True)}  # fmt: skip
    assert checks["agent heartbeat"].verdict is Verdict.FAIL
    _agent(bare, "a")
    checks = {f.check: f for f in diagnose(bare.db, "ada", tmp_path, by_agent=True)}
    assert checks["agent heartbeat"].verdict is Verdict.OK
    assert "running: a on" in checks["agent heartbeat"].words


def test_the_setting_and_its_refusals(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HSM_ACTIONS_BY", "agent")
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        load_settings(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert load_settings("postgresql://city@db/hsm").by_agent
    monkeypatch.setenv("HSM_ACTIONS_BY", "everyone")
    with pytest.raises(ConfigurationError, match="workstation, agent"):
        load_settings("postgresql://city@db/hsm")
    sqlite = Database(f"sqlite:///{tmp_path / 'y.sqlite3'}")
    with pytest.raises(ConfigurationError, match="PostgreSQL database only"):
        AgentService(sqlite, load_policy(), "a", "me")
    sqlite.dispose()


def test_the_systemd_unit_runs_the_command_the_program_has() -> None:
    unit = (Path(__file__).resolve().parents[1] / "installer" / "hsm-agent.service").read_text(
        encoding="utf-8"
    )
    [start] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    args = build_parser().parse_args(start.split()[1:])
    assert (args.command, args.agent_command, args.name) == ("agent", "run", "%H")
    assert "KillSignal=SIGTERM" in unit.splitlines()
