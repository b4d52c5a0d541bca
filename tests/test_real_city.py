"""Issue 8's "Done when", kept: a City set up from nothing by the README's commands, every
platform connected by its own sign-in to the sandbox as if it were the real API, synced and
acted on; the tokens aged past their lifetimes and renewed by themselves with nothing missed;
one site's sign-in revoked, marked, reconnected and its gap read back. No token, code or
secret in the database, the log file or the terminal.

The commands run as the command line's own entry point (`hsm_console.cli.main.main`) in a
child process, a batch of them per process (`Console.run`): the same parsing, services,
output and exit codes as `hsm-console ...` typed one by one, without paying an interpreter
start for each of some forty commands. The child shares the test's sandbox over real HTTP,
and the "browser" answers each sign-in address the child prints (`--no-browser`) as a person
would: the consent form POSTed, the redirect followed to the console's loopback listener.

The WordPress site on the REAL WordPress through the window's code path
(`services/connect.py`) is `tests/test_connect.py::
test_the_real_wordpress_refuses_a_wrong_password_and_connects_with_the_right_one`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import select

from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, LogEntry, Post, Site
from hsm_console.host.identity import os_username
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer
from hsm_sandbox.demo import guide
from hsm_sandbox.signin import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from tests.test_credentials import ROOT, dump

# One site of every platform, as the sandbox's start message lists them (checked below):
# platform, the site's name, whether the platform lets the City hide a comment.
SITES = (
    ("facebook", "Parks on Facebook", True),
    ("instagram", "Parks on Instagram", True),
    ("youtube", "Parks on YouTube", True),
    ("x", "Parks on X", True),
    ("tiktok", "Parks on TikTok", True),
    ("linkedin", "City on LinkedIn", False),
    ("wordpress", "Parks blog", True),
    ("discourse", "Community forum", True),
)
OAUTH_APPS = ("facebook", "youtube", "x", "tiktok", "linkedin")  # `admin app` for each
RENEWS = {"youtube", "x", "tiktok"}  # access tokens under a day, renewed by a refresh token

# Runs each command given as JSON [[argv, stdin], ...] through the CLI's entry point, each
# preceded by a marker line and followed by one with its exit code.
_DRIVER = """
import io, json, sys
from hsm_console.cli.main import main
for argv, stdin in json.loads(sys.argv[1]):
    print("@@@ " + json.dumps(argv), flush=True)
    sys.stdin = io.StringIO(stdin)
    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    print(f"@@@ exit {code}", flush=True)
"""
_MARK = re.compile(r"^@@@ (\[.*\])$")
_EXIT = re.compile(r"^@@@ exit (\d+)$")


class Addable(Protocol):
    def add_comment(self, post_id: Any, text: str, /) -> Any: ...


@dataclass
class Said:
    """One command's exit code and what it printed (stdout and stderr together)."""

    argv: list[str]
    code: int = -1
    text: str = ""


