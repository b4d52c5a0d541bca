"""Instagram business accounts through the Instagram Graph API (design.md, "Platforms").

The site's external id is the business account's Instagram user id; its base URL picks the
flavour: graph.facebook.com (Instagram API with Facebook Login: a Page token with
instagram_manage_comments) or graph.instagram.com (Instagram Login: a token with
instagram_business_manage_comments). Both speak Graph, so errors go through Facebook's
`graph_error`, with Instagram's own throttle code and permission names added here.

Comments are read per media: top-level comments page by page, each with the first page of its
replies nested. A thread with more replies is completed from `/{comment-id}/replies` before
the page is returned, so a page always holds whole threads and a cursor never splits one.
Instagram has no comment permalink: a comment's is its media's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from hsm_console.connectors.base import (
    JSON,
    Page,
    RemoteComment,
    RemotePost,
    SiteConfig,
)
from hsm_console.connectors.facebook import graph_error
from hsm_console.connectors.http import wait_text
from hsm_console.connectors.http_connector import gone_as
from hsm_console.connectors.meta_graph import (
    INSTAGRAM_LOGIN_PERMISSIONS,
    INSTAGRAM_PERMISSIONS,
    GraphConnector,
    error_object,
    graph_data,
    graph_item_time,
    graph_next_cursor,
    rate_limit_wait,
    require_success,
)
from hsm_console.connectors.payload import as_id, as_int, as_text, identified, is_true, skip
from hsm_console.errors import PlatformError
from hsm_console.rules.capabilities import CAPABILITIES
from hsm_console.rules.domain import Platform, PlatformState

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50

MEDIA_FIELDS = "id,caption,permalink,timestamp,comments_count,media_type"
REPLY_FIELDS = "id,text,timestamp,username,from,hidden,like_count,parent_id"
COMMENT_FIELDS = f"{REPLY_FIELDS},replies{{{REPLY_FIELDS}}}"

_COMMENT_GONE = "The comment no longer exists on Instagram: its author or the account deleted it."
_MEDIA_GONE = "The post no longer exists on Instagram: the account deleted it."
# 80002 is Instagram's BUC throttle; the others are Graph's app, user and Page limits.
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80002})
# Instagram names no wait for a rolling 24-hour BUC window it does not report: a polite start.
_DEFAULT_RATE_LIMIT_WAIT = 300.0


class InstagramConnector(GraphConnector):
    platform = Platform.INSTAGRAM
    capabilities = CAPABILITIES[Platform.INSTAGRAM]
    hidden_field = "hidden"
    comment_gone = _COMMENT_GONE
    profile_text_fields = ("biography",)
    profile_link_fields = ("website",)

    def __init__(self, site: SiteConfig) -> None:
        super().__init__(site, instagram_error, default_page_size=DEFAULT_PAGE_SIZE, most=100)
        self._permalinks: dict[str, str] = {}  # media id -> permalink, for its comments

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        params: dict[str, str | int] = {"fields": MEDIA_FIELDS, "limit": self._page_size}
        if cursor:
            params["after"] = cursor
        with gone_as(
            "The Instagram account was not found, or this site's token cannot see it: "
            "check the site's Instagram user id."
        ):
            body = self._client.get(self._path(self.site.external_id, "media"), params)
        posts = [
            post for item in graph_data(body, "Instagram") if (post := _post(item)) is not None
        ]
        self._permalinks.update((p.external_id, p.permalink) for p in posts)
        return Page(posts, graph_next_cursor(body, "Instagram"))

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        permalink = self._permalink(post_external_id)
        params: dict[str, str | int] = {"fields": COMMENT_FIELDS, "limit": self._page_size}
        if cursor:
            params["after"] = cursor
        with gone_as(_MEDIA_GONE):
            body = self._client.get(self._path(post_external_id, "comments"), params)
        found: dict[str, RemoteComment] = {}  # by id: a reply listed twice counts once
        for item in graph_data(body, "Instagram"):
            top = _comment(post_external_id, permalink, item, None)
            if top is not None:
                found.setdefault(top.external_id, top)
            replies = item.get("replies") if isinstance(item, dict) else None
            parent = top.external_id if top is not None else None
            for reply in self._thread(post_external_id, permalink, parent, replies):
                found.setdefault(reply.external_id, reply)
        comments = list(found.values())
        if since is not None:
            # The comments edge has no `since`: narrow here, so sync sees only newer ones.
            comments = [c for c in comments if c.created_at >= since]
        return Page(comments, graph_next_cursor(body, "Instagram"))

    def _set_hidden(self, comment_external_id: str, *, hidden: bool) -> None:
        with gone_as(self.comment_gone):
            body = self._client.request(
                "POST",
                self._path(comment_external_id),
                params={"hide": "true" if hidden else "false"},
            )
        require_success(body, "hide" if hidden else "unhide", "Instagram")

    def _thread(
        self, media_id: str, permalink: str, parent: str | None, replies: object
    ) -> Iterator[RemoteComment]:
        """A comment's nested replies, then any further pages of them."""
        if not isinstance(replies, dict):
            return
        edge: JSON = replies
        while True:
            items = edge.get("data")
            for item in items if isinstance(items, list) else []:
                reply = _comment(media_id, permalink, item, parent)
                if reply is not None:
                    yield reply
            after = graph_next_cursor(edge, "Instagram")
            if after is None:
                return
            if parent is None:
                log.warning("Instagram listed more replies to a comment without an id")
                return
            params: dict[str, str | int] = {
                "fields": REPLY_FIELDS,
                "limit": self._page_size,
                "after": after,
            }
            try:
                edge = self._client.get(self._path(parent, "replies"), params)
            except PlatformError as exc:
                if exc.gone:  # deleted since the page was read: its replies went with it
                    return
                raise

    def _permalink(self, media_id: str) -> str:
        """The media's permalink: remembered from `list_posts`, or read once."""
        if media_id not in self._permalinks:
            with gone_as(_MEDIA_GONE):
                body = self._client.get(self._path(media_id), {"fields": "id,permalink"})
            self._permalinks[media_id] = as_text(body.get("permalink"))
        return self._permalinks[media_id]


