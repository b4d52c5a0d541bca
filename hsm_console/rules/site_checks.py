"""The policy's own checks on the City's sites (Policy, Section 2), as pure tests of text.

"City social media sites shall clearly state that such sites are maintained by the City and
that they comply with the City's social media policy ... displayed via hyperlink to City
website", and "content posted to the City's social media ... must contain hyperlinks back to
the organic information" on highlandil.gov. No I/O here: `services/site_checks.py` reads the
profiles and posts and keeps the results.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

CITY_DOMAIN = "highlandil.gov"
# Section 2 names no address for the policy page: the settings file's `policy_url` sets the
# City's real one (host/config.py); this is what the demo's profiles link to.
DEFAULT_POLICY_URL = "https://www.highlandil.gov/social-media-policy"


class Check(enum.StrEnum):
    MAINTAINED = "maintained"
    POLICY_LINK = "policy_link"
    POSTS_LINK = "posts_link"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Check.MAINTAINED: "profile says the City maintains it",
    Check.POLICY_LINK: "profile links to the social media policy",
    Check.POSTS_LINK: "City posts link to highlandil.gov",
}


class CheckState(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    CANNOT_CHECK = "cannot_check"

    @property
    def label(self) -> str:
        return "cannot be checked" if self is CheckState.CANNOT_CHECK else self.value


@dataclass(frozen=True)
class Outcome:
    check: Check
    state: CheckState
    detail: str  # what fails, in words; "" when it passed
    failing: tuple[str, ...] = ()  # posts: the permalinks (or ids) of those that fail


@dataclass(frozen=True)
class PostLinks:
    """One City post as the checks see it: where to find it, and every link it carries."""

    reference: str  # permalink, else the platform's id
    text: str
    links: tuple[str, ...] = ()  # links the platform gives beside the text (expanded URLs)


# A URL with a scheme, or a bare host name ending in a letters-only label ("highlandil.gov/x").
# Brackets, quotes and angle brackets end a URL, so one inside HTML or Markdown is found whole.
_URL = re.compile(
    r"""(?:https?://[^\s<>"'`\[\](){}]+)"""
    r"""|(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?:/[^\s<>"'`\[\](){}]*)?""",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?*_"

# "Official ... City of Highland", "maintained/managed/operated by the City (of Highland)".
_MAINTAINED = (
    re.compile(r"\bofficial\b.{0,80}?\bcity\s+of\s+highland\b", re.IGNORECASE | re.DOTALL),
    re.compile(r"\bcity\s+of\s+highland\b.{0,40}?\bofficial\b", re.IGNORECASE | re.DOTALL),
    # "the City" alone only where the phrase ends: not "the city council candidate".
    re.compile(
        r"\b(?:maintained|managed|operated|run|administered)\s+by\s+the\s+city"
        r"(?:\s+of\s+highland\b|(?=\s*(?:[.,;:!)]|$)))",
        re.IGNORECASE,
    ),
)
# Words that deny it, whatever else the profile says.
_DENIED = re.compile(
    r"\b(?:unofficial|not\s+(?:an?\s+|the\s+)?official"
    r"|not\s+(?:affiliated|associated|endorsed|maintained|managed|run)\b)",
    re.IGNORECASE,
)


def find_links(text: str) -> list[str]:
    """Every URL or bare web address in `text`, in order, trailing punctuation removed."""
    return [match.group().rstrip(_TRAILING) for match in _URL.finditer(text)]


def host_of(link: str) -> str | None:
    """The host a browser would open for `link`, lower case; None when it cannot be trusted to
    mean one host (a backslash, percent-escapes or a user part can make a link look like one
    host and open another)."""
    target = link.strip()
    if "://" not in target:
        target = "https://" + target
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    netloc = parts.netloc
    if not netloc or any(mark in netloc for mark in ("\\", "%", "@")):
        return None
    try:
        host = parts.hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def is_city_link(link: str, domain: str = CITY_DOMAIN) -> bool:
    """True for `domain` and its subdomains; never a lookalike (highlandil.gov.evil.com,
    evilhighlandil.gov)."""
    host = host_of(link)
    return host is not None and (host == domain or host.endswith("." + domain))


def is_policy_link(link: str, policy_url: str = DEFAULT_POLICY_URL) -> bool:
    """A link to the policy page: a City host and the policy page's path (any case, with or
    without a trailing slash, a query or a fragment); www. or not does not matter."""
    wanted = host_of(policy_url)
    if wanted is None or not is_city_link(link, wanted.removeprefix("www.")):
        return False
    return _path(link) == _path(policy_url)


def _path(link: str) -> str:
    target = link.strip() if "://" in link else "https://" + link.strip()
    return urlsplit(target).path.rstrip("/").lower()


def says_maintained(text: str) -> bool:
    """Words to the effect that the City of Highland maintains the site."""
    if _DENIED.search(text):
        return False
    return any(pattern.search(text) for pattern in _MAINTAINED)


def check_profile(
    platform_label: str, profile: tuple[str, Iterable[str]] | None, policy_url: str
) -> list[Outcome]:
    """The two profile checks; `profile` is its text and links, None where the platform
    publishes nothing the checks can read."""
    if profile is None:
        why = f"cannot be checked on {platform_label}: check by hand"
        return [
            Outcome(Check.MAINTAINED, CheckState.CANNOT_CHECK, why),
            Outcome(Check.POLICY_LINK, CheckState.CANNOT_CHECK, why),
        ]
    text, given = profile
    links = [*given, *find_links(text)]
    maintained = says_maintained(text)
    linked = any(is_policy_link(link, policy_url) for link in links)
    return [
        Outcome(
            Check.MAINTAINED,
            CheckState.PASSED if maintained else CheckState.FAILED,
            "" if maintained else "the profile does not say the City of Highland maintains it",
        ),
        Outcome(
            Check.POLICY_LINK,
            CheckState.PASSED if linked else CheckState.FAILED,
            "" if linked else f"the profile does not link to {policy_url}",
        ),
    ]


def check_posts(posts: Iterable[PostLinks], domain: str = CITY_DOMAIN) -> Outcome:
    """Every post read links back to the City's website; which ones do not."""
    read = list(posts)
    if not read:
        return Outcome(Check.POSTS_LINK, CheckState.CANNOT_CHECK, "no City posts were read")
    failing = tuple(
        post.reference
        for post in read
        if not any(is_city_link(link, domain) for link in (*post.links, *find_links(post.text)))
    )
    if not failing:
        return Outcome(Check.POSTS_LINK, CheckState.PASSED, "")
    return Outcome(
        Check.POSTS_LINK,
        CheckState.FAILED,
        f"{len(failing)} of {len(read)} post(s) read do not link to {domain}",
        failing,
    )
