"""LinkedIn organization pages through the Community Management API (design.md, "Platforms").

The token is a member's OAuth token with `r_organization_social_feed` (read) and
`w_organization_social_feed` (delete), the member being an ADMINISTRATOR of the page. Calls go
to LinkedIn's versioned REST API (`/rest/...`) with Rest.li protocol 2.0, in which every URN in
a path or query is percent-encoded: URNs hold ':', '(' and ','.

LinkedIn has no hide. Whether a page may delete OTHER members' comments is not confirmed by
LinkedIn's documentation, so the connector tries and, when LinkedIn refuses, says so plainly.
Comments come first-level by post; each one's replies ("comments on comments", one level deep
on LinkedIn) are fetched with it, so a page of the listing is a thread-complete flat list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

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
from hsm_console.connectors.http import error_body, retry_after_seconds, wait_text
from hsm_console.connectors.http_connector import HttpConnector, gone_as, page_size_setting
from hsm_console.connectors.payload import as_text, identified, skip, valid_unicode
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.capabilities import CAPABILITIES
from hsm_console.rules.domain import Platform, PlatformState

log = logging.getLogger(__name__)

DEFAULT_VERSION = "202606"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
RESTLI_PROTOCOL = "2.0.0"
PERMALINK_BASE = "https://www.linkedin.com/feed/update/"

MEMBER_COMMENT_REFUSED = (
    "LinkedIn refused to delete this member's comment; the City can delete only its own "
    "comments there. Flag it and open the permalink to report it."
)
ACCESS_DENIED = (
    "LinkedIn refused: the token for this site lacks the Community Management permissions "
    "(r_organization_social_feed, w_organization_social_feed), or its member is not an "
    "administrator of the page. Ask an administrator to check the LinkedIn app and renew "
    "the token."
)
_COMMENT_GONE = "The comment no longer exists on LinkedIn: its author or a page admin deleted it."
_POST_GONE = "The post no longer exists on LinkedIn: a page admin deleted it."

_VERSION = re.compile(r"\d{6}(?:\.\d{2})?")  # YYYYMM, or YYYYMM.RR for a revision
_ORGANIZATION = re.compile(r"urn:li:organization:\d+")
_COMMENT_URN = re.compile(
    r"urn:li:comment:\((?P<thread>urn:li:[A-Za-z]+:[^,()\s]+),(?P<id>[^,()\s]+)\)"
)
# LinkedIn sends no usage headers and names no wait for its daily quotas, which reset at
# midnight UTC; this is the least wait when midnight is only moments away.
_MIN_QUOTA_WAIT = 60.0


class LinkedInRefused(PlatformError, NotPossible):
    """LinkedIn will not let the City do this: a platform answer, and not possible there."""


class LinkedInConnector(HttpConnector):
    platform = Platform.LINKEDIN
    capabilities = CAPABILITIES[Platform.LINKEDIN]

    def __init__(self, site: SiteConfig) -> None:
        if not _ORGANIZATION.fullmatch(site.external_id):
            raise ConfigurationError(
                f"The LinkedIn site id must be the page's organization URN, like "
                f"'urn:li:organization:1000001' (it is {site.external_id!r})."
            )
        self._organization = site.external_id
        version = str(site.settings.get("api_version", DEFAULT_VERSION))
        if not _VERSION.fullmatch(version):
            raise ConfigurationError(
                f"The LinkedIn API version {version!r} is not valid: write it as year and "
                f"month, like {DEFAULT_VERSION!r}."
            )
        self._page_size = page_size_setting(site.settings, DEFAULT_PAGE_SIZE, most=MAX_PAGE_SIZE)
        super().__init__(
            site,
            linkedin_error,
            auth_headers={"Authorization": f"Bearer {site.token}"},
            headers={"LinkedIn-Version": version, "X-Restli-Protocol-Version": RESTLI_PROTOCOL},
        )

    def profile(self) -> SiteProfile:
        """The organization's description and website, in its preferred locale."""
        number = self._organization.rsplit(":", 1)[1]
        with gone_as("The LinkedIn page of this site was not found: check its organization URN."):
            body = self._client.get(f"rest/organizations/{quote(number, safe='')}")
        return site_profile(
            [body.get("localizedDescription") or _localized(body.get("description"))],
            [body.get("localizedWebsite") or _localized(body.get("website"))],
        )

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        start = _start(cursor)
        # CREATED, not the default LAST_MODIFIED: an edited post must not jump pages mid-walk.
        params: dict[str, str | int] = {
            "author": self._organization,
            "q": "author",
            "sortBy": "CREATED",
            "start": start,
            "count": self._page_size,
        }
        body = self._client.get("rest/posts", params)
        elements = _elements(body)
        posts = [post for item in elements if (post := _post(item)) is not None]
        return Page(posts, _next_start(body, start, self._page_size, len(elements)))

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        # LinkedIn cannot filter comments by time: `since` is ignored and every page is read.
        start = _start(cursor)
        params: dict[str, str | int] = {"start": start, "count": self._page_size}
        with gone_as(_POST_GONE):
            body = self._client.get(_actions(post_external_id), params)
        elements = _elements(body)
        comments: list[RemoteComment] = []
        for item in elements:
            comment = self._comment(post_external_id, item, None)
            if comment is None:
                continue
            comments.append(comment)
            if _may_have_replies(item):
                comments.extend(self._replies(post_external_id, comment))
        return Page(comments, _next_start(body, start, self._page_size, len(elements)))

    def fetch_state(self, comment_external_id: str) -> PlatformState:
        # No hide exists, so a comment LinkedIn still returns is visible.
        try:
            self._read(comment_external_id)
        except PlatformError as exc:
            if exc.gone:
                return PlatformState.REMOVED
            raise
        return PlatformState.VISIBLE

    def hide(self, comment_external_id: str) -> None:
        raise NotPossible(
            f"LinkedIn does not allow the City to hide a comment. {self.capabilities.instead}"
        )

    def unhide(self, comment_external_id: str) -> None:
        raise NotPossible(
            f"LinkedIn does not allow the City to unhide a comment. {self.capabilities.instead}"
        )

    def remove(self, comment_external_id: str) -> None:
        thread, comment_id = _split(comment_external_id)
        try:
            with gone_as(_COMMENT_GONE):
                self._client.send(  # answered with 204 No Content
                    "DELETE",
                    _actions(thread, "comments", comment_id),
                    params={"actor": self._organization},
                )
        except PlatformError as exc:
            if exc.gone or exc.message != ACCESS_DENIED:
                raise
            raise self._refusal(comment_external_id, exc) from exc

    def _refusal(self, comment_external_id: str, denied: PlatformError) -> PlatformError:
        """Why a delete was refused: a member's comment, or a token that may not delete at all.

        LinkedIn answers both with 403 ACCESS_DENIED, so the comment's author decides.
        """
        try:
            item = self._read(comment_external_id)
        except PlatformError as exc:
            if exc.gone or exc.message == ACCESS_DENIED:
                return exc  # gone after all, or the token may not even read it
            return LinkedInRefused(MEMBER_COMMENT_REFUSED, details=denied.details)
        if _actor(item) == self._organization:
            return denied  # the page's own comment: the token lacks the permission
        return LinkedInRefused(MEMBER_COMMENT_REFUSED, details=denied.details)

    def _read(self, comment_external_id: str) -> JSON:
        thread, comment_id = _split(comment_external_id)
        with gone_as(_COMMENT_GONE):
            return self._client.get(_actions(thread, "comments", comment_id))

    def _replies(self, post_external_id: str, parent: RemoteComment) -> list[RemoteComment]:
        """Every reply to one comment, all pages (LinkedIn nests one level only)."""
        replies: list[RemoteComment] = []
        start: int | None = 0
        while start is not None:
            params: dict[str, str | int] = {"start": start, "count": self._page_size}
            try:
                body = self._client.get(_actions(parent.external_id), params)
            except PlatformError as exc:
                if exc.gone:  # deleted since its post's page was read: its replies went too
                    return replies
                raise
            elements = _elements(body)
            replies.extend(
                reply
                for item in elements
                if (reply := self._comment(post_external_id, item, parent.external_id)) is not None
            )
            following = _next_start(body, start, self._page_size, len(elements))
            start = None if following is None else int(following)
        return replies

    def _comment(
        self, post_external_id: str, item: object, parent: str | None
    ) -> RemoteComment | None:
        """One comment, tolerant of missing or mistyped fields; `raw` keeps it as received."""
        what = f"a LinkedIn comment on {post_external_id}"
        if not isinstance(item, dict) or (urn := _comment_urn(post_external_id, item)) is None:
            skip(item, what, "without an id", log=log)
            return None
        if not valid_unicode(item):
            skip(item, f"{what} ({urn})", "with text that is not valid UTF-8", log=log)
            return None
        actor = _actor(item)
        # An image alone is a real comment (`content`, no `message`); neither sent, or no
        # author, means the comment did not arrive whole.
        if item.get("message") is None and item.get("content") is None:
            skip(item, f"{what} ({urn})", "without text or an attachment", log=log)
            return None
        if not actor:
            skip(item, f"{what} ({urn})", "without an author", log=log)
            return None
        created = _time(_nested(item, "created", "time"), urn)
        modified = _optional_time(_nested(item, "lastModified", "time"))
        named_parent = item.get("parentComment")
        if isinstance(named_parent, str) and named_parent:
            parent = named_parent
        return RemoteComment(
            external_id=urn,
            post_external_id=post_external_id,
            parent_external_id=parent,
            author_id=actor,
            author_name=self._author_name(actor),
            text=_message_text(item.get("message")),
            created_at=created,
            permalink=_comment_permalink(urn, parent),
            state=PlatformState.VISIBLE,
            attachments=_content_urls(item.get("content")),
            raw=item,
            # LinkedIn stamps lastModified at creation too; only a later time is an edit.
            updated_at=modified if modified is not None and modified > created else None,
        )

    def _author_name(self, actor: str) -> str:
        # Comment payloads name no person: LinkedIn gives only the member's URN, and reading
        # members' profiles is not open to page apps. The permalink shows the name.
        if actor == self._organization:
            return "This page (the City)"
        return actor


