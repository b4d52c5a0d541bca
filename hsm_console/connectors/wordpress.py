"""WordPress blogs through the core REST API (design.md, "Platforms").

The site's base URL is the blog's root (``https://highlandil.gov``); the API lives under
``{base}{rest_prefix}/wp/v2/`` with ``rest_prefix`` "/wp-json" unless the site's settings say
otherwise. The credential kept in the keyring for a WordPress site is written
``username:application-password``: an Application Password, made in wp-admin under Users →
Profile → Application Passwords, of an Editor or Administrator account (only they have the
``moderate_comments`` capability). It travels as HTTP Basic auth; neither it nor the Basic
header value ever appears in a message, a log line or a repr.

What the console maps onto WordPress's comment statuses:

========  ============================  ============================
action    status sent                   console state afterwards
========  ============================  ============================
hide      ``hold`` (pending)            HIDDEN
unhide    ``approved``                  VISIBLE
remove    ``trash`` (never deleted)     REMOVED, still readable
spam      ``spam`` (`mark_spam`)        HIDDEN
========  ============================  ============================

Comments are listed with ``status=any``: WordPress's ``all`` means approved and pending only,
while ``any`` is every status (approved, pending, spam, trash) in one listing, so a comment
that changes status while a post is being read is neither skipped nor listed twice. They come
oldest first by id, so comments that arrive while paging join the end instead of shifting
the pages already read.

Two things WordPress does on every status change through the API, found on a real 6.1 site:
it records the caller's IP address and user agent as the comment's ``author_ip`` and
``author_user_agent`` (the console sends the commenter's own back, so they survive), and it
passes a guest's comment through its HTML filter again (a ``<script>`` tag is stripped from
the stored text). The retained record, taken before the call, keeps the text as it was.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from hsm_console.connectors.base import (
    JSON,
    Page,
    RemoteComment,
    RemotePost,
    SiteConfig,
    SiteProfile,
    site_profile,
)
from hsm_console.connectors.http import Params, retry_after_seconds, wait_text
from hsm_console.connectors.http_connector import HttpConnector, gone_as, page_size_setting
from hsm_console.connectors.payload import as_text, identified, iso_utc, skip
from hsm_console.errors import ConfigurationError, NotFound, PlatformError
from hsm_console.rules.capabilities import CAPABILITIES
from hsm_console.rules.domain import Platform, PlatformState

log = logging.getLogger(__name__)

DEFAULT_REST_PREFIX = "/wp-json"
DEFAULT_PAGE_SIZE = 100  # WordPress's own maximum per_page

POST_FIELDS = "id,date,date_gmt,link,title,status,type,comment_status"

# WordPress's comment statuses, as its REST API writes them.
STATES: dict[str, PlatformState] = {
    "approved": PlatformState.VISIBLE,
    "hold": PlatformState.HIDDEN,
    "spam": PlatformState.HIDDEN,
    "trash": PlatformState.REMOVED,
    "post-trashed": PlatformState.REMOVED,  # its post went to the trash, and it with the post
}

_COMMENT_GONE = (
    "The comment no longer exists on WordPress: it was deleted permanently "
    "(or emptied from the trash)."
)
_POST_GONE = "The post no longer exists on WordPress."
_RENEW = (
    "The WordPress application password for this site was rejected: "
    "ask an administrator to renew it."
)
_CHECK_ADDRESS = (
    "Check that the site's address is the blog's home page and that its REST prefix setting "
    "is right."
)
_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")
_NUMERIC_ID = re.compile(r"[1-9][0-9]{0,19}")
_DETAILS = re.compile(r"HTTP \d{3} ([\w-]+):")
_EXCERPT = 300
# A host or firewall that says "too many requests" without saying how long to wait.
_DEFAULT_RATE_LIMIT_WAIT = 60.0


class WordPressConnector(HttpConnector):
    platform = Platform.WORDPRESS
    capabilities = CAPABILITIES[Platform.WORDPRESS]

    def __init__(self, site: SiteConfig) -> None:
        self._user, password = _credential(site.token)
        prefix = str(site.settings.get("rest_prefix", DEFAULT_REST_PREFIX)).rstrip("/")
        if not _PREFIX.fullmatch(prefix) or ".." in prefix:
            raise ConfigurationError(
                f"The WordPress REST prefix {prefix!r} is not valid: write it like "
                f"{DEFAULT_REST_PREFIX!r}."
            )
        self._prefix = prefix
        self._page_size = page_size_setting(site.settings, DEFAULT_PAGE_SIZE, most=100)
        basic = base64.b64encode(f"{self._user}:{password}".encode()).decode("ascii")
        # The client scrubs the Basic header value and its base64; scrub the password in
        # clear too (WordPress shows it in groups of four: with and without the spaces).
        clear = {password, password.replace(" ", "")}
        super().__init__(
            site,
            wordpress_error,
            auth_headers={"Authorization": f"Basic {basic}"},
            secrets=[c for c in clear if len(c) >= 6],
        )

    def __repr__(self) -> str:
        return f"WordPressConnector({self._client.base_url!r}, user={self._user!r})"

    # --- listing ------------------------------------------------------------------------

    def post_links(self, post: RemotePost) -> tuple[str, ...]:
        """The post's own address (`link`): a post on the City's website is the organic
        information the policy wants linked."""
        link = post.raw.get("link")
        return (link,) if isinstance(link, str) else ()

    def profile(self) -> SiteProfile:
        """The REST index: the site's Title (`name`), Tagline (`description`) and address."""
        body, _ = self._call("GET", self._prefix + "/", {"_fields": "name,description,url,home"})
        if not isinstance(body, dict):
            raise PlatformError(
                "WordPress answered with something the console cannot read (no site index). "
                + _CHECK_ADDRESS,
                details=f"index of type {type(body).__name__}",
            )
        return site_profile([body.get("name"), body.get("description")], [body.get("url")])

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        """Published posts, newest first; the cursor is the next page number."""
        page = _page_number(cursor)
        params: dict[str, str | int] = {
            "context": "edit",  # raw titles; and a wrong password fails here, not later
            "per_page": self._page_size,
            "page": page,
            "orderby": "date",
            "order": "desc",
            "_fields": POST_FIELDS,
        }
        try:
            body, response = self._call("GET", self._path("posts"), params)
        except PlatformError as exc:
            # Posts deleted since the cursor was made: the pages now end before it.
            if wordpress_code(exc) == "rest_post_invalid_page_number":
                return Page([], None)
            raise
        items = _list(body)
        posts = [post for item in items if (post := _post(item)) is not None]
        more = _has_next(response, page, len(items), self._page_size)
        return Page(posts, str(page + 1) if more else None)

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        """Every comment and reply on one post, in every status, oldest first."""
        page = _page_number(cursor)
        params: dict[str, str | int] = {
            "post": _numeric_id(post_external_id, "post"),
            "status": "any",
            "context": "edit",  # content.raw (the exact text), date_gmt, author_email...
            "per_page": self._page_size,
            "page": page,
            "orderby": "id",
            "order": "asc",
        }
        if since is not None:
            # With an explicit offset, WordPress converts to the site's time zone first.
            params["after"] = since.astimezone(UTC).isoformat(timespec="seconds")
        body, response = self._call("GET", self._path("comments"), params)
        items = _list(body)
        seen: set[str] = set()
        comments: list[RemoteComment] = []
        for item in items:
            comment = _comment(post_external_id, item)
            if comment is not None and comment.external_id not in seen:
                seen.add(comment.external_id)
                comments.append(comment)
        more = _has_next(response, page, len(items), self._page_size)
        return Page(comments, str(page + 1) if more else None)

    # --- state and moderation -----------------------------------------------------------

    def fetch_state(self, comment_external_id: str) -> PlatformState:
        try:
            body = self._read_comment(comment_external_id)
        except PlatformError as exc:
            if exc.gone:
                return PlatformState.REMOVED
            raise
        return _state(body.get("status"), comment_external_id)

    def hide(self, comment_external_id: str) -> None:
        self._set_status(comment_external_id, "hold")

    def unhide(self, comment_external_id: str) -> None:
        self._set_status(comment_external_id, "approved")

    def remove(self, comment_external_id: str) -> None:
        self._set_status(comment_external_id, "trash")

    def mark_spam(self, comment_external_id: str) -> None:
        """Mark the comment as spam: hidden from the site, and reported to the site's spam
        filter (Akismet, where installed) as an example to learn from."""
        self._set_status(comment_external_id, "spam")

    def _read_comment(self, comment_external_id: str) -> JSON:
        path = self._path("comments", _numeric_id(comment_external_id, "comment"))
        with gone_as(_COMMENT_GONE):
            body, _ = self._call("GET", path, {"context": "edit"})
        return _object(body)

    def _set_status(self, comment_external_id: str, status: str) -> None:
        current = self._read_comment(comment_external_id)
        if current.get("status") == status:
            # What the moderator wants already stands. Sending it anyway would only make
            # WordPress filter the text again (and, sent alone, answer 500 "Updating comment
            # status failed").
            log.info("WordPress comment %s is already %s", comment_external_id, status)
            return
        payload: JSON = {"status": status}
        # Keep the commenter's address and browser: without them WordPress writes the
        # console's own over them (see the module's docstring).
        author_ip = current.get("author_ip")
        if isinstance(author_ip, str) and _is_ip(author_ip):
            payload["author_ip"] = author_ip
        user_agent = current.get("author_user_agent")
        if isinstance(user_agent, str) and user_agent.strip():
            payload["author_user_agent"] = user_agent
        path = self._path("comments", _numeric_id(comment_external_id, "comment"))
        with gone_as(_COMMENT_GONE):
            body, _ = self._call("POST", path, json_body=payload)
        answer = _object(body)
        if answer.get("status") != status:
            raise PlatformError(
                "WordPress did not confirm the change. Check the comment on the site before "
                "trying again.",
                details=f"asked for status {status!r}, answer has {answer.get('status')!r}",
                retryable=True,
            )

    def _call(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        json_body: JSON | None = None,
    ) -> tuple[Any, requests.Response]:
        """One call; the decoded body with the response, for the paging in its headers.

        WordPress answers lists as JSON arrays. A body that is not valid UTF-8 JSON is refused
        rather than repaired: the text of a comment becomes a public record as received.
        """
        response = self._client.send(method, path, params=params, json_body=json_body)
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError) as exc:  # also invalid UTF-8 (UnicodeDecodeError)
            content_type = response.headers.get("Content-Type", "no content type")
            if content_type.startswith("text/html"):
                # A wrong address ends on a web page (WordPress redirects unknown paths to
                # its best guess at a post), and so may a firewall's challenge.
                message = "The site's address answered with a web page, not WordPress's API. "
                message += _CHECK_ADDRESS
            else:
                message = (
                    "WordPress answered with something the console cannot read. "
                    "Try again later; if it keeps happening, tell an administrator."
                )
            redirected = f" (redirected from {response.history[0].url})" if response.history else ""
            raise PlatformError(
                message,
                details=self._client.scrub(
                    f"{method} {path}{redirected}: HTTP {response.status_code}, "
                    f"{str(exc)[:_EXCERPT]}; {content_type}: "
                    f"{response.content[:_EXCERPT].decode('utf-8', 'replace')!r}"
                ),
                retryable=True,
            ) from None
        return body, response

    def _path(self, *parts: str) -> str:
        # Ids come from the platform or the database: never let one change the path.
        return "/".join((self._prefix, "wp/v2", *(quote(part, safe="") for part in parts)))