class Browser:
    """The person at the browser: opens the sign-in address, presses Allow on the sandbox's
    consent form, follows the redirect to the console's loopback listener."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.pages: list[str] = []

    def visit(self, url: str) -> None:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
            form = answer.read().decode()
        action = re.search(r'action="([^"]+)"', form)
        consent = re.search(r'name="consent" value="([^"]+)"', form)
        assert action, form
        assert consent, form
        parts = urlsplit(url)
        post = urllib.request.Request(  # noqa: S310 (loopback)
            f"{parts.scheme}://{parts.netloc}{action[1]}",
            data=urlencode({"consent": consent[1], "decision": "approve"}).encode(),
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(post, timeout=10)
            raise AssertionError("the consent form did not redirect")
        except urllib.error.HTTPError as redirect:  # a 302 not followed comes back as one
            status, back = redirect.code, redirect.headers["Location"]
            redirect.close()
        assert status == 302
        self.codes += parse_qs(urlsplit(back).query).get("code", [])
        with urllib.request.urlopen(back, timeout=10) as page:  # noqa: S310 (loopback)
            self.pages.append(page.read().decode())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the browser's next step is ours to take


@dataclass
class Console:
    """The command line of one computer: its database file, keyring file and log folder."""

    home: Path
    browser: Browser = field(default_factory=Browser)
    transcript: list[str] = field(default_factory=list)

    @property
    def database(self) -> str:
        return f"sqlite:///{self.home / 'hsm-console.sqlite3'}"

    def run(self, *steps: tuple[str, ...] | tuple[tuple[str, ...], str]) -> list[Said]:
        """Each step is an argv, or (argv, what is piped to it); sign-in addresses that a
        command prints are opened in the browser while it waits."""
        batch = []
        for step in steps:
            argv, stdin = (step[0], step[1]) if isinstance(step[0], tuple) else (step, "")
            batch.append([["--database", self.database, *argv], stdin])
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "XDG_DATA_HOME": str(self.home / "data"),  # the keyring file lives here
            "XDG_STATE_HOME": str(self.home / "state"),  # the log folder
            "XDG_CONFIG_HOME": str(self.home / "config"),
        }
        said: list[Said] = []
        visits: list[threading.Thread] = []
        with subprocess.Popen(
            [sys.executable, "-c", _DRIVER, json.dumps(batch)], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        ) as child:  # fmt: skip
            assert child.stdout is not None
            for line in child.stdout:
                self.transcript.append(line)
                if (mark := _MARK.match(line)) is not None:
                    said.append(Said(json.loads(mark[1])[2:]))
                elif (ended := _EXIT.match(line)) is not None:
                    said[-1].code = int(ended[1])
                else:
                    said[-1].text += line
                    if line.startswith("http://"):  # --no-browser: the address to open
                        visit = threading.Thread(target=self.browser.visit, args=(line.strip(),))
                        visit.start()
                        visits.append(visit)
            assert child.wait(timeout=60) == 0, "".join(self.transcript[-20:])
        for visit in visits:
            visit.join(10)
        assert len(said) == len(steps), "".join(self.transcript[-20:])
        return said

    def ok(self, *steps: tuple[str, ...] | tuple[tuple[str, ...], str]) -> list[Said]:
        said = self.run(*steps)
        for one in said:
            assert one.code == 0, f"{one.argv}: {one.text}"
        return said

    def logs(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in (self.home / "state").rglob("*") if p.is_file()
        )


def seeded(sandbox: SandboxServer) -> dict[str, tuple[str, list[str]]]:
    """Each platform's seeded account id and the `--api-url` (and Facebook's version) that
    the sandbox's start message gives a new user, read from that message itself."""
    found = {}
    for line in guide(sandbox.url):
        words = line.split()
        if line.startswith("  ") and "--api-url" in words:
            found[words[0]] = (words[1], words[2:])
    return found


def comments_of(db: Database, site_id: int) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Comment.external_id).where(Comment.site_id == site_id)))


def first_post(db: Database, site_id: int) -> str:
    with db.session() as session:
        posts = session.scalars(select(Post).where(Post.site_id == site_id).order_by(Post.id))
        return next(iter(posts)).external_id


def store(sandbox: SandboxServer, platform: str) -> Addable:
    found: Addable = sandbox.state[platform]  # type: ignore[assignment]
    return found


def post_comments(
    sandbox: SandboxServer, db: Database, ids: dict[str, int], words: str, *platforms: str
) -> dict[str, str]:
    """A new comment on the first post read of each platform's site, by someone in the public;
    the comments' ids as the console keeps them."""
    added = {}
    for platform in platforms:
        post: Any = first_post(db, ids[platform])
        if platform == "wordpress":
            post = int(post)
        made = str(store(sandbox, platform).add_comment(post, f"{words} ({platform})"))
        added[platform] = f"{post}:{made}" if platform == "tiktok" else made  # the console's id
    return added


def hidden_there(sandbox: SandboxServer, platform: str, external_id: str) -> bool:
    """Whether the platform itself now hides the comment from the public."""
    there: Any = sandbox.state[platform]
    if platform == "wordpress":  # a hidden blog comment is held for moderation
        return bool(there.status_of(int(external_id)) == "hold")
    # TikTok's id in the console is "video:comment"
    return bool(
        there.is_hidden(external_id.rpartition(":")[2] if platform == "tiktok" else external_id)
    )


def issued(sandbox: SandboxServer) -> set[str]:
    return {
        token
        for platform in ("facebook-user", "instagram", *OAUTH_APPS)
        for kind in ("access", "refresh")
        for token in sandbox.signin.tokens.tokens(platform, kind)
    }