# --- errors ---------------------------------------------------------------------------


def linkedin_error(response: requests.Response) -> PlatformError:
    """A LinkedIn error answer as a message a moderator can act on."""
    error = error_body(response)
    status = response.status_code
    code = str(error.get("code") or "")
    service_code = error.get("serviceErrorCode")
    details = (
        f"HTTP {status}, LinkedIn {code or 'no code'}/{service_code}: "
        f"{str(error.get('message', ''))[:300]}"
    )
    if status == 401 or code in ("INVALID_ACCESS_TOKEN", "REVOKED_ACCESS_TOKEN"):
        return PlatformError(
            "The LinkedIn token for this site has expired or was revoked: "
            "ask an administrator to renew it.",
            details=details,
        )
    if status == 403:
        return PlatformError(ACCESS_DENIED, details=details)
    if status == 429:
        wait = retry_after_seconds(response)
        if wait is None:
            wait = _until_utc_midnight()
        return PlatformError(
            "LinkedIn's daily limit of calls for this site is used up. "
            f"Try again in {wait_text(wait)}.",
            details=details,
            retryable=True,
            retry_after=wait,
        )
    if status == 404:
        return PlatformError("This no longer exists on LinkedIn.", details=details, gone=True)
    if status == 426 or code == "NONEXISTENT_VERSION":
        return PlatformError(
            "LinkedIn no longer accepts the API version this site uses. Ask an administrator "
            "to set a newer LinkedIn API version (like 202606) in the site's settings.",
            details=details,
        )
    if status >= 500:
        return PlatformError(
            "LinkedIn had a temporary problem. Try again in a few minutes.",
            details=details,
            retryable=True,
        )
    return PlatformError(
        f"LinkedIn refused the request (error {code or status}). "
        "If it keeps happening, tell an administrator.",
        details=details,
    )


