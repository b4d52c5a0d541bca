"""YouTube channels through the Data API v3 (design.md, "Platforms").

The site is a channel (`UC...`); the token is its owner's OAuth token with the
`youtube.force-ssl` scope. Only the owner sees `moderationStatus` and the held-for-review and
likely-spam listings, and only the owner may change a comment's status.

Posts are the videos of the channel's uploads playlist (`playlistItems.list`, 1 quota unit a
page; `search.list` would cost 100 a page and lags behind new uploads).

A video's comments are three `commentThreads` listings read one after another: published,
then heldForReview, then likelySpam. The cursor names the listing and carries YouTube's own
`pageToken` inside it ("heldForReview:<token>"). Each thread comes with its replies; when a
thread has more replies than it embeds, the rest are read with `comments.list?parentId=`.

A listing is not a comment's state: YouTube lists a thread under heldForReview or likelySpam
when its top-level comment *or any of its replies* has that status, so a published comment
can arrive in the held listing. Every comment's state is its own `snippet.moderationStatus`
(owner's view). The API does not list rejected comments, so a rejected comment stops being
read back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

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
from hsm_console.connectors.payload import (
    as_id,
    as_text,
    identified,
    iso_utc,
    skip,
    utc_time,
    valid_unicode,
)
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.capabilities import CAPABILITIES
from hsm_console.rules.domain import Platform, PlatformState

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
# Pages (of `page_size` threads) of the held-for-review and likely-spam listings that
# fetch_state reads, per listing, before it gives up and says UNKNOWN (1 quota unit a page).
DEFAULT_STATE_SCAN_PAGES = 5

LISTINGS = ("published", "heldForReview", "likelySpam")
_STATES = {
    "published": PlatformState.VISIBLE,
    "heldForReview": PlatformState.HIDDEN,
    "likelySpam": PlatformState.HIDDEN,
    "rejected": PlatformState.REMOVED,
}
_PACIFIC = ZoneInfo("America/Los_Angeles")
_REASON = re.compile(r"\breason=(\S+)")
# YouTube names no wait for its per-minute limits: a polite first wait.
_DEFAULT_RATE_LIMIT_WAIT = 60.0

_GONE = (
    "The comment no longer exists on YouTube, or YouTube no longer shows it: its author "
    "deleted it, or it was rejected (YouTube's API does not list rejected comments)."
)


class YouTubeConnector(HttpConnector):
    platform = Platform.YOUTUBE
    capabilities = CAPABILITIES[Platform.YOUTUBE]

    def __init__(self, site: SiteConfig) -> None:
        self._page_size = page_size_setting(site.settings, DEFAULT_PAGE_SIZE, most=100)
        scan = site.settings.get("state_scan_pages", DEFAULT_STATE_SCAN_PAGES)
        if type(scan) is not int or scan < 1:
            raise ConfigurationError("The site's state_scan_pages must be a whole number above 0.")
        self._scan_pages = scan
        self._uploads: str | None = None
        super().__init__(site, google_error, auth_headers={"Authorization": f"Bearer {site.token}"})

    # --- listing ----------------------------------------------------------------------

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        params: dict[str, str | int] = {
            "part": "snippet,contentDetails",
            "playlistId": self._uploads_playlist(),
            "maxResults": min(self._page_size, 50),  # playlistItems allows at most 50
        }
        if cursor:
            params["pageToken"] = cursor
        with gone_as("The channel's uploads playlist was not found on YouTube."):
            body = self._client.get("youtube/v3/playlistItems", params)
        posts = [post for item in _items(body) if (post := _video(item)) is not None]
        token = body.get("nextPageToken")
        return Page(posts, token if isinstance(token, str) and token else None)

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        """One page of one listing. `since` is applied here: YouTube has no such filter."""
        status, token = _parse_cursor(cursor)
        params: dict[str, str | int] = {
            "part": "snippet,replies",
            "videoId": post_external_id,
            "moderationStatus": status,
            "order": "time",
            "textFormat": "plainText",
            "maxResults": self._page_size,
        }
        if token:
            params["pageToken"] = token
        try:
            with gone_as("The video no longer exists on YouTube."):
                body = self._client.get("youtube/v3/commentThreads", params)
        except PlatformError as exc:
            if _reason(exc) == "commentsDisabled":  # nothing to list, not a failure
                return Page([], None)
            raise
        found: dict[str, RemoteComment] = {}  # by id: a comment is returned once per page
        for item in _items(body):
            for comment in self._thread(post_external_id, status, item):
                found.setdefault(comment.external_id, comment)
        comments = list(found.values())
        if since is not None:
            comments = [c for c in comments if _changed_since(c, since)]
        return Page(comments, _next_cursor(status, body))

    def _thread(self, video_id: str, status: str, item: object) -> list[RemoteComment]:
        if not isinstance(item, dict):
            log.warning("Skipped a YouTube comment thread that is not an object: %.200r", item)
            return []
        snippet = _dict(item.get("snippet"))
        thread_id = as_id(item.get("id"))
        top = _comment(video_id, status, snippet.get("topLevelComment"), None)
        parent_id = top.external_id if top else thread_id
        embedded = _list(_dict(item.get("replies")).get("comments"))
        total = _int(snippet.get("totalReplyCount")) or 0
        replies = embedded
        if parent_id and total > len(embedded):
            replies = self._replies(parent_id)
        made = [top] if top else []
        made.extend(c for r in replies if (c := _comment(video_id, status, r, parent_id)))
        return made

    def _replies(self, parent_id: str) -> list[Any]:
        """Every reply of a thread: YouTube embeds only some of them in the thread."""
        replies: list[Any] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {
                "part": "snippet",
                "parentId": parent_id,
                "textFormat": "plainText",
                "maxResults": self._page_size,
            }
            if token:
                params["pageToken"] = token
            body = self._client.get("youtube/v3/comments", params)
            replies.extend(_items(body))
            next_token = body.get("nextPageToken")
            if not isinstance(next_token, str) or not next_token:
                return replies
            if next_token in seen:  # a loop would never end: read the listing again later
                raise PlatformError(
                    "YouTube kept answering with the same page of replies. Try again later.",
                    details=f"repeated pageToken for replies of {parent_id}",
                    retryable=True,
                )
            seen.add(next_token)
            token = next_token

    def profile(self) -> SiteProfile:
        """The channel's `snippet.description` (the API gives no channel links of its own)."""
        body = self._client.get(
            "youtube/v3/channels", {"part": "snippet", "id": self.site.external_id}
        )
        channel = next((i for i in _items(body) if isinstance(i, dict)), None)
        if channel is None:
            raise PlatformError(
                "The YouTube channel was not found, or this site's token cannot see it: "
                "check the site's channel id (it starts with UC).",
                details=f"channels.list found no channel {self.site.external_id}",
            )
        return site_profile([_dict(channel.get("snippet")).get("description")])

    def _uploads_playlist(self) -> str:
        if self._uploads is None:
            body = self._client.get(
                "youtube/v3/channels", {"part": "contentDetails", "id": self.site.external_id}
            )
            channel = next((i for i in _items(body) if isinstance(i, dict)), {})
            related = _dict(_dict(channel.get("contentDetails")).get("relatedPlaylists"))
            uploads = related.get("uploads")
            if not isinstance(uploads, str) or not uploads:
                raise PlatformError(
                    "The YouTube channel was not found, or this site's token cannot see it: "
                    "check the site's channel id (it starts with UC).",
                    details=f"channels.list gave no uploads playlist for {self.site.external_id}",
                )
            self._uploads = uploads
        return self._uploads

    # --- state ------------------------------------------------------------------------

    def fetch_state(self, comment_external_id: str) -> PlatformState:
        """Read one comment's own `moderationStatus`.

        `comments.list?id=` finds live comments; Google's reference says it leaves
        `moderationStatus` out (it is used when present). A comment it does not find is
        REMOVED (deleted by its author, or rejected: the API does not list rejected comments).
        For one it finds, the status is read where YouTube gives it:
        - a reply: `comments.list?parentId=` lists the thread's replies with their statuses;
        - a top-level comment: its thread in the video's heldForReview and likelySpam
          listings (up to `state_scan_pages` pages each), whose `topLevelComment` carries
          the comment's own status. A thread is listed there when any of its replies is
          held too, so being listed says nothing by itself. In neither listing, the comment
          is published: VISIBLE. If a listing is longer than that, or the answer lacks what
          is needed, the state is UNKNOWN rather than a guess.
        """
        try:
            body = self._client.get(
                "youtube/v3/comments",
                {"part": "snippet", "id": comment_external_id, "textFormat": "plainText"},
            )
        except PlatformError as exc:
            if exc.gone:
                return PlatformState.REMOVED
            raise
        item = _with_id(_items(body), comment_external_id)
        if item is None:
            return PlatformState.REMOVED
        snippet = _dict(item.get("snippet"))
        said = _own_state(item)
        if said is not None:
            return said
        parent_id = as_id(snippet.get("parentId"))
        if parent_id:
            reply = _with_id(self._replies(parent_id), comment_external_id)
            # Live by id, yet not among its thread's replies (or no status): cannot tell.
            return (_own_state(reply) if reply else None) or PlatformState.UNKNOWN
        video_id = as_id(snippet.get("videoId"))
        if video_id is None:
            log.warning("YouTube comment %s came without its video id", comment_external_id)
            return PlatformState.UNKNOWN
        for status in ("heldForReview", "likelySpam"):
            found, thread = self._in_listing(video_id, status, comment_external_id)
            if not found:
                return PlatformState.UNKNOWN
            if thread is not None:
                top = _dict(_dict(thread.get("snippet")).get("topLevelComment"))
                own = _own_state(top)
                if own is None:
                    log.warning(
                        "YouTube listed thread %s without its comment's status",
                        comment_external_id,
                    )
                    return PlatformState.UNKNOWN
                return own  # published itself yet listed for a held reply: VISIBLE
        return PlatformState.VISIBLE

    def _in_listing(
        self, video_id: str, status: str, thread_id: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """(read to the end, the thread if listed): (False, None) when the listing is longer
        than `state_scan_pages` pages."""
        token: str | None = None
        for _ in range(self._scan_pages):
            params: dict[str, str | int] = {
                "part": "snippet",
                "videoId": video_id,
                "moderationStatus": status,
                "textFormat": "plainText",
                "maxResults": self._page_size,
            }
            if token:
                params["pageToken"] = token
            body = self._client.get("youtube/v3/commentThreads", params)
            thread = _with_id(_items(body), thread_id)
            if thread is not None:
                return True, thread
            next_token = body.get("nextPageToken")
            if not isinstance(next_token, str) or not next_token:
                return True, None
            token = next_token
        log.info(
            "The %s listing of video %s is longer than %d pages", status, video_id, self._scan_pages
        )
        return False, None

    # --- actions ----------------------------------------------------------------------

    def hide(self, comment_external_id: str) -> None:
        self._set_status(comment_external_id, "heldForReview")

    def unhide(self, comment_external_id: str) -> None:
        self._set_status(comment_external_id, "published")

    def remove(self, comment_external_id: str) -> None:
        # Banning the author is a separate, supervisor-approved step: never part of remove.
        self._set_status(comment_external_id, "rejected", banAuthor="false")

    def ban_author(
        self, author_id: str, comment_external_id: str, until: datetime, reason: str
    ) -> None:
        # YouTube bans only with a rejection of one of the author's comments, and keeps no
        # end date: the ban's end is carried out by hand (capabilities).
        self._set_status(comment_external_id, "rejected", banAuthor="true")

    def _set_status(self, comment_id: str, status: str, **more: str) -> None:
        params: dict[str, str | int] = {"id": comment_id, "moderationStatus": status, **more}
        try:
            # Answered with 204 No Content.
            self._client.send("POST", "youtube/v3/comments/setModerationStatus", params=params)
        except PlatformError as exc:
            if exc.gone:
                raise PlatformError(_GONE, details=exc.details, gone=True) from exc
            reason = _reason(exc)
            if reason == "operationNotSupported":
                # Google documents only that published cannot be set on a rejected comment.
                what = "publish" if status == "published" else "hold"
                raise NotPossible(
                    f"YouTube will not {what} this comment: it was rejected, and YouTube's "
                    "API does not publish a rejected comment again.",
                    details=exc.details,
                ) from exc
            if reason == "processingFailure" and self._is_gone(comment_id):
                # YouTube's answer when the author has already deleted the comment.
                raise PlatformError(_GONE, details=exc.details, gone=True) from exc
            raise

    def _is_gone(self, comment_id: str) -> bool:
        try:
            return self.fetch_state(comment_id) is PlatformState.REMOVED
        except PlatformError:
            return False  # cannot tell: the original error stands


# --- errors ---------------------------------------------------------------------------


def seconds_until_quota_reset(now: datetime | None = None) -> float:
    """Seconds to the next midnight Pacific time, when YouTube's daily quota resets."""
    moment = now or datetime.now(UTC)
    local = moment.astimezone(_PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), clock(0), tzinfo=_PACIFIC)
    # Subtracting across time zones goes through UTC, so DST days are 23 or 25 hours long.
    return max(1.0, (midnight - moment.astimezone(UTC)).total_seconds())


