"""TikTok Business accounts through the Accounts (Organic) API (design.md, "Platforms").

The site's external id is the account's `business_id` (the open_id TikTok returns with the
token); the token travels in the `Access-Token` header. TikTok answers HTTP 200 even when a
call fails: the envelope's `code` says (0 is success), so every answer is checked here after
the shared client has dealt with what HTTP itself reports (429, 5xx, timeouts).

Comment ids: TikTok acts on a comment only together with its video (`video_id` is required to
hide one, and no call reads a comment by its id alone), while the console keeps one external
id per comment. So this connector's comment ids are "{video_id}:{comment_id}", parent ids
likewise, and `hide`, `unhide` and `fetch_state` split them again. Nothing has to be looked up
or remembered, so a stored id can be acted on after a restart or from another workstation.

Removal: TikTok lets an account delete only its own comments, so `remove` is not offered.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

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
from hsm_console.connectors.http import retry_after_seconds, wait_text
from hsm_console.connectors.http_connector import HttpConnector, gone_as, page_size_setting
from hsm_console.connectors.payload import (
    as_id,
    as_int,
    as_text,
    graph_time,
    identified,
    skip,
    utc_time,
)
from hsm_console.errors import NotPossible, PlatformError
from hsm_console.rules.capabilities import CAPABILITIES
from hsm_console.rules.domain import Platform, PlatformState

log = logging.getLogger(__name__)

API = "open_api/v1.3/business"
DEFAULT_PAGE_SIZE = 30  # the most TikTok gives per comment page (videos: 20)
MAX_VIDEO_PAGE = 20
# The account's bio (Accounts API, /business/get/; the API reference names no link field, so
# links are read from the bio's text).
PROFILE_FIELDS = ("display_name", "bio_description")
VIDEO_FIELDS = ("item_id", "create_time", "caption", "share_url", "thumbnail_url", "comments")
ID_SEPARATOR = ":"

_COMMENT_GONE = "The comment no longer exists on TikTok: its author or TikTok deleted it."
_VIDEO_GONE = "The video no longer exists on TikTok: the account deleted it."

# Codes seen in public TikTok clients (UNVERIFIED against the portal, see the sandbox).
_TOKEN_CODES = frozenset({40102, 40104, 40105})  # expired, empty, invalid or revoked
_PERMISSION_CODES = frozenset({40001})
_RATE_LIMIT_CODES = frozenset({40100})
# TikTok says neither why nor how long for "too many requests"; its limits are per minute.
_DEFAULT_RATE_LIMIT_WAIT = 60.0
# TikTok has no dedicated "not found" code that we could confirm: its message says so.
_GONE_TEXT = re.compile(r"not exist|not found|been deleted", re.IGNORECASE)


class TikTokConnector(HttpConnector):
    platform = Platform.TIKTOK
    capabilities = CAPABILITIES[Platform.TIKTOK]

    def __init__(self, site: SiteConfig) -> None:
        self._page_size = page_size_setting(
            site.settings, DEFAULT_PAGE_SIZE, most=DEFAULT_PAGE_SIZE
        )
        super().__init__(site, tiktok_error, auth_headers={"Access-Token": site.token})
        self._share_urls: dict[str, str] = {}  # video id -> share URL, for its comments

    def profile(self) -> SiteProfile:
        params: dict[str, str | int] = {
            "business_id": self.site.external_id,
            "fields": json.dumps(list(PROFILE_FIELDS)),
        }
        data = self._call("GET", "get/", params=params)
        return site_profile([data.get("bio_description")])

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        params: dict[str, str | int] = {
            "business_id": self.site.external_id,
            "fields": json.dumps(list(VIDEO_FIELDS)),
            "max_count": min(self._page_size, MAX_VIDEO_PAGE),
        }
        if cursor:
            params["cursor"] = cursor
        data = self._call("GET", "video/list/", params=params)
        posts = [post for item in _items(data, "videos") if (post := _post(item)) is not None]
        self._share_urls.update((p.external_id, p.permalink) for p in posts)
        return Page(posts, _next_cursor(data))

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        video_id = post_external_id
        permalink = self._share_url(video_id)
        params: dict[str, str | int] = {
            **self._video_params(video_id),
            "status": "ALL",  # hidden ones too: the default is PUBLIC only
            "include_replies": "true",
            # Oldest first with an offset cursor: new comments land after the cursor.
            "sort_field": "create_time",
            "sort_order": "asc",
            "max_count": self._page_size,
        }
        if cursor:
            params["cursor"] = cursor
        with gone_as(_VIDEO_GONE):
            data = self._call("GET", "comment/list/", params=params)
        found: dict[str, RemoteComment] = {}  # by id: a reply listed twice counts once
        for item in _items(data, "comments"):
            top = _comment(video_id, permalink, item, None)
            if top is not None:
                found.setdefault(top.external_id, top)
            for reply in self._thread(video_id, permalink, item, top):
                found.setdefault(reply.external_id, reply)
        comments = list(found.values())
        if since is not None:
            # The comment list has no `since`: narrow here, so sync sees only newer ones.
            comments = [c for c in comments if c.created_at >= since]
        return Page(comments, _next_cursor(data))

    def fetch_state(self, comment_external_id: str) -> PlatformState:
        video_id, comment_id = split_comment_id(comment_external_id)
        params: dict[str, str | int] = {
            **self._video_params(video_id),
            "comment_ids": json.dumps([comment_id]),  # finds replies too
            "status": "ALL",
        }
        try:
            data = self._call("GET", "comment/list/", params=params)
        except PlatformError as exc:
            if exc.gone:
                return PlatformState.REMOVED
            raise
        for item in _items(data, "comments"):
            if isinstance(item, dict) and as_id(item.get("comment_id")) == comment_id:
                return _state(item.get("status"))
        return PlatformState.REMOVED

    def hide(self, comment_external_id: str) -> None:
        self._set_hidden(comment_external_id, "HIDE")

    def unhide(self, comment_external_id: str) -> None:
        self._set_hidden(comment_external_id, "UNHIDE")

    def remove(self, comment_external_id: str) -> None:
        raise NotPossible(
            "TikTok does not let the City delete other people's comments. "
            + self.capabilities.instead
        )

    def _set_hidden(self, comment_external_id: str, action: str) -> None:
        video_id, comment_id = split_comment_id(comment_external_id)
        body = {**self._video_params(video_id), "comment_id": comment_id, "action": action}
        with gone_as(_COMMENT_GONE):
            self._call("POST", "comment/hide/", json_body=body)

    def _thread(
        self, video_id: str, permalink: str, item: object, top: RemoteComment | None
    ) -> Iterator[RemoteComment]:
        """A comment's replies: the few TikTok nests, then all of them if it has more."""
        if not isinstance(item, dict):
            return
        parent = top.external_id if top is not None else None
        inline = item.get("reply_list")
        inline = inline if isinstance(inline, list) else []
        shown = [
            reply
            for raw in inline
            if (reply := _comment(video_id, permalink, raw, parent)) is not None
        ]
        yield from shown
        count = item.get("replies")
        unsure = "replies" in item and as_int(count) is None  # a count we cannot read
        if top is None or not (unsure or (as_int(count) or 0) > len(shown)):
            return
        comment_id = split_comment_id(top.external_id)[1]
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {
                **self._video_params(video_id),
                "comment_id": comment_id,
                "status": "ALL",
                "sort_field": "create_time",
                "sort_order": "asc",
                "max_count": self._page_size,
            }
            if cursor:
                params["cursor"] = cursor
            try:
                data = self._call("GET", "comment/reply/list/", params=params)
            except PlatformError as exc:
                if exc.gone:  # deleted since the page was read: its replies went with it
                    return
                raise
            for raw in _items(data, "comments"):
                reply = _comment(video_id, permalink, raw, top.external_id)
                if reply is not None:
                    yield reply
            cursor = _next_cursor(data)
            if cursor is None:
                return

    def _share_url(self, video_id: str) -> str:
        """The video's share URL: remembered from `list_posts`, or read once."""
        if video_id not in self._share_urls:
            params: dict[str, str | int] = {
                "business_id": self.site.external_id,
                "fields": json.dumps(["item_id", "share_url"]),
                "filters": json.dumps({"video_ids": [video_id]}),
            }
            data = self._call("GET", "video/list/", params=params)
            urls = [
                as_text(v.get("share_url"))
                for v in _items(data, "videos")
                if isinstance(v, dict) and as_id(v.get("item_id")) == video_id
            ]
            # Not listed: the comment call that follows says whether the video is gone.
            self._share_urls[video_id] = urls[0] if urls else ""
        return self._share_urls[video_id]

    def _video_params(self, video_id: str) -> dict[str, str | int]:
        return {"business_id": self.site.external_id, "video_id": video_id}

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json_body: JSON | None = None,
    ) -> JSON:
        """One API call; the envelope's `data` on success, else the error it names."""
        body = self._client.request(method, f"{API}/{path}", params=params, json_body=json_body)
        code = as_int(body.get("code"))
        if code == 0:
            data = body.get("data")
            return data if isinstance(data, dict) else {}
        if code is None:
            raise PlatformError(
                "TikTok answered with something the console cannot read (no result code). "
                "Try again later; if it keeps happening, tell an administrator.",
                details=self._client.scrub(f"{method} {path}: top-level keys {sorted(body)[:10]}"),
                retryable=True,
            )
        failure = _failure(code, body, 200, None)
        raise PlatformError(
            failure.message,
            details=self._client.scrub(f"{method} {path}: {failure.details}"),
            retryable=failure.retryable,
            retry_after=failure.retry_after,
            gone=failure.gone,
        )