# --- errors ---------------------------------------------------------------------------


def wordpress_error(response: requests.Response) -> PlatformError:
    """A WordPress error answer (``{"code", "message", "data": {"status"}}``) in plain words.

    `details` starts ``HTTP <status> <code>:`` so `wordpress_code` can read the code back.
    """
    body = _error_body(response)
    code = body.get("code")
    code = code if isinstance(code, str) else ""
    status = response.status_code
    message = body.get("message")
    details = f"HTTP {status} {code or '-'}: {str(message or '')[:_EXCERPT]}"
    if not body:
        details += (
            f" [{response.headers.get('Content-Type', 'no content type')}: "
            f"{response.content[:120].decode('utf-8', 'replace')!r}]"
        )
    if status == 401 or code in ("incorrect_password", "invalid_username", "invalid_email"):
        return PlatformError(_RENEW, details=details)
    if code == "application_passwords_disabled":
        return PlatformError(
            "Application passwords are turned off on this WordPress site: ask the site's "
            "administrator to turn them on.",
            details=details,
        )
    if status == 429:
        wait = retry_after_seconds(response)
        wait = _DEFAULT_RATE_LIMIT_WAIT if wait is None else wait
        return PlatformError(
            "The WordPress site (or its host) is limiting how many calls the City may make. "
            f"Try again in {wait_text(wait)}.",
            details=details,
            retryable=True,
            retry_after=wait,
        )
    if status == 403:
        if code.startswith("rest_"):
            return PlatformError(
                "WordPress refused: the account this site signs in with may not moderate "
                "comments. It needs the moderate_comments capability: an Editor or "
                "Administrator account. Ask an administrator.",
                details=details,
            )
        return PlatformError(
            "The WordPress site, or a firewall in front of it, refused the console (HTTP 403). "
            "Ask the site's administrator to allow it.",
            details=details,
        )
    if status in (404, 410) and (code.endswith("_invalid_id") or code == "rest_already_trashed"):
        return PlatformError("This no longer exists on WordPress.", details=details, gone=True)
    if status == 404:
        return PlatformError(
            f"No WordPress REST API answered at this site's address. {_CHECK_ADDRESS}",
            details=details,
        )
    if status >= 500:
        wait = retry_after_seconds(response)
        when = f"in {wait_text(wait)}" if wait is not None else "in a few minutes"
        return PlatformError(
            f"The WordPress site had a temporary problem (HTTP {status}). Try again {when}.",
            details=details,
            retryable=True,
            retry_after=wait,
        )
    return PlatformError(
        f"WordPress refused the request ({code or f'HTTP {status}'}). "
        "If it keeps happening, tell an administrator.",
        details=details,
    )