# --- errors ---------------------------------------------------------------------------


def instagram_error(response: requests.Response) -> PlatformError:
    """A Graph error answer from Instagram as a message a moderator can act on."""
    error = error_object(response)
    code = as_int(error.get("code"))
    if code in _RATE_LIMIT_CODES or response.status_code == 429:
        wait = rate_limit_wait(response, default=_DEFAULT_RATE_LIMIT_WAIT, usage_type="instagram")
        return PlatformError(
            f"Instagram is limiting how many calls the City may make. Try again in "
            f"{wait_text(wait)}.",
            details=_details(response, error),
            retryable=True,
            retry_after=wait,
        )
    if code == 10 or (code is not None and 200 <= code <= 299):
        login = urlsplit(response.url).hostname == "graph.instagram.com"
        needed = ", ".join(INSTAGRAM_LOGIN_PERMISSIONS if login else INSTAGRAM_PERMISSIONS)
        return PlatformError(
            "Instagram refused: the token for this site lacks a permission it needs. It must "
            f"have all of {needed}. Ask an administrator to grant them and renew the token.",
            details=f"{_details(response, error)}; needs {needed}",
        )
    # Everything else reads the same as on Facebook, but for the platform's name.
    general = graph_error(response)
    return PlatformError(
        general.message.replace("Facebook", "Instagram"),
        details=general.details,
        retryable=general.retryable,
        retry_after=general.retry_after,
        gone=general.gone,
    )


def _details(response: requests.Response, error: Mapping[str, Any]) -> str:
    return (
        f"HTTP {response.status_code}, Graph error {error.get('code')}/"
        f"{error.get('error_subcode')} ({error.get('type', 'no type')}): "
        f"{error.get('message', '')} [fbtrace_id {error.get('fbtrace_id', '-')}]"
    )


# --- payloads -------------------------------------------------------------------------


def _post(item: object) -> RemotePost | None:
    if (found := identified(item, "an Instagram media", log=log)) is None:
        return None
    payload, external_id = found
    return RemotePost(
        external_id=external_id,
        text=as_text(payload.get("caption")),
        created_at=_time(payload.get("timestamp"), external_id),
        permalink=as_text(payload.get("permalink")),
        raw=payload,
    )


def _comment(
    media_id: str, permalink: str, item: object, parent: str | None
) -> RemoteComment | None:
    """One comment, tolerant of missing or mistyped fields; `raw` keeps it as received."""
    what = f"an Instagram comment on {media_id}"
    if (found := identified(item, what, log=log)) is None:
        return None
    payload, external_id = found
    author = payload.get("from")
    author = author if isinstance(author, dict) else {}
    username = as_text(payload.get("username")) or as_text(author.get("username"))
    # Instagram comments are text only: an empty `text` is still a comment, but one left out
    # (or one without any author) did not arrive whole.
    if payload.get("text") is None:
        skip(payload, f"{what} ({external_id})", "without text", log=log)
        return None
    if not username and as_id(author.get("id")) is None:
        skip(payload, f"{what} ({external_id})", "without an author", log=log)
        return None
    # Nested replies are comments of their own, each with its own raw payload.
    raw = {key: value for key, value in payload.items() if key != "replies"}
    return RemoteComment(
        external_id=external_id,
        post_external_id=media_id,
        parent_external_id=as_id(payload.get("parent_id")) or parent,
        author_id=as_id(author.get("id")) or "",
        author_name=username or "(unknown)",
        text=as_text(payload.get("text")),
        created_at=_time(payload.get("timestamp"), external_id),
        permalink=permalink,
        state=PlatformState.HIDDEN if is_true(payload.get("hidden")) else PlatformState.VISIBLE,
        attachments=(),
        raw=raw,
    )


def _time(value: object, external_id: str) -> datetime:
    return graph_item_time(value, "Instagram", external_id, log=log, field="timestamp")