def split_comment_id(external_id: str) -> tuple[str, str]:
    """The video id and TikTok's comment id in one of this connector's comment ids."""
    video_id, separator, comment_id = external_id.partition(ID_SEPARATOR)
    if not (separator and video_id and comment_id):
        raise PlatformError(
            "The console cannot act on this TikTok comment: its stored id does not say which "
            "video it is on. Sync the site again, then retry.",
            details=f"expected '{{video_id}}{ID_SEPARATOR}{{comment_id}}', got {external_id!r}",
        )
    return video_id, comment_id


# --- errors ---------------------------------------------------------------------------


def tiktok_error(response: requests.Response) -> PlatformError:
    """A non-2xx TikTok answer as a message a moderator can act on."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = as_int(body.get("code")) if isinstance(body, dict) else None
    if isinstance(body, dict) and code:
        return _failure(code, body, response.status_code, retry_after_seconds(response))
    status = response.status_code
    details = f"HTTP {status}: {response.content[:200].decode('utf-8', 'replace')!r}"
    if status == 429:
        return _rate_limited(retry_after_seconds(response), details)
    if status == 401:
        return _token_failure(details)
    if status == 403:
        return _permission_failure(details)
    if status >= 500:
        return _temporary(details)
    return PlatformError(
        f"TikTok refused the request (HTTP {status}). If it keeps happening, tell an "
        "administrator.",
        details=details,
    )


def _failure(code: int, body: JSON, status: int, wait: float | None) -> PlatformError:
    """The error named by a non-zero `code` in TikTok's envelope."""
    message = as_text(body.get("message"))
    details = (
        f"HTTP {status}, TikTok code {code}: {message} "
        f"[request_id {as_text(body.get('request_id')) or '-'}]"
    )
    if code in _TOKEN_CODES:
        return _token_failure(details)
    if code in _PERMISSION_CODES:
        return _permission_failure(details)
    if code in _RATE_LIMIT_CODES:
        return _rate_limited(wait, details)
    if _GONE_TEXT.search(message):
        return PlatformError("This no longer exists on TikTok.", details=details, gone=True)
    if code >= 50000 or status >= 500:
        return _temporary(details)
    return PlatformError(
        f"TikTok refused the request (error {code}). If it keeps happening, tell an administrator.",
        details=details,
    )


