"""Facebook Pages through the Graph API (design.md, "Platforms").

A Page access token with the MODERATE task is needed: only a Page token returns commenters'
identities and comment ids. Comments are read with `filter=stream`, a flat list in which
replies carry `parent`, so one walk over a post sees the whole thread.
"""

from __future__ import annotations

import logging
from datetime import datetime

import requests

from hsm_console.connectors.base import Page, RemoteComment, RemotePost, SiteConfig
from hsm_console.connectors.http import wait_text
from hsm_console.connectors.http_connector import gone_as
from hsm_console.connectors.meta_graph import (
    FACEBOOK_PERMISSIONS,
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

DEFAULT_PAGE_SIZE = 100

POST_FIELDS = "id,message,created_time,permalink_url"
COMMENT_FIELDS = (
    "id,message,from,created_time,permalink_url,parent,is_hidden,can_hide,can_remove,attachment"
)

_COMMENT_GONE = "The comment no longer exists on Facebook: its author or a Page admin deleted it."
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001})
_TRANSIENT_CODES = frozenset({1, 2})
# Graph gives no wait for app-level limits (a rolling one-hour window): a polite first wait.
_DEFAULT_RATE_LIMIT_WAIT = 300.0


class FacebookConnector(GraphConnector):
    platform = Platform.FACEBOOK
    capabilities = CAPABILITIES[Platform.FACEBOOK]
    hidden_field = "is_hidden"
    comment_gone = _COMMENT_GONE
    profile_text_fields = ("about", "description")
    profile_link_fields = ("website",)

    def __init__(self, site: SiteConfig) -> None:
        super().__init__(site, graph_error, default_page_size=DEFAULT_PAGE_SIZE, most=500)

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        params: dict[str, str | int] = {"fields": POST_FIELDS, "limit": self._page_size}
        if cursor:
            params["after"] = cursor
        with gone_as(
            "The Facebook Page was not found, or this site's token cannot see it: "
            "check the site's Page id."
        ):
            body = self._client.get(self._path(self.site.external_id, "published_posts"), params)
        posts = [post for item in graph_data(body, "Facebook") if (post := _post(item)) is not None]
        return Page(posts, graph_next_cursor(body, "Facebook"))

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        params: dict[str, str | int] = {
            "filter": "stream",
            "order": "chronological",
            "fields": COMMENT_FIELDS,
            "limit": self._page_size,
        }
        if cursor:
            params["after"] = cursor
        if since is not None:
            params["since"] = int(since.timestamp())
        with gone_as("The post no longer exists on Facebook: a Page admin deleted it."):
            body = self._client.get(self._path(post_external_id, "comments"), params)
        comments = [
            comment
            for item in graph_data(body, "Facebook")
            if (comment := _comment(post_external_id, item)) is not None
        ]
        return Page(comments, graph_next_cursor(body, "Facebook"))

    def _set_hidden(self, comment_external_id: str, *, hidden: bool) -> None:
        with gone_as(self.comment_gone):
            body = self._client.post(
                self._path(comment_external_id), {"is_hidden": "true" if hidden else "false"}
            )
        require_success(body, "hide" if hidden else "unhide", "Facebook")


# --- errors ---------------------------------------------------------------------------


