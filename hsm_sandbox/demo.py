"""The demo: departments, people and sites served by the sandbox, and a throwaway demo database.

`hsm-console demo` adds the departments and sites to a database (`setup_demo`);
`hsm-console --demo` opens the window on a fresh database in a temporary folder, served by a
sandbox running in the same process (`DemoEnvironment`). The product's core knows nothing of
this module: demo sites carry their public token on the site row.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hsm_console.app import App, open_app
from hsm_console.db.engine import Database
from hsm_console.host.config import Settings
from hsm_console.rules.domain import Platform, Role
from hsm_console.services.admin import ensure_department, ensure_person, ensure_site, grant
from hsm_sandbox.seed import SANDBOX_TOKEN, build
from hsm_sandbox.server import SandboxServer
from hsm_sandbox.signin import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET


def sandbox_token(platform: str) -> str:
    """The public demo credential each sandboxed platform accepts, in that platform's form."""
    if platform == "wordpress":
        return f"admin:{SANDBOX_TOKEN}"  # WordPress: user name and application password
    return SANDBOX_TOKEN


@dataclass(frozen=True)
class DemoSetup:
    department: str
    sites: list[str]
    moderator: str


@dataclass(frozen=True)
class DemoSite:
    department: str  # department code
    platform: Platform
    name: str
    external_id: str
    prefix: str  # where the sandbox serves this platform
    settings: dict[str, Any]


DEMO_DEPARTMENTS = {"PARKS": "Parks & Recreation", "POLICE": "Police Department"}
# One site of every kind for Parks, and the Police Facebook page (another department).
DEMO_SITES = (
    DemoSite("PARKS", Platform.FACEBOOK, "Highland Parks & Recreation", "1000000000001", "",
             {"api_version": "v25.0"}),
    DemoSite("PARKS", Platform.INSTAGRAM, "@highlandparks", "17841400000000001", "/instagram",
             {"api_version": "v25.0"}),
    DemoSite("PARKS", Platform.YOUTUBE, "Highland Parks on YouTube", "UCHighlandParks000000001",
             "/youtube", {}),
    DemoSite("PARKS", Platform.X, "@HighlandParksIL", "1102323333", "/x", {}),
    DemoSite("PARKS", Platform.TIKTOK, "Highland Parks on TikTok", "highland-parks-open-id",
             "/tiktok", {}),
    DemoSite("PARKS", Platform.LINKEDIN, "City of Highland on LinkedIn",
             "urn:li:organization:1000001", "/linkedin", {}),
    DemoSite("PARKS", Platform.WORDPRESS, "Parks news blog", "parks-news", "/wordpress", {}),
    DemoSite("PARKS", Platform.DISCOURSE, "Highland community forum", "city-services",
             "/discourse", {"api_username": "system"}),
    DemoSite("POLICE", Platform.FACEBOOK, "Highland Police Department", "1000000000002", "",
             {"api_version": "v25.0"}),
)  # fmt: skip


def guide(sandbox_url: str) -> list[str]:
    """What a person setting up sites against the sandbox needs to type: each platform's API
    address and seeded account, the public app and secrets, and the control endpoints."""
    base = sandbox_url.rstrip("/")
    lines = ["Each platform's seeded account, for: hsm-console admin site add PLATFORM ID "
             "--api-url URL"]  # fmt: skip
    seen: set[Platform] = set()
    for demo in DEMO_SITES:
        if demo.platform not in seen:
            seen.add(demo.platform)
            extra = " --setting api_version=v25.0" if demo.platform is Platform.FACEBOOK else ""
            lines.append(
                f"  {demo.platform.value:<10} {demo.external_id:<28} --api-url {base}{demo.prefix}"
                f"{extra}"
            )
    lines += [
        f"The City's app on every OAuth platform (admin app PLATFORM): client id "
        f"{SANDBOX_CLIENT_ID}, client secret {SANDBOX_CLIENT_SECRET}.",
        "Sign-in pages ask only Allow or Cancel; Facebook Login manages the Pages "
        + ", ".join(d.external_id for d in DEMO_SITES if d.platform is Platform.FACEBOOK)
        + f". WordPress: user admin, application password {SANDBOX_TOKEN}; "
        f"Discourse: user system, API key {SANDBOX_TOKEN}.",
        'Control: POST /_sandbox/clock {"advance_seconds": N} ages the tokens; '
        'POST /_sandbox/revoke {"platform": "x"} revokes a platform\'s tokens; '
        "POST /_sandbox/reset.",
    ]
    return lines


def setup_demo(db: Database, sandbox_url: str, username: str, display_name: str) -> DemoSetup:
    """Demo departments and sandbox sites; the person moderates and supervises Parks only.

    The Police department gets its own demo moderator, so department isolation is visible.
    Running it again changes nothing.
    """
    base = sandbox_url.rstrip("/")
    with db.transaction() as session:
        departments = {
            code: ensure_department(session, code, name) for code, name in DEMO_DEPARTMENTS.items()
        }
        parks_sites = []
        for demo in DEMO_SITES:
            site = ensure_site(
                session, departments[demo.department], demo.platform, demo.name,
                demo.external_id, base + demo.prefix, demo.settings, sandbox_token(demo.platform),
            )  # fmt: skip
            if demo.department == "PARKS":
                parks_sites.append(site.name)
        person = ensure_person(session, username, display_name)
        grant(session, person, Role.MODERATOR, departments["PARKS"])
        grant(session, person, Role.SUPERVISOR, departments["PARKS"])
        grant(session, person, Role.RECORDS_OFFICER, departments["PARKS"])  # Parks' FOIA officer
        officer = ensure_person(session, "demo.police", "Demo Police Moderator")
        grant(session, officer, Role.MODERATOR, departments["POLICE"])
        return DemoSetup(departments["PARKS"].name, parks_sites, person.username)


class DemoEnvironment:
    """Owns the demo's folder and sandbox; `close` removes both.

    `sandbox_url`: a sandbox already running elsewhere, served to the demo sites instead of
    one started here (the self-test checks the console against another server with it).
    """

    def __init__(self, sandbox_url: str | None = None) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="hsm-console-demo-")
        folder = Path(self._folder.name)
        self.database_url = f"sqlite:///{folder / 'demo.sqlite3'}"
        self.seals_folder = folder / "seals"  # a throwaway log's seals stay with it
        self.sandbox: SandboxServer | None = None
        if sandbox_url is None:
            # Seed times end now, so the demo queue looks like today's.
            self.sandbox = SandboxServer(port=0, seed=build(end=datetime.now(UTC))).start()
            sandbox_url = self.sandbox.url
        self.sandbox_url = sandbox_url

    def open_app(self) -> App:
        app = open_app(Settings(self.database_url, seals_folder=self.seals_folder))
        setup_demo(app.db, self.sandbox_url, app.username, f"{app.username} (demo moderator)")
        return app

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
        self._folder.cleanup()