def _token_failure(details: str) -> PlatformError:
    return PlatformError(
        "The TikTok token for this site has expired or was revoked: ask an administrator "
        "to renew it.",
        details=details,
    )


def _permission_failure(details: str) -> PlatformError:
    return PlatformError(
        "TikTok refused: the token for this site lacks the permission to read or moderate "
        "the Business account's comments. Ask an administrator to grant it and renew the "
        "token.",
        details=details,
    )


def _rate_limited(wait: float | None, details: str) -> PlatformError:
    seconds = wait if wait is not None else _DEFAULT_RATE_LIMIT_WAIT
    return PlatformError(
        f"TikTok is limiting how many calls the City may make. Try again in {wait_text(seconds)}.",
        details=details,
        retryable=True,
        retry_after=seconds,
    )


def _temporary(details: str) -> PlatformError:
    return PlatformError(
        "TikTok had a temporary problem. Try again in a few minutes.",
        details=details,
        retryable=True,
    )


# --- payloads -------------------------------------------------------------------------


def _items(data: JSON, key: str) -> list[Any]:
    items = data.get(key)
    if items is None and data.get("has_more") is False:
        return []  # an empty last page may leave the list out
    if not isinstance(items, list):
        raise PlatformError(
            f"TikTok answered with something the console cannot read (no list of {key}). "
            "Try again later; if it keeps happening, tell an administrator.",
            details=f"data keys: {sorted(data)[:10]}",
            retryable=True,
        )
    return items