def graph_error(response: requests.Response) -> PlatformError:
    """A Graph error answer as a message a moderator can act on."""
    error = error_object(response)
    code = as_int(error.get("code"))
    subcode = as_int(error.get("error_subcode"))
    status = response.status_code
    details = (
        f"HTTP {status}, Graph error {code}/{subcode} ({error.get('type', 'no type')}): "
        f"{error.get('message', '')} [fbtrace_id {error.get('fbtrace_id', '-')}]"
    )
    if code == 190:
        return PlatformError(
            "The Facebook token for this site has expired or was revoked: "
            "ask an administrator to renew it.",
            details=details,
        )
    if code == 10 or (code is not None and 200 <= code <= 299):
        needed = ", ".join(FACEBOOK_PERMISSIONS)
        return PlatformError(
            "Facebook refused: the token for this site lacks a permission it needs. It must "
            f"have all of {needed}, and the Page's Moderate task. Ask an administrator to "
            "grant them and renew the token.",
            details=f"{details}; needs {needed} and the Page's MODERATE task",
        )
    if code in _RATE_LIMIT_CODES or status == 429:
        wait = rate_limit_wait(response, default=_DEFAULT_RATE_LIMIT_WAIT)
        return PlatformError(
            "Facebook is limiting how many calls the City may make. "
            f"Try again in {wait_text(wait)}.",
            details=details,
            retryable=True,
            retry_after=wait,
        )
    if (code == 100 and subcode == 33) or status == 404:
        return PlatformError("This no longer exists on Facebook.", details=details, gone=True)
    if code in _TRANSIENT_CODES or status >= 500:
        return PlatformError(
            "Facebook had a temporary problem. Try again in a few minutes.",
            details=details,
            retryable=True,
        )
    return PlatformError(
        f"Facebook refused the request (error {code if code is not None else status}). "
        "If it keeps happening, tell an administrator.",
        details=details,
    )


# --- payloads -------------------------------------------------------------------------


def _post(item: object) -> RemotePost | None:
    if (found := identified(item, "a Facebook post", log=log)) is None:
        return None
    payload, external_id = found
    return RemotePost(
        external_id=external_id,
        text=as_text(payload.get("message")),
        created_at=_time(payload.get("created_time"), external_id),
        permalink=as_text(payload.get("permalink_url")),
        raw=payload,
    )


def _comment(post_external_id: str, item: object) -> RemoteComment | None:
    """One comment, tolerant of missing or mistyped fields; `raw` keeps it as received."""
    what = f"a Facebook comment on {post_external_id}"
    if (found := identified(item, what, log=log)) is None:
        return None
    payload, external_id = found
    # A photo or sticker alone is a real comment: `message` is then empty or left out and
    # `attachment` says what was posted. Neither means the comment did not arrive whole.
    if payload.get("message") is None and payload.get("attachment") is None:
        skip(payload, f"{what} ({external_id})", "without text or an attachment", log=log)
        return None
    author = payload.get("from")
    author = author if isinstance(author, dict) else {}
    if as_id(author.get("id")) is None and not as_text(author.get("name")):
        skip(
            payload,
            f"{what} ({external_id})",
            "without an author (Facebook names authors only to a Page token with "
            "pages_read_user_content)",
            log=log,
        )
        return None
    parent = payload.get("parent")
    return RemoteComment(
        external_id=external_id,
        post_external_id=post_external_id,
        parent_external_id=as_id(parent.get("id")) if isinstance(parent, dict) else None,
        author_id=as_id(author.get("id")) or "",
        author_name=as_text(author.get("name")) or "(unknown)",
        text=as_text(payload.get("message")),
        created_at=_time(payload.get("created_time"), external_id),
        permalink=as_text(payload.get("permalink_url")),
        state=PlatformState.HIDDEN if is_true(payload.get("is_hidden")) else PlatformState.VISIBLE,
        attachments=_attachment_urls(payload.get("attachment")),
        raw=payload,
    )


def _attachment_urls(attachment: object) -> tuple[str, ...]:
    if not isinstance(attachment, dict):
        return ()
    media = attachment.get("media")
    image = media.get("image") if isinstance(media, dict) else None
    candidates = [attachment.get("url"), image.get("src") if isinstance(image, dict) else None]
    urls = [url for url in candidates if isinstance(url, str) and url]
    return tuple(dict.fromkeys(urls))  # de-duplicated, order kept


def _time(value: object, external_id: object) -> datetime:
    return graph_item_time(value, "Facebook", external_id, log=log, field="created_time")