def _until_utc_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(_MIN_QUOTA_WAIT, (midnight - now).total_seconds())


# --- paths and paging -----------------------------------------------------------------


def _localized(value: object) -> object:
    """A MultiLocaleString's text in its preferred locale (else any), as Rest.li writes it."""
    if not isinstance(value, dict) or not isinstance(value.get("localized"), dict):
        return None
    texts: dict[str, Any] = value["localized"]
    preferred = value.get("preferredLocale")
    if isinstance(preferred, dict):
        key = f"{preferred.get('language')}_{preferred.get('country')}"
        if key in texts:
            return texts[key]
    return next(iter(texts.values()), None)


def _actions(urn: str, *rest: str) -> str:
    # Rest.li 2.0: the URN is one path segment, so ':' '(' ',' ')' are all percent-encoded.
    return "/".join(("rest/socialActions", quote(urn, safe=""), *(rest or ("comments",))))


def _split(comment_external_id: str) -> tuple[str, str]:
    """(thread URN, comment id) from `urn:li:comment:(urn:li:activity:1,2)`."""
    match = _COMMENT_URN.fullmatch(comment_external_id)
    if match is None:
        raise PlatformError(
            "This is not a LinkedIn comment id the console can act on.",
            details=f"expected urn:li:comment:(thread,id), got {comment_external_id[:200]!r}",
        )
    return match["thread"], quote(match["id"], safe="")