def _next_cursor(data: JSON) -> str | None:
    """The cursor to pass back, but only while `has_more` says more exists."""
    if data.get("has_more") is not True:
        return None
    cursor = data.get("cursor")
    if isinstance(cursor, bool) or not isinstance(cursor, int | str) or cursor == "":
        raise PlatformError(
            "TikTok said more items exist but gave no way to fetch them. Try again later.",
            details=f"has_more without a usable cursor: {cursor!r}",
            retryable=True,
        )
    return str(cursor)


def _post(item: object) -> RemotePost | None:
    if (found := identified(item, "a TikTok video", log=log, field="item_id")) is None:
        return None
    payload, external_id = found
    return RemotePost(
        external_id=external_id,
        text=as_text(payload.get("caption")),
        created_at=_time(payload.get("create_time"), external_id),
        permalink=as_text(payload.get("share_url")),
        raw=payload,
    )


def _comment(
    video_id: str, permalink: str, item: object, parent: str | None
) -> RemoteComment | None:
    """One comment, tolerant of missing or mistyped fields; `raw` keeps it as received."""
    what = f"a TikTok comment on {video_id}"
    if (found := identified(item, what, log=log, field="comment_id")) is None:
        return None
    payload, comment_id = found
    author_id = as_id(payload.get("unique_identifier")) or as_id(payload.get("user_id"))
    username = as_text(payload.get("username"))
    # TikTok's comments API lists text comments: an empty text is kept as sent, a missing
    # one (or no author at all) means the comment did not arrive whole.
    if payload.get("text") is None:
        skip(payload, f"{what} ({comment_id})", "without text", log=log)
        return None
    if author_id is None and not username:
        skip(payload, f"{what} ({comment_id})", "without an author", log=log)
        return None
    parent_id = as_id(payload.get("parent_comment_id"))
    # Nested replies are comments of their own, each with its own raw payload.
    raw = {key: value for key, value in payload.items() if key != "reply_list"}
    return RemoteComment(
        external_id=f"{video_id}{ID_SEPARATOR}{comment_id}",
        post_external_id=video_id,
        parent_external_id=f"{video_id}{ID_SEPARATOR}{parent_id}" if parent_id else parent,
        author_id=author_id or "",
        author_name=username or "(unknown)",
        text=as_text(payload.get("text")),
        created_at=_time(payload.get("create_time"), comment_id),
        permalink=permalink,
        state=_state(payload.get("status")),
        attachments=(),
        raw=raw,
    )


def _state(status: object) -> PlatformState:
    if status == "PUBLIC":
        return PlatformState.VISIBLE
    if status == "HIDDEN":
        return PlatformState.HIDDEN
    return PlatformState.UNKNOWN


def _time(value: object, external_id: str) -> datetime:
    """An aware UTC time from TikTok's unix seconds, sent as a number or as digits."""
    return utc_time(value, "TikTok", external_id, log=log, field="create_time", parse=_parse_time)


def _parse_time(value: object) -> datetime | None:
    # Unlike Graph, a float is not a time here, but a string of digits is.
    seconds = as_int(value)
    if seconds is not None:
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return graph_time(value) if isinstance(value, str) else None
