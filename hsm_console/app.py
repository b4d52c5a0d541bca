"""The composition root: one place that wires settings, database, policy and services.

The command line and the window both start here, so they behave the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from hsm_console.connectors.base import Connector
from hsm_console.db.engine import Database
from hsm_console.db.models import Site
from hsm_console.errors import NotPossible, PermissionDenied
from hsm_console.host.config import Settings, default_seals_folder
from hsm_console.host.credentials import CredentialStore
from hsm_console.host.identity import os_username
from hsm_console.rules.policy import Policy, load_policy
from hsm_console.rules.site_checks import DEFAULT_POLICY_URL
from hsm_console.services.admin import AdminService, FirstRun, first_run
from hsm_console.services.agent_jobs import AGENT_WAIT
from hsm_console.services.connector_factory import ConnectorFactory, connector_factory
from hsm_console.services.moderation import ModerationService
from hsm_console.services.notes import NoteService
from hsm_console.services.seals import SealService, SealWritten
from hsm_console.services.tokens import TokenProvider, marks_in

# Imported on first use: the window's start needs none of them (sync brings screening's
# patterns, bans and retention the CSV writer), and each costs the start its import.
if TYPE_CHECKING:
    from hsm_console.services.bans import BanService
    from hsm_console.services.connect import ConnectService
    from hsm_console.services.records_requests import RecordsRequests
    from hsm_console.services.review import ReviewService
    from hsm_console.services.suggestions import SuggestionService
    from hsm_console.services.sync import SyncService


def _open_in_browser(url: str) -> bool:
    import webbrowser  # it probes for browsers at import: only when a sign-in asks

    return webbrowser.open(url)


@dataclass
class App:
    db: Database
    policy: Policy
    username: str
    credentials: CredentialStore = field(default_factory=CredentialStore)
    connector_overrides: dict[str, Any] = field(default_factory=dict)
    # Set when this start made the person the database's first administrator.
    first_run: FirstRun | None = None
    policy_url: str = DEFAULT_POLICY_URL  # the policy page the site checks look for
    # Opens a sign-in address; False when no browser could start. Tests consent in their own.
    open_browser: Callable[[str], bool] = _open_in_browser
    # Where seals are written (settings' seals_folder); None: this program makes no daily
    # seal (the tests' worlds, whose logs are counted entry by entry).
    seals_folder: Path | None = None
    # The database login (PostgreSQL), whose person `username` is; None on SQLite.
    login: str | None = None
    # The City-wide mode (settings' actions_by = "agent"): seconds a workstation waits for
    # the agent's outcome of an action it recorded; None: it carries out all five steps.
    agent_wait: float | None = None

    @property
    def by_agent(self) -> bool:
        return self.agent_wait is not None

    @cached_property
    def tokens(self) -> TokenProvider:
        """One per program: its per-site locks keep two threads from renewing one site."""
        return TokenProvider(self.credentials, on_refused=marks_in(self.db))

    @property
    def connectors(self) -> ConnectorFactory:
        if self.by_agent:
            return _no_platform_here
        return connector_factory(self.credentials, self.connector_overrides, self.tokens, self.db)

    @property
    def moderation(self) -> ModerationService:
        return ModerationService(
            self.db, self.policy, self.connectors, self.username, self.agent_wait
        )

    @property
    def review(self) -> ReviewService:
        from hsm_console.services.review import ReviewService

        return ReviewService(self.db, self.policy, self.moderation, self.username)

    @property
    def bans(self) -> BanService:
        from hsm_console.services.bans import BanService

        return BanService(self.db, self.policy, self.connectors, self.username, self.agent_wait)

    @property
    def notes(self) -> NoteService:
        return NoteService(self.db, self.username, self.policy.version)

    @property
    def suggestions(self) -> SuggestionService:
        from hsm_console.services.suggestions import SuggestionService

        return SuggestionService(self.db, self.username, self.policy.version)

    @property
    def admin(self) -> AdminService:
        return AdminService(self.db, self.username)

    @property
    def connect(self) -> ConnectService:
        from hsm_console.services.connect import ConnectService  # its connectors on first use

        return ConnectService(
            self.db, self.username, self.credentials, open_browser=self.open_browser,
            network=self.connector_overrides,
        )  # fmt: skip

    @property
    def sync(self) -> SyncService:
        from hsm_console.services.site_checks import SiteChecker
        from hsm_console.services.sync import SyncService

        return SyncService(
            self.db, self.connectors, self.moderation, checker=SiteChecker(self.policy_url),
            bans=self.bans,
            after=self.seal_if_due, refused=AGENT_SYNCS if self.by_agent else None,
        )  # fmt: skip

    @property
    def seals(self) -> SealService:
        return SealService(self.db, self.username, self.seals_folder or default_seals_folder())

    def seal_if_due(self) -> SealWritten | None:
        """The daily seal (services/seals.py), from sync and the window's start."""
        return None if self.seals_folder is None else self.seals.seal_if_due()

    @property
    def records_requests(self) -> RecordsRequests:
        from hsm_console.services.records_requests import RecordsRequests

        return RecordsRequests(self.db, self.policy, self.username)

    def close(self) -> None:
        self.db.dispose()


_PERSON_OF_LOGIN = (
    "SELECT p.username FROM people p JOIN person_logins l ON l.person_id = p.id "
    "WHERE l.login = session_user"
)


AGENT_SYNCS = (
    "In the City-wide mode the agent on the City's server reads the sites and carries out "
    "every action on the platforms; this workstation does not call them."
)


def _no_platform_here(site: Site) -> Connector:
    """The City-wide mode's guard: a workstation never calls a platform."""
    raise NotPossible(AGENT_SYNCS)


def current_username(db: Database) -> str:
    """The acting person: the OS account on SQLite; on PostgreSQL the person whose database
    login this is (`person_logins`), or the login itself while no person has it."""
    return identify(db)[0]


def identify(db: Database) -> tuple[str, str | None]:
    """(the acting person, the database login: None on SQLite)."""
    if db.is_sqlite:
        return os_username(), None
    with db.engine.connect() as connection:
        login = str(connection.execute(text("SELECT session_user")).scalar_one())
        try:
            person = connection.execute(text(_PERSON_OF_LOGIN)).scalar()
        except ProgrammingError as exc:
            raise PermissionDenied(
                f"The database login {login} is not set up for HSM Console: it may not read "
                "who its people are. Ask an administrator to add you (hsm-console admin "
                f"person add ACCOUNT NAME --login {login}).",
                details=str(exc.orig),
            ) from None
    return (str(person) if person is not None else login), login


def open_app(settings: Settings, *, migrate: bool = True, claim_first_run: bool = False) -> App:
    """`claim_first_run`: on a database without a single person, the one who starts the
    console becomes its first administrator (the demo does not ask for it)."""
    db = Database(settings.database_url)
    if migrate:
        db.ensure_schema()
    username, login = identify(db)
    app = App(
        db=db, policy=load_policy(), username=username, policy_url=settings.policy_url,
        seals_folder=settings.seals_folder, login=login,
    )  # fmt: skip
    if settings.by_agent:  # tokens go to the agent sealed, never into this keyring
        from hsm_console.services.agent import SealingStore  # PyNaCl: this mode alone

        app.agent_wait, app.credentials = AGENT_WAIT, SealingStore(db, username)
    if claim_first_run:
        try:
            app.first_run = first_run(db, app.username, login)
        except BaseException:
            app.close()
            raise
    return app