def google_error(response: requests.Response) -> PlatformError:
    """A Google error envelope as a message a moderator can act on."""
    error = _dict(error_body(response).get("error"))
    items = [e for e in _list(error.get("errors")) if isinstance(e, dict)]
    first: Mapping[str, Any] = items[0] if items else {}
    reason = str(first.get("reason") or error.get("status") or "")
    domain = str(first.get("domain") or "")
    status = response.status_code
    message = str(error.get("message") or first.get("message") or "")
    details = f"HTTP {status}, reason={reason or '-'} domain={domain or '-'}: {message[:300]}"
    if status == 401 or reason == "authError":  # "required" on a 400 is a missing parameter
        return PlatformError(
            "The YouTube token for this site has expired or was revoked: "
            "ask an administrator to renew it.",
            details=details,
            token_lapsed=True,
        )
    if reason in ("quotaExceeded", "dailyLimitExceeded") or domain == "youtube.quota":
        wait = seconds_until_quota_reset()
        return PlatformError(
            "YouTube's daily quota is used up; it resets at midnight Pacific time "
            f"(in {wait_text(wait)}). Until then the console cannot read or change "
            "YouTube comments.",
            details=details,
            retryable=True,
            retry_after=wait,
        )
    if status == 429 or reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        after = retry_after_seconds(response)
        wait = after if after is not None else _DEFAULT_RATE_LIMIT_WAIT
        return PlatformError(
            "YouTube is limiting how many calls the City may make. "
            f"Try again in {wait_text(wait)}.",
            details=details,
            retryable=True,
            retry_after=wait,
        )
    if reason in ("insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"):
        return PlatformError(
            "YouTube refused: the token for this site lacks the permission to moderate "
            "comments (the youtube.force-ssl scope, granted by the channel's owner). "
            "Ask an administrator to renew the token with that permission.",
            details=details,
        )
    if reason == "commentsDisabled":
        return PlatformError("Comments are turned off for this video.", details=details)
    if status == 403:
        return PlatformError(
            "YouTube refused: this site's token may not moderate this comment. Only the "
            "channel's owner can change a comment's status; check that the token was issued "
            "by the City's channel.",
            details=details,
        )
    if status == 404 or reason.endswith("NotFound"):
        return PlatformError("This no longer exists on YouTube.", details=details, gone=True)
    if reason == "processingFailure":
        return PlatformError(
            "YouTube could not process the request. The comment may already have been "
            "deleted by its author; check it on YouTube before trying again.",
            details=details,
        )
    if status >= 500 or reason in ("backendError", "internalError"):
        return PlatformError(
            "YouTube had a temporary problem. Try again in a few minutes.",
            details=details,
            retryable=True,
        )
    return PlatformError(
        f"YouTube refused the request ({reason or status}). If it keeps happening, "
        "tell an administrator.",
        details=details,
    )


