"""The policy's own checks on the City's sites (Policy, Section 2): the rules on text, the
checks at sync kept per site and check, and who may see them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hsm_console.connectors.base import (
    Connector,
    Page,
    RemoteComment,
    RemotePost,
    SiteConfig,
)
from hsm_console.db.models import Comment, Site, SiteCheck
from hsm_console.errors import ConfigurationError, PermissionDenied
from hsm_console.host import config
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import Platform, PlatformState, Role
from hsm_console.rules.site_checks import (
    DEFAULT_POLICY_URL,
    Check,
    CheckState,
    PostLinks,
    check_posts,
    check_profile,
    find_links,
    is_city_link,
    is_policy_link,
    says_maintained,
)
from hsm_console.services import admin, site_checks
from hsm_console.services.site_checks import SiteChecker
from hsm_sandbox import FaultKind, SandboxServer
from tests.conftest import PARKS_PAGE, World
from tests.test_cli import Cli

POLICY = DEFAULT_POLICY_URL

# --- the rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The official Facebook Page of the City of Highland Parks & Recreation.",
        "City of Highland, Illinois: official account",
        "This page is maintained by the City of Highland.",
        "Managed by the City. Policy: highlandil.gov/social-media-policy",
        "OFFICIAL\naccount of the\nCITY OF HIGHLAND",
    ],
)
def test_words_that_say_the_city_maintains_the_site(text: str) -> None:
    assert says_maintained(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Parks, trails and events in Highland, IL",
        "Not an official account. Fans of Highland.",
        "Official fan page of Highland Park, Illinois",  # another city
        "maintained by the city council candidate Joe",
        "Not an official account of the City of Highland",
        "Unofficial City of Highland fan page",
        "Run by residents, not affiliated with the City of Highland (official site elsewhere)",
    ],
)
def test_words_that_do_not(text: str) -> None:
    assert not says_maintained(text)


@pytest.mark.parametrize(
    "link",
    [
        "https://highlandil.gov",
        "https://www.highlandil.gov/parks",
        "http://parks.highlandil.gov/x?y=1",
        "HTTPS://WWW.HIGHLANDIL.GOV/Parks",
        "https://highlandil.gov./fqdn",
        "https://www.highlandil.gov:443/port",
        "highlandil.gov/jobs",
    ],
)
def test_city_links_subdomains_included(link: str) -> None:
    assert is_city_link(link)


@pytest.mark.parametrize(
    "link",
    [
        "https://highlandil.gov.evil.com/",
        "https://evilhighlandil.gov/",
        "https://highlandil-gov.com/",
        "https://highlandil.gov@evil.com/",
        "https://www.highlandil.gov:pass@evil.com/",
        "https://evil.com\\@highlandil.gov/",
        "https://evil.com\\.highlandil.gov/",
        "https://highlandil%2egov/",
        "https://evil.com/?next=https://highlandil.gov",
        "https://evil.com/highlandil.gov",
        "https://www.highlandil.gov\u202e/",  # a right-to-left override inside the host
        "javascript:alert('highlandil.gov')",
        "ftp://highlandil.gov/",
        "https://[::1]/",
        "https://",
        "",
    ],
)
def test_lookalikes_are_not_city_links(link: str) -> None:
    assert not is_city_link(link)


def test_links_are_found_in_plain_text_html_and_markdown() -> None:
    text = (
        'Read <a href="https://www.highlandil.gov/a">this</a>, [that](https://b.example/x), '
        "see highlandil.gov/c. Mail parks@highlandil.gov (not a link), e.g. nothing."
    )
    assert find_links(text) == [
        "https://www.highlandil.gov/a",
        "https://b.example/x",
        "highlandil.gov/c",
    ]


@pytest.mark.parametrize(
    "link",
    [
        POLICY,
        POLICY + "/",
        "https://highlandil.gov/Social-Media-Policy",
        "http://www.highlandil.gov/social-media-policy?utm=x#top",
        "highlandil.gov/social-media-policy",
    ],
)
def test_policy_links(link: str) -> None:
    assert is_policy_link(link, POLICY)


@pytest.mark.parametrize(
    "link",
    [
        "https://www.highlandil.gov",
        "https://www.highlandil.gov/social-media-policy-draft",
        "https://www.highlandil.gov/parks/social-media-policy",
        "https://highlandil.gov.evil.com/social-media-policy",
        "https://evil.com/www.highlandil.gov/social-media-policy",
    ],
)
def test_not_policy_links(link: str) -> None:
    assert not is_policy_link(link, POLICY)


def test_a_profile_passes_fails_or_cannot_be_checked() -> None:
    passing = check_profile("Facebook", ("Official Page of the City of Highland", [POLICY]), POLICY)
    assert [o.state for o in passing] == [CheckState.PASSED, CheckState.PASSED]
    failing = check_profile("Facebook", ("Fans of Highland. highlandil.gov", []), POLICY)
    assert [(o.check, o.state) for o in failing] == [
        (Check.MAINTAINED, CheckState.FAILED),
        (Check.POLICY_LINK, CheckState.FAILED),
    ]
    assert POLICY in failing[1].detail
    unknown = check_profile("TikTok", None, POLICY)
    assert {o.state for o in unknown} == {CheckState.CANNOT_CHECK}
    assert unknown[0].detail == "cannot be checked on TikTok: check by hand"


def test_posts_pass_fail_or_cannot_be_checked() -> None:
    assert check_posts([]).state is CheckState.CANNOT_CHECK
    posts = [
        PostLinks("https://fb/1", "Details: https://www.highlandil.gov/x"),
        PostLinks("https://fb/2", "Short link only: https://t.co/abc", ("https://parks.highlandil.gov",)),
        PostLinks("https://fb/3", "Photos: linktr.ee/highland and https://highlandil.gov.evil.com"),
        PostLinks("id-4", "No link at all"),
    ]  # fmt: skip
    outcome = check_posts(posts)
    assert outcome.state is CheckState.FAILED
    assert outcome.failing == ("https://fb/3", "id-4")
    assert outcome.detail == "2 of 4 post(s) read do not link to highlandil.gov"
    assert check_posts(posts[:2]).state is CheckState.PASSED


def test_hostile_profile_text_is_only_read() -> None:
    hostile = (
        '<script>alert(1)</script>\x00\u202eOfficial\u202c City of Highland =HYPERLINK("x") '
        + "a" * 1_000_000
        + " https://www.highlandil.gov\u202e/social-media-policy"
    )
    maintained, linked = check_profile("X", (hostile, []), POLICY)
    assert maintained.state is CheckState.PASSED  # the words are there, whatever surrounds them
    assert linked.state is CheckState.FAILED  # the override makes it another host
    assert find_links("x" * 200_000 + ".") == []


# --- at sync ------------------------------------------------------------------------------


def _checks(world: World, site_id: int) -> dict[str, SiteCheck]:
    with world.db.session() as session:
        rows = session.scalars(select(SiteCheck).where(SiteCheck.site_id == site_id))
        return {row.check: row for row in rows}


def test_sync_checks_the_profile_and_the_posts_it_read(world: World) -> None:
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    parks = _checks(world, world.parks_site)
    assert {c: r.state for c, r in parks.items()} == dict.fromkeys(Check, CheckState.PASSED.value)
    police = _checks(world, world.police_site)
    assert police[Check.MAINTAINED].state == CheckState.PASSED.value
    assert police[Check.POLICY_LINK].state == CheckState.FAILED.value
    assert "Official Page of the Highland Police Department" in police[Check.POLICY_LINK].seen
    assert police[Check.POSTS_LINK].seen == ""  # the profile text belongs to profile checks


def test_a_post_without_a_link_back_is_named_and_the_state_updated_in_place(
    world: World,
) -> None:
    world.app("alice").sync.sync()
    before = _checks(world, world.parks_site)[Check.POSTS_LINK]
    post = f"{PARKS_PAGE}_122100000000001"
    world.sandbox.state.facebook.edit_post(post, "Playground update: see highlandil.gov.evil.com")
    world.app("alice").sync.sync()
    after = _checks(world, world.parks_site)[Check.POSTS_LINK]
    assert after.state == CheckState.FAILED.value
    assert after.failing == [f"https://www.facebook.com/{PARKS_PAGE}/posts/122100000000001"]
    assert after.checked_at > before.checked_at
    with world.db.session() as session:  # one row per site and check, updated in place
        assert len(session.scalars(select(SiteCheck)).all()) == 3


@pytest.mark.expected_log("site checks of site")
def test_a_profile_that_cannot_be_read_leaves_the_comment_sync_intact(world: World) -> None:
    world.app("alice").sync.sync()
    kept = _checks(world, world.parks_site)
    world.sandbox.faults.add(FaultKind.SERVER_ERROR, path="about", times=None)
    page = world.sandbox.state.facebook
    added = page.add_comment(f"{PARKS_PAGE}_122100000000000", "A new comment after the fault")
    [result] = world.app("alice").sync.sync()
    assert result.error == ""
    assert result.new_comments == 1
    assert "could not be read" in result.checks_problem
    with world.db.session() as session:
        assert session.scalars(select(Comment).where(Comment.external_id == added)).one()
    again = _checks(world, world.parks_site)
    # The profile's last outcome stands; the posts were checked again.
    assert again[Check.MAINTAINED].checked_at == kept[Check.MAINTAINED].checked_at
    assert again[Check.POSTS_LINK].checked_at > kept[Check.POSTS_LINK].checked_at


@pytest.mark.expected_log("site checks of site")
def test_a_profile_read_refused_on_the_first_sync_still_syncs(world: World) -> None:
    world.sandbox.faults.add(FaultKind.PERMISSION, path="about", times=None)
    [result] = world.app("alice").sync.sync()
    assert (result.error, result.new_comments > 0) == ("", True)
    assert set(_checks(world, world.parks_site)) == {Check.POSTS_LINK.value}


def test_hostile_profile_text_is_kept_as_received(world: World) -> None:
    hostile = "<img src=x onerror=alert(1)>\u202eOfficial City\x00 of Highland\x1b[31m =cmd|'/c'!A1"
    world.sandbox.state.facebook.profiles[PARKS_PAGE] = {"about": hostile}
    world.app("alice").sync.sync()
    row = _checks(world, world.parks_site)[Check.POLICY_LINK]
    assert row.state == CheckState.FAILED.value
    assert row.seen == hostile.replace("\x00", "\ufffd")  # as received, but for the NUL


class _NoProfile(Connector):
    """A platform that publishes nothing about the account (the base's default)."""

    platform = Platform.TIKTOK
    capabilities = capabilities_of("tiktok")

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        return Page([], None)

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        return Page([], None)

    def fetch_state(self, comment_external_id: str) -> PlatformState:
        return PlatformState.UNKNOWN


def test_a_platform_that_publishes_no_profile_cannot_be_checked(world: World) -> None:
    with world.db.session() as session:
        site = session.get(Site, world.parks_site)
        assert site is not None
        session.expunge(site)
    connector = _NoProfile(SiteConfig("x", "http://127.0.0.1:9", "t"))
    problem = SiteChecker().run(world.db.transaction, site, connector, [], lambda call: call())
    assert problem == ""
    checks = _checks(world, world.parks_site)
    assert {c: r.state for c, r in checks.items()} == dict.fromkeys(
        Check, CheckState.CANNOT_CHECK.value
    )
    assert checks[Check.MAINTAINED].detail == "cannot be checked on Facebook: check by hand"
    assert checks[Check.POSTS_LINK].detail == "no City posts were read"


@pytest.mark.parametrize(
    "line",
    ['policy_url = "https://highlandil.gov.evil.com/policy"', "policy_url = 7", 'policy_url = ""'],
)
def test_a_policy_url_off_the_citys_website_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    settings = tmp_path / "hsm-console.toml"
    settings.write_text(line + "\n", encoding="utf-8")
    monkeypatch.setattr(config, "config_file", lambda: settings)
    with pytest.raises(ConfigurationError, match="policy_url must be the address"):
        config.load_settings("sqlite://")


def test_the_policy_url_setting_is_what_the_checks_look_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "hsm-console.toml"
    settings.write_text('policy_url = "https://www.highlandil.gov/policies/social"\n', "utf-8")
    monkeypatch.setattr(config, "config_file", lambda: settings)
    url = config.load_settings("sqlite://").policy_url
    assert url == "https://www.highlandil.gov/policies/social"
    [_, linked] = check_profile("X", ("Official City of Highland. " + POLICY, []), url)
    assert linked.state is CheckState.FAILED


# --- who sees them ------------------------------------------------------------------------


def _with_parks_supervisor(world: World) -> None:
    with world.db.transaction() as session:
        person = admin.ensure_person(session, "pat", "Pat Supervisor")
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        admin.grant(session, person, Role.SUPERVISOR, parks)


def test_listing_is_narrowed_to_the_persons_departments(world: World) -> None:
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    _with_parks_supervisor(world)
    assert {r.site_name for r in site_checks.listing(world.db, "pat", include_passed=True)} == {
        "Highland Parks & Recreation"
    }
    assert site_checks.listing(world.db, "pat") == []  # Parks passes every check
    for everyone in ("sam", "ada"):  # the oversight group and an administrator see all
        [failing] = site_checks.listing(world.db, everyone)
        assert (failing.site_name, failing.check) == (
            "Highland Police Department",
            Check.POLICY_LINK,
        )
        assert failing.department == "Police Department"


@pytest.mark.parametrize("moderator", ["alice", "carol"])
def test_moderators_are_refused_with_the_role_needed(world: World, moderator: str) -> None:
    with pytest.raises(PermissionDenied, match="Only a supervisor or an administrator"):
        site_checks.listing(world.db, moderator)


# --- the command --------------------------------------------------------------------------


def test_site_checks_on_the_command_line(tmp_path: Path, sandbox: SandboxServer) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    cli("db", "upgrade")
    cli("demo", "--sandbox-url", sandbox.url)
    assert "No site has been checked yet" in cli("site-checks", "--all").stdout
    x = sandbox.state.others["x"]
    x.profile["description"] = "Parks, trails and events in Highland, IL \u202eevil\x1b[2J"  # type: ignore[attr-defined]
    cli("sync")
    failing = json.loads(cli("site-checks", "--json").stdout)
    found = {(r["platform"], r["check"]): r for r in failing}
    assert set(found) == {("X", "maintained"), ("YouTube", "policy_link"), ("TikTok", "posts_link")}
    assert found["TikTok", "posts_link"]["failing"] == [
        next(p for p in sandbox.state.others["tiktok"].videos if "linktr.ee" in p.caption).share_url  # type: ignore[attr-defined]
    ]
    assert {r["department"] for r in failing} == {"Parks & Recreation"}  # not Police's page
    every = json.loads(cli("site-checks", "--json", "--all").stdout)
    assert len(every) == 8 * 3  # the demo person supervises Parks: eight sites, three checks
    text = cli("site-checks").stdout
    assert "3 check(s) fail or cannot be checked" in text
    assert "@HighlandParksIL (X): profile says the City maintains it: FAILED" in text
    assert "the profile says: Parks, trails and events in Highland, IL \\u202eevil\\x1b[2J" in text
    assert "\u202e" not in text
    assert "\x1b" not in text
    assert "sandbox-demo-token" not in text + json.dumps(every)

    # X refuses the profile read: the comments still sync, the last outcome stands, and
    # sync says which checks were not run.
    sandbox.faults.add(FaultKind.SERVER_ERROR, path="user.fields=description", times=None)
    synced = cli("sync").stdout
    assert "@HighlandParksIL: the policy's site checks were not run: the profile" in synced
    assert "[4/8] @HighlandParksIL: done" in synced
    again = {
        (r["platform"], r["check"]): r for r in json.loads(cli("site-checks", "--json").stdout)
    }
    assert again["X", "maintained"] == found["X", "maintained"]  # as checked before, same time
    assert again["TikTok", "posts_link"]["checked_at"] > found["TikTok", "posts_link"]["checked_at"]
