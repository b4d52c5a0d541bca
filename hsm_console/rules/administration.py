"""What an administrator may enter, checked before anything is written (no I/O).

Accounts, department codes, names, and each platform's site id, API address and settings.
Each check returns the cleaned value or raises `InvalidInput` saying, in plain words, what
is wrong and what is expected instead.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hsm_console.errors import InvalidInput
from hsm_console.rules.domain import Platform, Role

MAX_NAME = 200

# DOMAIN\name (Windows) or name (macOS, Linux, a PostgreSQL login). `@` is refused: an
# account written as name@domain (a UPN) never matches what Windows reports.
_ACCOUNT = re.compile(r"(?:[\w.-]{1,64}\\)?[\w.$-]{1,104}")
_DEPARTMENT_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def account(value: str) -> str:
    text = value.strip()
    if not _ACCOUNT.fullmatch(text) or text.startswith("-"):
        raise InvalidInput(
            f"{value!r} is not an account name. Write the operating-system account as "
            "Windows shows it, DOMAIN\\name (e.g. CITYHALL\\jdoe), or as a plain login name "
            "(e.g. jdoe): letters, digits, '.', '_', '-' and '$', no spaces."
        )
    return text


def name(value: str, what: str) -> str:
    """A display name: one line of printable text, 1 to 200 characters."""
    text = value.strip()
    if not text or len(text) > MAX_NAME:
        raise InvalidInput(f"The {what} must have 1 to {MAX_NAME} characters.")
    if any(unicodedata.category(char)[0] == "C" for char in text):
        raise InvalidInput(f"The {what} must be one line of plain text, without control codes.")
    return text


def department_code(value: str) -> str:
    text = value.strip()
    if not _DEPARTMENT_CODE.fullmatch(text):
        raise InvalidInput(
            f"{value!r} is not a department code: use 1 to 32 letters, digits, '_' or '-', "
            "like PARKS."
        )
    return text.upper()


def role(value: str) -> Role:
    try:
        return Role(re.sub(r"[\s-]+", "_", value.strip().lower()))
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(f"There is no role {value!r}; the roles are {choices}.") from None


def role_scope(granted: Role, department: str | None, everywhere: bool) -> None:
    """Moderators work for one department, administrators for the whole City; supervisors
    for one department or, as the oversight group, for all of them; records officers for
    one department or, as the City Clerk's office, for all of them."""
    if department and everywhere:
        raise InvalidInput("Name one department or all departments, not both.")
    if granted is Role.MODERATOR and not department:
        raise InvalidInput("A moderator works for one department: name it.")
    if granted is Role.ADMINISTRATOR and (department or everywhere):
        raise InvalidInput("An administrator administers the whole City: name no department.")
    if granted is Role.SUPERVISOR and not (department or everywhere):
        raise InvalidInput(
            "Name the department a supervisor oversees, or all departments for the "
            "City manager's oversight group."
        )
    if granted is Role.RECORDS_OFFICER and not (department or everywhere):
        raise InvalidInput(
            "Name the department whose records the records officer keeps, or all departments "
            "for the City Clerk's office."
        )


# --- sites ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteRule:
    """How a platform names the account the City keeps there, and where its API is."""

    id_pattern: re.Pattern[str]
    id_words: str  # what to enter, for the refusal
    api_address: str | None  # the platform's own; None: the site's own address (self-hosted)


_DIGITS = re.compile(r"\d{1,20}")
_SLUG = r"[a-z0-9][a-z0-9_-]{0,99}"
_GRAPH = "https://graph.facebook.com"

SITE_RULES: dict[Platform, SiteRule] = {
    Platform.FACEBOOK: SiteRule(
        _DIGITS,
        "the Page's id, a number (Meta Business Suite, Page settings), like 1000000000001",
        _GRAPH,
    ),
    Platform.INSTAGRAM: SiteRule(
        _DIGITS,
        "the Instagram professional account's id, a number (not its @name), like 17841400000000001",
        _GRAPH,
    ),
    Platform.YOUTUBE: SiteRule(
        re.compile(r"UC[A-Za-z0-9_-]{22}"),
        "the channel id: 'UC' and 22 letters, digits, '-' or '_' (YouTube Studio, Settings, "
        "Channel, Advanced settings), not the @handle",
        "https://youtube.googleapis.com",
    ),
    Platform.X: SiteRule(
        re.compile(r"\d{1,19}"),
        "the account's user id, a number, not the @handle",
        "https://api.x.com",
    ),
    Platform.TIKTOK: SiteRule(
        re.compile(r"[A-Za-z0-9_.-]{1,128}"),
        "the business account's open_id, as TikTok returns it when the account is connected",
        "https://business-api.tiktok.com",
    ),
    Platform.LINKEDIN: SiteRule(
        re.compile(r"urn:li:organization:\d{1,20}"),
        "the page's organization URN, like urn:li:organization:1000001, or just its number",
        "https://api.linkedin.com",
    ),
    Platform.WORDPRESS: SiteRule(
        re.compile(_SLUG),
        "a short name for the blog, like parks-news (lower-case letters, digits, '-' and "
        "'_'); WordPress finds the blog by its address",
        None,
    ),
    Platform.DISCOURSE: SiteRule(
        re.compile(rf"(?:{_SLUG}/)?{_SLUG}", re.IGNORECASE),
        "the category's slug, its number, or both as slug/number, like city-services/5",
        None,
    ),
}


def platform(value: str) -> Platform:
    key = value.strip().lower()
    for known in Platform:
        if key in (known.value, known.label.lower()):
            return known
    choices = ", ".join(p.value for p in Platform)
    raise InvalidInput(f"There is no platform {value!r}; the platforms are {choices}.")