def test_a_city_set_up_from_the_readme_connects_syncs_renews_and_recovers(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    city = Console(tmp_path)
    me = os_username()
    accounts = seeded(sandbox)
    assert set(accounts) == {platform for platform, _, _ in SITES}

    # --- the README's administration, on an empty database, without `demo` ------------
    setup: list[tuple[str, ...] | tuple[tuple[str, ...], str]] = [
        ("admin", "init"),
        ("admin", "department", "add", "PARKS", "Parks & Recreation"),
        ("sync",),  # too soon: the administrator moderates nothing yet
        ("admin", "person", "add", "CITYHALL\\jdoe", "Jane Doe"),
        ("admin", "role", "grant", "CITYHALL\\jdoe", "moderator", "--department", "PARKS"),
        ("admin", "role", "grant", me, "moderator", "--department", "PARKS"),
    ]
    for platform, name, _ in SITES:
        external_id, options = accounts[platform]
        setup.append(("admin", "site", "add", platform, external_id, "--name", name,
                      "--department", "PARKS", *options))  # fmt: skip
    for platform in OAUTH_APPS:
        setup.append((("admin", "app", platform, "--client-id", SANDBOX_CLIENT_ID),
                      SANDBOX_CLIENT_SECRET))  # fmt: skip
    ids = {platform: n for n, (platform, _, _) in enumerate(SITES, start=1)}  # a new database

    # --- each site by its own sign-in (in the same batch: one interpreter start) --------
    connects: list[tuple[str, ...] | tuple[tuple[str, ...], str]] = [
        ("admin", "connect", str(ids[platform]), "--no-browser", "--timeout", "30")
        for platform in ("youtube", "x", "tiktok", "linkedin", "facebook", "instagram")
    ]
    connects.append((("admin", "connect", str(ids["wordpress"]), "--user", "admin"),
                     SANDBOX_TOKEN))  # fmt: skip
    connects.append((("admin", "connect", str(ids["discourse"])), SANDBOX_TOKEN))
    said = city.run(*setup, *connects)
    too_soon = said.pop(2)
    assert too_soon.code == 1
    assert "moderates no department" in too_soon.text
    assert "admin role grant ACCOUNT moderator --department CODE" in too_soon.text
    for one in said:
        assert one.code == 0, f"{one.argv}: {one.text}"
    said, signed_in = said[: len(setup) - 1], said[len(setup) - 1 :]
    assert f"{me} is now the first administrator" in said[0].text
    assert "admin role grant 'CITYHALL\\jdoe' moderator" in said[2].text  # a hint to copy
    for n in ids.values():
        assert f"Added site {n}," in said[4 + n].text
        assert f"hsm-console admin connect {n}" in said[4 + n].text
    said = signed_in
    for one in said[:6]:
        assert "Open this address in a browser" in one.text
        assert "Opening the browser" not in one.text  # --no-browser opens none
    assert all("is connected by OAuth 2.0 sign-in with PKCE" in s.text for s in said[:4])
    assert "Facebook Login, the Page's own token" in said[4].text
    assert "Facebook Login, the linked Page's token" in said[5].text
    assert "user name and Application Password" in said[6].text
    assert "API key and user name" in said[7].text
    assert len(city.browser.codes) == 6
    assert all("You can close this window" in page for page in city.browser.pages)
    secrets = issued(sandbox)

    # --- sync, queue, act -----------------------------------------------------------------
    synced, queue, newest = city.ok(
        ("sync",), ("queue", "--limit", "1000", "--json"), ("queue", "--limit", "5")
    )
    assert "The newest 5 are shown; --limit N shows more." in newest.text  # not the whole queue
    assert "Sync finished" in synced.text
    assert "FAILED" not in synced.text
    db = Database(city.database)
    read = {platform: comments_of(db, n) for platform, n in ids.items()}
    assert all(read.values()), read
    rows = json.loads(queue.text)
    first: dict[str, int] = {}
    for row in rows:
        first.setdefault(row["platform"], row["id"])
    assert set(first) == set(ids)
    acts = city.run(*[
        ("act", str(first[platform]), "hide", "--reason", "OFT", "--note", "walkthrough")
        for platform, _, _ in SITES
    ])  # fmt: skip
    for (_, _, hides), act in zip(SITES, acts, strict=True):
        if hides:
            assert act.code == 0, act.text
            assert "Hidden on" in act.text
        else:
            assert act.code == 1
            assert "does not allow the City to hide" in act.text
    with db.session() as session:
        for platform, _, hides in SITES:
            acted = session.get(Comment, first[platform])
            assert acted is not None
            if hides:
                assert hidden_there(sandbox, platform, acted.external_id), platform

    # --- the tokens age past their lifetimes; comments arrive meanwhile ------------------
    sandbox.signin.advance(timedelta(hours=25))  # YouTube 1 h, X 2 h, TikTok 24 h
    posted = post_comments(sandbox, db, ids, "Posted while the tokens aged", *ids)
    refreshes = len(sandbox.requests_seen("POST", "token"))
    [synced] = city.run(("sync",))
    assert synced.code == 0, synced.text
    assert f"from {len(SITES)} sites" in synced.text
    renewed = [seen.path.split("/")[1] for seen in sandbox.requests_seen("POST", "token")]
    assert sorted(renewed[refreshes:]) == sorted(RENEWS)  # each renewable site, once
    for platform, comment in posted.items():
        assert comment in comments_of(db, ids[platform]), platform  # nothing missed
    secrets |= issued(sandbox)

    # --- X's sign-in revoked: marked by name, the others go on ---------------------------
    assert sandbox.signin.revoke_all("x") >= 2
    gap = post_comments(sandbox, db, ids, "Posted while X's sign-in was revoked", *ids)
    [synced, health, refused] = city.run(
        ("sync",), ("health", "--json"), ("act", str(first["x"]), "unhide")
    )
    assert synced.code == 1
    assert "Parks on X FAILED: The site 'Parks on X' needs reconnecting" in synced.text
    assert f"from {len(SITES) - 1} of {len(SITES)} sites; 1 could not be read" in synced.text
    for platform, comment in gap.items():
        assert (comment in comments_of(db, ids[platform])) is (platform != "x"), platform
    x_health = next(h for h in json.loads(health.text) if h["site_id"] == ids["x"])
    assert x_health["token"]["state"] == "needs_reconnecting"
    assert refused.code == 1
    assert "needs reconnecting" in refused.text
    with db.session() as session:  # refused before anything was recorded
        assert session.scalars(select(LogEntry).where(LogEntry.action == "unhide")).all() == []
    later = post_comments(sandbox, db, ids, "Posted before X was reconnected", "x")

    # --- reconnected by an administrator, synced: the gap is listed and read back ---------
    connected, synced, health_text, health_json, verified = city.ok(
        ("admin", "connect", str(ids["x"]), "--no-browser", "--timeout", "30"),
        ("sync",), ("health",), ("health", "--json"), ("verify-log",),
    )  # fmt: skip
    assert "is connected by OAuth 2.0 sign-in with PKCE" in connected.text
    assert "FAILED" not in synced.text
    x_read = comments_of(db, ids["x"])
    assert gap["x"] in x_read
    assert later["x"] in x_read
    x_health = next(h for h in json.loads(health_json.text) if h["site_id"] == ids["x"])
    assert x_health["token"]["state"] == "renews"
    [lapsed] = [g for g in x_health["gaps"] if g["kind"] == "token"]
    assert lapsed["ended_at"] is not None
    assert "sign-in lapsed" in health_text.text
    assert "The action log is intact" in verified.text
    secrets |= issued(sandbox)

    # --- no token, code or secret anywhere it could leak --------------------------------
    secrets |= {*city.browser.codes, SANDBOX_CLIENT_SECRET, SANDBOX_TOKEN}
    assert len(secrets) > 12
    printed = "".join(city.transcript)
    logged = city.logs()
    assert f"site {ids['x']} needs reconnecting" in logged  # so searching it means something
    dumped = dump(db) + (tmp_path / "hsm-console.sqlite3").read_bytes()
    for secret in secrets:
        assert secret not in printed
        assert secret not in logged
        assert secret.encode() not in dumped
    with db.session() as session:
        assert all(not site.settings.get("demo_token") for site in session.scalars(select(Site)))
    db.dispose()