def wordpress_code(error: PlatformError) -> str:
    """The WordPress error code of an error made by `wordpress_error` ("" if none)."""
    found = _DETAILS.match(error.details)
    return found.group(1) if found and found.group(1) != "-" else ""


def _error_body(response: requests.Response) -> Mapping[str, Any]:
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


# --- payloads -------------------------------------------------------------------------


def _credential(token: str) -> tuple[str, str]:
    user, colon, password = token.strip().partition(":")
    if not colon or not user.strip() or not password.strip():
        raise ConfigurationError(
            "The WordPress credential of this site must be written as "
            "username:application-password (an Application Password from the user's profile "
            "in wp-admin)."
        )
    return user.strip(), password.strip()


def _page_number(cursor: str | None) -> int:
    if cursor is None:
        return 1
    if not cursor.isascii() or not cursor.isdigit() or int(cursor) < 1:
        raise ValueError(f"{cursor!r} is not a WordPress page cursor")
    return int(cursor)


def _numeric_id(value: str, what: str) -> str:
    if not _NUMERIC_ID.fullmatch(value):
        raise NotFound(f"{value!r} is not a WordPress {what} id.")
    return value


def _has_next(response: requests.Response, page: int, count: int, page_size: int) -> bool:
    """Whether a page follows: X-WP-TotalPages, else the Link header, else a full page."""
    total = response.headers.get("X-WP-TotalPages", "").strip()
    if total.isdigit():
        return page < int(total)
    if "next" in response.links:
        return True
    # A proxy that drops WordPress's headers: a full page may have more behind it.
    return count >= page_size