def site_id(on: Platform, value: str) -> str:
    text = value.strip()
    if on is Platform.LINKEDIN and text.isdigit():
        text = f"urn:li:organization:{text}"
    if on is Platform.DISCOURSE:
        text = text.strip("/")
    if not SITE_RULES[on].id_pattern.fullmatch(text):
        raise InvalidInput(
            f"{value!r} is not a {on.label} site id. Enter {SITE_RULES[on].id_words}."
        )
    return text


def api_address(on: Platform, value: str | None) -> str:
    """The API address: the platform's own unless another is given (a proxy, the sandbox).

    HTTPS only, since tokens travel with every call; plain HTTP only on this computer.
    """
    default = SITE_RULES[on].api_address
    text = (value or "").strip() or default
    if text is None:
        raise InvalidInput(
            f"A {on.label} site is on the City's own server: give its address, like "
            "https://blog.highlandil.gov."
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise InvalidInput(f"{text!r} is not a web address.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(f"{text!r} is not a web address: write it like https://host/path.")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "An API address must not carry a user name or password: credentials are kept in "
            "the keyring, never in the address."
        )
    if parts.query or parts.fragment:
        raise InvalidInput(f"An API address has no '?' or '#' part: {text!r}.")
    if parts.scheme == "http" and not is_loopback(host):
        raise InvalidInput(
            f"{text!r} is plain http: tokens would cross the network unencrypted. Use "
            "https:// (plain http is accepted only on this computer, for the sandbox)."
        )
    return text.rstrip("/")


def is_loopback(host: str) -> bool:
    """Whether `host` is this computer (plain http is safe there and nowhere else)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- site settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    parse: Callable[[str], Any]
    valid: Callable[[Any], bool]
    words: str  # what is expected, for the refusal and the help


def _whole(least: int, most: int, words: str) -> Setting:
    return Setting(int, lambda v: least <= v <= most, f"{words}: a whole number, {least}-{most}")


def _seconds(most: float, words: str) -> Setting:
    return Setting(float, lambda v: 0 < v <= most, f"{words}: seconds, at most {most:g}")


def _text(pattern: str, words: str) -> Setting:
    compiled = re.compile(pattern)
    return Setting(str, lambda v: compiled.fullmatch(v) is not None, words)


# Every site: how far back sync reads, and the HTTP client's patience.
_COMMON: dict[str, Setting] = {
    "active_days": _whole(1, 3650, "days after which a post is no longer read"),
    "full_days": _whole(0, 3650, "days during which a post's comments are read in full"),
    "page_size": _whole(1, 100, "items asked for per page (the platform's limit applies)"),
    "timeout": _seconds(300, "how long to wait for an answer"),
    "retries": _whole(0, 10, "retries after a network error or a server error"),
    "backoff": _seconds(60, "the first wait between retries"),
}
_GRAPH_VERSION = _text(r"v\d+\.\d+", "the Graph API version, like v25.0")
_PLATFORM_SETTINGS: dict[Platform, dict[str, Setting]] = {
    Platform.FACEBOOK: {"api_version": _GRAPH_VERSION},
    Platform.INSTAGRAM: {"api_version": _GRAPH_VERSION},
    Platform.YOUTUBE: {
        "state_scan_pages": _whole(1, 50, "pages of held comments read to tell a state")
    },
    Platform.LINKEDIN: {
        "api_version": _text(r"\d{6}(?:\.\d{2})?", "the LinkedIn API version, like 202606")
    },
    Platform.WORDPRESS: {
        "rest_prefix": _text(r"(/[\w.-]+)+", "the REST API's path on the blog, like /wp-json")
    },
    Platform.DISCOURSE: {
        "api_username": _text(r"[\w.-]{1,60}", "the forum user the API key acts as"),
        "hide_flag": _text(
            r"off_topic|inappropriate|spam",
            "the staff flag that hides a post: off_topic, inappropriate or spam",
        ),
    },
}


def settings_of(on: Platform) -> dict[str, Setting]:
    return {**_COMMON, **_PLATFORM_SETTINGS.get(on, {})}


def setting(on: Platform, key: str) -> Setting:
    known = settings_of(on)
    if key not in known:
        raise InvalidInput(
            f"{on.label} sites have no setting {key!r}; they have {', '.join(sorted(known))}."
        )
    return known[key]


def site_settings(on: Platform, entered: Mapping[str, str]) -> dict[str, Any]:
    """Settings typed as text (`name=value`), checked and converted to their types."""
    values: dict[str, Any] = {}
    for key, text in entered.items():
        rule = setting(on, key)
        try:
            value = rule.parse(text.strip())
        except ValueError:
            value = None
        if value is None or not rule.valid(value):
            raise InvalidInput(f"{text!r} is not a valid {key}: expected {rule.words}.")
        values[key] = value
    return values


# Platforms where the City signs in through its own registered app (an OAuth client): its
# client id and secret are entered once per computer. Instagram signs in through Facebook.
APP_PLATFORMS = (
    Platform.FACEBOOK,
    Platform.YOUTUBE,
    Platform.X,
    Platform.TIKTOK,
    Platform.LINKEDIN,
)


def app_platform(value: str) -> Platform:
    """The platform whose app an administrator sets up, or why there is none to set up."""
    found = platform(value)
    if found is Platform.INSTAGRAM:
        raise InvalidInput("Instagram sites sign in through Facebook: set up the facebook app.")
    if found not in APP_PLATFORMS:
        raise InvalidInput(
            f"{found.label} sites need no app: connect each site with its own key or password."
        )
    return found