def _reason(error: PlatformError) -> str:
    """The Google `reason` that `google_error` wrote into the details."""
    found = _REASON.search(error.details)
    return found.group(1) if found else ""


# --- cursors --------------------------------------------------------------------------


def _parse_cursor(cursor: str | None) -> tuple[str, str]:
    """(listing, YouTube's pageToken or "" for the listing's first page)."""
    if not cursor:
        return LISTINGS[0], ""
    status, sep, token = cursor.partition(":")
    if not sep or status not in LISTINGS:
        raise ValueError(f"not a YouTube comment cursor: {cursor[:80]!r}")
    return status, token


def _next_cursor(status: str, body: JSON) -> str | None:
    token = body.get("nextPageToken")
    if isinstance(token, str) and token:
        return f"{status}:{token}"
    following = LISTINGS.index(status) + 1
    return f"{LISTINGS[following]}:" if following < len(LISTINGS) else None


# --- payloads -------------------------------------------------------------------------


def _items(body: JSON) -> list[Any]:
    items = body.get("items", [])  # YouTube leaves `items` out of some empty answers
    if not isinstance(items, list):
        raise PlatformError(
            "YouTube answered with something the console cannot read (no list of items). "
            "Try again later; if it keeps happening, tell an administrator.",
            details=f"top-level keys: {sorted(body)[:10]}",
            retryable=True,
        )
    return items