def _start(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise PlatformError(
            "The console's place in the LinkedIn listing is not readable; sync again from "
            "the start.",
            details=f"cursor {cursor[:50]!r} is not a start offset",
        )
    return int(cursor)


def _next_start(body: JSON, start: int, count: int, returned: int) -> str | None:
    """The next `start`, or None at the end. LinkedIn advances by `count`, not by the items
    it returned (it may return fewer, e.g. withholding some for privacy)."""
    if returned == 0:
        return None
    paging = body.get("paging")
    paging = paging if isinstance(paging, dict) else {}
    total = paging.get("total")
    if isinstance(total, int) and not isinstance(total, bool):
        return str(start + count) if start + count < total else None
    links = paging.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "next":
            found = parse_qs(urlsplit(str(link.get("href", ""))).query).get("start")
            return found[0] if found and found[0].isdigit() else str(start + count)
    return str(start + count) if returned >= count else None


def _elements(body: JSON) -> list[Any]:
    elements = body.get("elements")
    if not isinstance(elements, list):
        raise PlatformError(
            "LinkedIn answered with something the console cannot read (no list of items). "
            "Try again later; if it keeps happening, tell an administrator.",
            details=f"top-level keys: {sorted(body)[:10]}",
            retryable=True,
        )
    return elements


# --- payloads -------------------------------------------------------------------------


def _urn(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _post(item: object) -> RemotePost | None:
    if (found := identified(item, "a LinkedIn post", log=log, read_id=_urn)) is None:
        return None
    payload, urn = found
    when = payload.get("createdAt", payload.get("publishedAt"))
    return RemotePost(
        external_id=urn,
        text=as_text(payload.get("commentary")),
        created_at=_time(when, urn),
        permalink=f"{PERMALINK_BASE}{urn}/",
        raw=payload,
    )


def _comment_urn(post_external_id: str, item: Mapping[str, Any]) -> str | None:
    urn = item.get("commentUrn")
    if isinstance(urn, str) and _COMMENT_URN.fullmatch(urn):
        return urn
    comment_id = item.get("id")
    if isinstance(comment_id, int) and not isinstance(comment_id, bool):
        comment_id = str(comment_id)
    if isinstance(comment_id, str) and re.fullmatch(r"[^,()\s]+", comment_id):
        # Built as LinkedIn builds it; the post URN is a thread the API accepts too.
        return f"urn:li:comment:({post_external_id},{comment_id})"
    return None


def _actor(item: Mapping[str, Any]) -> str:
    actor = item.get("actor")
    if isinstance(actor, str):
        return actor
    created_by = _nested(item, "created", "actor")
    return created_by if isinstance(created_by, str) else ""


def _may_have_replies(item: Mapping[str, Any]) -> bool:
    """False only when LinkedIn says there are none; unknown means look."""
    summary = item.get("commentsSummary")
    if not isinstance(summary, dict):
        return True
    count = summary.get("aggregatedTotalComments", summary.get("totalFirstLevelComments"))
    return not (isinstance(count, int) and count == 0)


def _comment_permalink(urn: str, parent: str | None) -> str:
    """The comment on linkedin.com: the thread, with the comment (and reply) highlighted."""
    match = _COMMENT_URN.fullmatch(urn)
    thread = match["thread"] if match else ""
    query = f"commentUrn={quote(parent or urn, safe='')}"
    if parent:
        query += f"&replyUrn={quote(urn, safe='')}"
    return f"{PERMALINK_BASE}{thread}?{query}"


def _message_text(message: object) -> str:
    if isinstance(message, dict):
        return as_text(message.get("text"))
    return as_text(message)


def _content_urls(content: object) -> tuple[str, ...]:
    items = content if isinstance(content, list) else [content]
    urls = [
        item["url"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]
    ]
    return tuple(dict.fromkeys(urls))


def _nested(item: Mapping[str, Any], outer: str, inner: str) -> object:
    value = item.get(outer)
    return value.get(inner) if isinstance(value, dict) else None


def _optional_time(value: object) -> datetime | None:
    """Epoch milliseconds as an aware UTC time, or None when unreadable."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return None


def _time(value: object, external_id: str) -> datetime:
    parsed = _optional_time(value)
    if parsed is not None:
        return parsed
    # A comment with a bad time must still reach the queue; `raw` keeps what was sent.
    log.warning("LinkedIn item %.120s has no readable time (%.80r); using now", external_id, value)
    return datetime.now(UTC)