def _unreadable(what: str, details: str) -> PlatformError:
    return PlatformError(
        f"WordPress answered with something the console cannot read ({what}). "
        "Try again later; if it keeps happening, tell an administrator.",
        details=details,
        retryable=True,
    )


def _list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise _unreadable("no list of items", f"answer is {type(body).__name__}")
    return body


def _object(body: Any) -> JSON:
    if not isinstance(body, dict):
        raise _unreadable("no object", f"answer is {type(body).__name__}")
    return body


def _post(item: object) -> RemotePost | None:
    if (found := identified(item, "a WordPress post", log=log, read_id=_id)) is None:
        return None
    payload, external_id = found
    return RemotePost(
        external_id=external_id,
        text=_rich_text(payload.get("title")),
        created_at=_time(payload.get("date_gmt"), external_id),
        permalink=as_text(payload.get("link")),
        raw=payload,
    )


def _comment(post_external_id: str, item: object) -> RemoteComment | None:
    """One comment, tolerant of missing or mistyped fields; `raw` keeps it as received."""
    what = f"a WordPress comment on post {post_external_id}"
    if (found := identified(item, what, log=log, read_id=_id)) is None:
        return None
    payload, external_id = found
    post = _id(payload.get("post"))
    if post is not None and post != post_external_id:
        # A plugin or cache that ignored the `post` filter: never file it under this post.
        log.warning(
            "Skipped WordPress comment %s: it belongs to another post (%s), not %s",
            external_id,
            post,
            post_external_id,
        )
        return None
    # WordPress refuses empty comments, and a guest may leave the name empty (author 0, "")
    # yet is an author: only fields left out make the comment incomplete.
    if payload.get("content") is None:
        skip(payload, f"{what} ({external_id})", "without text", log=log)
        return None
    if payload.get("author") is None and payload.get("author_name") is None:
        skip(payload, f"{what} ({external_id})", "without an author", log=log)
        return None
    author = _id(payload.get("author"))
    parent = _id(payload.get("parent"))
    return RemoteComment(
        external_id=external_id,
        post_external_id=post_external_id,
        parent_external_id=parent if parent != "0" else None,
        # A registered user's id; guests (author 0) have none, only the name and e-mail
        # address they typed, which stay in `raw`.
        author_id=author if author not in (None, "0") else "",
        author_name=as_text(payload.get("author_name")) or "(unknown)",
        text=_rich_text(payload.get("content")),
        created_at=_time(payload.get("date_gmt"), external_id),
        permalink=as_text(payload.get("link")),
        state=_state(payload.get("status"), external_id),
        attachments=(),
        raw=payload,
    )


def _state(status: object, external_id: str) -> PlatformState:
    if isinstance(status, str) and status in STATES:
        return STATES[status]
    log.warning("WordPress comment %.40s has an unknown status %.80r", external_id, status)
    return PlatformState.UNKNOWN


def _rich_text(value: object) -> str:
    """`raw` (as typed, with context=edit) of a {raw, rendered} field, else `rendered`."""
    if isinstance(value, dict):
        raw = value.get("raw")
        if isinstance(raw, str):
            return raw
        return as_text(value.get("rendered"))
    return as_text(value)


def _time(value: object, external_id: str) -> datetime:
    """An aware UTC time from WordPress's `date_gmt` ("2026-03-02T14:12:00", no offset)."""
    parsed = iso_utc(value)
    if parsed is not None:
        return parsed
    # A comment with a bad time must still reach the queue; `raw` keeps what was sent.
    log.warning(
        "WordPress item %.40s has no readable date_gmt (%.80r); using now", external_id, value
    )
    return datetime.now(UTC)


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return str(int(value))
    return None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