def _video(item: object) -> RemotePost | None:
    if not isinstance(item, dict):
        log.warning("Skipped a YouTube playlist item that is not an object: %.200r", item)
        return None
    snippet = _dict(item.get("snippet"))
    details = _dict(item.get("contentDetails"))
    video_id = as_id(details.get("videoId")) or as_id(
        _dict(snippet.get("resourceId")).get("videoId")
    )
    if video_id is None:
        skip(item, "a YouTube playlist item", "without a video id", log=log)
        return None
    if not valid_unicode(item):
        skip(
            item, f"a YouTube video ({video_id:.80})", "with text that is not valid UTF-8", log=log
        )
        return None
    title, description = as_text(snippet.get("title")), as_text(snippet.get("description"))
    published = details.get("videoPublishedAt") or snippet.get("publishedAt")
    return RemotePost(
        external_id=video_id,
        text=f"{title}\n\n{description}" if description else title,
        created_at=_time(published, video_id),
        permalink=f"https://www.youtube.com/watch?v={quote(video_id, safe='')}",
        raw=item,
    )


def _comment(
    video_id: str, listing: str, item: object, parent_id: str | None
) -> RemoteComment | None:
    """One comment, tolerant of missing or mistyped fields; `raw` keeps it as received."""
    if item is None:
        return None
    what = f"a YouTube comment on {video_id}"
    if (found := identified(item, what, log=log)) is None:
        return None
    payload, external_id = found
    snippet = _dict(payload.get("snippet"))
    # YouTube comments are text only and always name their author: an empty or mistyped
    # text is kept as sent, but a missing one (or a missing author) is an incomplete item.
    if snippet.get("textOriginal") is None and snippet.get("textDisplay") is None:
        skip(payload, f"{what} ({external_id})", "without text", log=log)
        return None
    author = _dict(snippet.get("authorChannelId"))
    if as_id(author.get("value")) is None and not as_text(snippet.get("authorDisplayName")):
        skip(payload, f"{what} ({external_id})", "without an author", log=log)
        return None
    state = _own_state(payload)
    if state is None:
        # Only the published listing says something of a comment without a status: it
        # lists a thread for its top-level comment being published. A held listing also
        # lists threads for a held reply, and says nothing of a reply's own status.
        top_published = listing == "published" and parent_id is None
        state = PlatformState.VISIBLE if top_published else PlatformState.UNKNOWN
    created = _time(snippet.get("publishedAt"), external_id)
    updated = iso_utc(snippet.get("updatedAt"))
    return RemoteComment(
        external_id=external_id,
        post_external_id=video_id,
        parent_external_id=as_id(snippet.get("parentId")) or parent_id,
        author_id=as_id(author.get("value")) or "",
        author_name=as_text(snippet.get("authorDisplayName")) or "(unknown)",
        # textOriginal is the text as typed; owners do not always get it, textDisplay then.
        text=_first_text(snippet.get("textOriginal"), snippet.get("textDisplay")),
        created_at=created,
        permalink=(
            f"https://www.youtube.com/watch?v={quote(video_id, safe='')}"
            f"&lc={quote(external_id, safe='')}"
        ),
        state=state,
        attachments=(),
        raw=payload,
        updated_at=updated if updated is not None and updated > created else None,
    )


def _own_state(item: object) -> PlatformState | None:
    """A comment resource's own `snippet.moderationStatus` as a state; None if it has none."""
    status = _dict(_dict(item).get("snippet")).get("moderationStatus")
    return _STATES.get(status) if isinstance(status, str) else None


def _with_id(items: list[Any], wanted: str) -> dict[str, Any] | None:
    """The item of `items` whose id is `wanted`."""
    return next((i for i in items if isinstance(i, dict) and as_id(i.get("id")) == wanted), None)


def _changed_since(comment: RemoteComment, since: datetime) -> bool:
    """Written or edited at or after `since`."""
    return comment.created_at >= since or (
        comment.updated_at is not None and comment.updated_at >= since
    )


def _time(value: object, external_id: str) -> datetime:
    return utc_time(value, "YouTube", external_id, log=log)


def _first_text(*values: object) -> str:
    for value in values:
        if isinstance(value, str):
            return value
    for value in values:
        if value is not None and not isinstance(value, dict | list):
            return str(value)
    return ""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
