"""X (Twitter) through the API v2 (design.md, "Platforms").

The site is the City's account (its numeric user id); the token is a user-context OAuth 2.0
token of that account with `tweet.read`, `users.read` and `tweet.moderate.write`.

Posts are the account's own posts that start a conversation (`/2/users/{id}/tweets` with
`exclude=replies,retweets`). Comments are the replies in each post's conversation, found by
recent search (`conversation_id:{id}`, newest first, the last seven days only, billed per
post read). The City's own replies in those conversations are kept, as Facebook's listing
keeps a Page's own comments: they are part of the public record and the parents of the
residents' replies to them; their `author_id` is the site's id, so the console can tell them.

X has no hidden flag to read back and lets the City delete only its own posts, so: hide and
unhide are `PUT /2/tweets/{id}/hidden`; remove is not offered; listings and `fetch_state`
say UNKNOWN for a reply that exists (REMOVED for one that is gone).

Edits: an edited post gets a new id, and search returns only the newest version. The
console keys a reply by its first id (`edit_history_tweet_ids[0]`), so an edit updates the
same comment (`updated_at` is the edit's time) instead of adding a new one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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
from hsm_console.connectors.http import error_body, retry_after_seconds, wait_text
from hsm_console.connectors.http_connector import HttpConnector, gone_as, page_size_setting
from hsm_console.connectors.payload import as_id, as_text, identified, iso_utc, skip
from hsm_console.errors import ConfigurationError, PlatformError
from hsm_console.rules.capabilities import CAPABILITIES
from hsm_console.rules.domain import Platform, PlatformState

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
# `entities` holds each short t.co link's `expanded_url`: the address the policy checks.
POST_FIELDS = "created_at,conversation_id,entities"
REPLY_FIELDS = (
    "author_id,created_at,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "edit_history_tweet_ids"
)
# Recent search reaches seven days back and refuses an older start_time: stay inside.
SEARCH_REACH = timedelta(days=7) - timedelta(minutes=5)
TWITTER_EPOCH_MS = 1_288_834_974_657

_PROBLEMS = "https://api.twitter.com/2/problems/"
_COMMENT_GONE = "The reply no longer exists on X: its author deleted it."
# X's windows are 15 minutes: without a reset header, wait one window.
_DEFAULT_RATE_LIMIT_WAIT = 15 * 60.0
_RATE_LIMIT_CODES = frozenset({88})  # v1.1-style {"errors":[{"code":88}]}
_TOKEN_CODES = frozenset({32, 89})


class XConnector(HttpConnector):
    platform = Platform.X
    capabilities = CAPABILITIES[Platform.X]

    def __init__(self, site: SiteConfig) -> None:
        if not _is_id(site.external_id):
            raise ConfigurationError(
                f"The X site's account id must be the account's number, not {site.external_id!r}."
            )
        self._page_size = page_size_setting(site.settings, DEFAULT_PAGE_SIZE, most=100, least=10)
        super().__init__(site, x_error, auth_headers={"Authorization": f"Bearer {site.token}"})

    # --- listing ----------------------------------------------------------------------

    def profile(self) -> SiteProfile:
        user_id = quote(self.site.external_id, safe="")
        body = self._client.get(f"2/users/{user_id}", {"user.fields": "description,url,entities"})
        user = _dict(body.get("data"))
        if not user and _not_found(body):
            raise PlatformError(
                "The X account of this site was not found: check the site's account id.",
                details=_errors_text(body),
            )
        entities = _dict(user.get("entities"))
        expanded = [
            link
            for part in ("url", "description")
            for link in _expanded_urls(_dict(entities.get(part)).get("urls"))
        ]
        return site_profile([user.get("description")], [*expanded, user.get("url")])

    def post_links(self, post: RemotePost) -> tuple[str, ...]:
        return tuple(_expanded_urls(_dict(post.raw.get("entities")).get("urls")))

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        params: dict[str, str | int] = {
            "tweet.fields": POST_FIELDS,
            "exclude": "replies,retweets",  # only posts that start a conversation
            "expansions": "author_id",
            "user.fields": "username",
            "max_results": self._page_size,
        }
        if cursor:
            params["pagination_token"] = cursor
        body = self._client.get(f"2/users/{quote(self.site.external_id, safe='')}/tweets", params)
        if "data" not in body and _not_found(body):
            raise PlatformError(
                "The X account of this site was not found: check the site's account id.",
                details=_errors_text(body),
            )
        _log_partial_errors(body, "posts")
        # Every post here is the City's own: its handle makes the permalinks.
        handle = as_text(_users(body).get(self.site.external_id, {}).get("username"))
        posts = [post for item in _data(body) if (post := _post(item, handle)) is not None]
        return Page(posts, _next_token(body))

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        if not _is_id(post_external_id):
            # The id goes into a search query: anything but digits could change the query.
            raise PlatformError(
                "This is not an X post id, so its replies cannot be searched.",
                details=f"post id {post_external_id[:40]!r}",
            )
        params: dict[str, str | int] = {
            "query": f"conversation_id:{post_external_id}",
            "tweet.fields": REPLY_FIELDS,
            "expansions": "author_id",
            "user.fields": "username,name",
            "max_results": self._page_size,
        }
        if cursor:
            params["next_token"] = cursor
        if since is not None and since > datetime.now(UTC) - SEARCH_REACH:
            # An older `since` needs no start_time: search reaches back only so far anyway.
            params["start_time"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self._client.get("2/tweets/search/recent", params)
        _log_partial_errors(body, f"replies to {post_external_id}")
        users = _users(body)
        found: dict[str, RemoteComment] = {}  # by first id: one entry per reply, not per edit
        for item in _data(body):
            reply = _reply(post_external_id, item, users)
            if reply is not None:
                found.setdefault(reply.external_id, reply)
        return Page(list(found.values()), _next_token(body))

    # --- state and actions --------------------------------------------------------------

    def fetch_state(self, comment_external_id: str) -> PlatformState:
        """REMOVED if the reply is gone; else UNKNOWN: X does not say whether it is hidden."""
        try:
            body = self._client.get(f"2/tweets/{quote(comment_external_id, safe='')}")
        except PlatformError as exc:
            if exc.gone:
                return PlatformState.REMOVED
            raise
        if isinstance(body.get("data"), dict):
            return PlatformState.UNKNOWN
        if _not_found(body):
            return PlatformState.REMOVED
        # E.g. the author's account is suspended or protected: it exists, but X will not say.
        log.info("X gave no post for %s: %s", comment_external_id, _errors_text(body))
        return PlatformState.UNKNOWN

    def hide(self, comment_external_id: str) -> None:
        self._set_hidden(comment_external_id, hidden=True)

    def unhide(self, comment_external_id: str) -> None:
        self._set_hidden(comment_external_id, hidden=False)

    def _set_hidden(self, comment_external_id: str, *, hidden: bool) -> None:
        with gone_as(_COMMENT_GONE):
            body = self._client.request(
                "PUT",
                f"2/tweets/{quote(comment_external_id, safe='')}/hidden",
                json_body={"hidden": hidden},
            )
        data = body.get("data")
        if isinstance(data, dict) and data.get("hidden") is hidden:
            return
        if _not_found(body):
            raise PlatformError(_COMMENT_GONE, details=_errors_text(body), gone=True)
        raise PlatformError(
            f"X did not confirm the {'hide' if hidden else 'unhide'}. Check the reply on X "
            "before trying again.",
            details=f"answer: {json.dumps(body)[:300]}",
            retryable=True,
        )


# --- errors ---------------------------------------------------------------------------


def x_error(response: requests.Response) -> PlatformError:
    """An X problem (RFC 7807) or v1.1-style error as a message a moderator can act on."""
    problem = error_body(response)
    status = response.status_code
    kind = str(problem.get("type") or "")
    title = str(problem.get("title") or "")
    detail = str(problem.get("detail") or "")
    codes = {
        code
        for e in _list(problem.get("errors"))
        if isinstance(e, dict) and isinstance(code := e.get("code"), int)
    }
    details = f"HTTP {status}, {kind or 'no type'}: {title}: {detail}"[:500]
    if codes:
        details += f" (codes {sorted(codes)})"
    if status == 429 or codes & _RATE_LIMIT_CODES:
        wait = _rate_limit_wait(response)
        return PlatformError(
            f"X is limiting how many calls the City may make. Try again in {wait_text(wait)}.",
            details=details,
            retryable=True,
            retry_after=wait,
        )
    if status == 401 or codes & _TOKEN_CODES:
        return PlatformError(
            "The X token for this site has expired or was revoked: ask an administrator to "
            "renew it.",
            details=details,
        )
    if status == 403:
        if kind.endswith("client-forbidden"):
            message = (
                "X refused: the City's X developer app does not have the access this needs "
                "(it must belong to a Project with the right access level). Tell an "
                "administrator."
            )
        elif kind.endswith("unsupported-authentication"):
            message = (
                "X refused: hiding replies needs a token of the City's own account (OAuth 2.0 "
                "user context with tweet.moderate.write). Ask an administrator to renew it."
            )
        else:
            message = (
                "X refused: the City can hide only replies in conversations its own account "
                "started, with a token that allows hiding replies (tweet.moderate.write)."
            )
        return PlatformError(message, details=details)
    if status == 404 or kind.endswith("resource-not-found"):
        return PlatformError("This no longer exists on X.", details=details, gone=True)
    if status >= 500:
        return PlatformError(
            "X had a temporary problem. Try again in a few minutes.",
            details=details,
            retryable=True,
        )
    return PlatformError(
        f"X refused the request ({title or status}). If it keeps happening, tell an administrator.",
        details=details,
    )


def _rate_limit_wait(response: requests.Response) -> float:
    """Seconds to wait: `x-rate-limit-reset` (Unix time), else Retry-After, else a window."""
    reset = response.headers.get("x-rate-limit-reset", "").strip()
    if reset.isdigit():
        return max(1.0, int(reset) - time.time())
    after = retry_after_seconds(response)
    return after if after is not None else _DEFAULT_RATE_LIMIT_WAIT


def _not_found(body: Mapping[str, Any]) -> bool:
    """A partial error that says the object asked for does not exist."""
    return any(
        isinstance(e, dict) and str(e.get("type", "")).endswith("resource-not-found")
        for e in _list(body.get("errors"))
    )


def _errors_text(body: Mapping[str, Any]) -> str:
    parts = [
        f"{e.get('title', '')}: {e.get('detail', '')}"
        for e in _list(body.get("errors"))
        if isinstance(e, dict)
    ]
    return "; ".join(parts)[:500] or "no errors given"


def _log_partial_errors(body: Mapping[str, Any], what: str) -> None:
    # X answers 200 with `errors` for the parts it could not give (e.g. a suspended author):
    # the rest of the page still counts.
    if _list(body.get("errors")):
        log.warning("X left parts out of %s: %s", what, _errors_text(body))


# --- payloads -------------------------------------------------------------------------


def _data(body: JSON) -> list[Any]:
    data = body.get("data", [])  # no `data` at all when nothing matched
    if not isinstance(data, list):
        raise PlatformError(
            "X answered with something the console cannot read (no list of posts). "
            "Try again later; if it keeps happening, tell an administrator.",
            details=f"top-level keys: {sorted(body)[:10]}",
            retryable=True,
        )
    return data


def _next_token(body: JSON) -> str | None:
    token = _dict(body.get("meta")).get("next_token")
    return token if isinstance(token, str) and token else None


def _expanded_urls(urls: object) -> list[str]:
    """The full addresses behind X's t.co links (`entities.*.urls[].expanded_url`)."""
    return [
        expanded
        for url in _list(urls)
        if isinstance(url, dict) and isinstance(expanded := url.get("expanded_url"), str)
    ]


def _users(body: JSON) -> dict[str, dict[str, Any]]:
    users = _list(_dict(body.get("includes")).get("users"))
    return {
        user_id: user
        for user in users
        if isinstance(user, dict) and (user_id := as_id(user.get("id"))) is not None
    }


def _post(item: object, username: str) -> RemotePost | None:
    if (found := identified(item, "an X post", log=log)) is None:
        return None
    payload, post_id = found
    return RemotePost(
        external_id=post_id,
        text=as_text(payload.get("text")),
        created_at=_time(payload.get("created_at"), post_id),
        permalink=_permalink(username, post_id),
        raw=payload,
    )


def _reply(
    post_id: str, item: object, users: Mapping[str, Mapping[str, Any]]
) -> RemoteComment | None:
    """One reply, tolerant of missing or mistyped fields; `raw` keeps it as received."""
    what = f"an X reply in {post_id}"
    if (found := identified(item, what, log=log)) is None:
        return None
    payload, version_id = found
    # Every post has its text (a photo alone comes as its t.co link) and its author's id, even
    # when the author's profile is withheld (suspended): either missing is an incomplete item.
    if payload.get("text") is None:
        skip(payload, f"{what} ({version_id})", "without text", log=log)
        return None
    if as_id(payload.get("author_id")) is None:
        skip(payload, f"{what} ({version_id})", "without an author", log=log)
        return None
    history = [i for v in _list(payload.get("edit_history_tweet_ids")) if (i := as_id(v))]
    first_id = history[0] if history else version_id
    author_id = as_id(payload.get("author_id")) or ""
    user = users.get(author_id, {})
    username, name = as_text(user.get("username")), as_text(user.get("name"))
    version_time = iso_utc(payload.get("created_at"))
    edited = first_id != version_id
    # An edit's created_at is the edit's time; the first id's snowflake holds the original's
    # (and stands in for a created_at that cannot be read).
    original = _snowflake_time(first_id)
    created = (original if edited else None) or version_time or original
    if created is None:
        log.warning("X reply %s has no readable time (%.80r); using now", first_id, item)
        created = datetime.now(UTC)
    parent = next(
        (
            as_id(ref.get("id"))
            for ref in _list(payload.get("referenced_tweets"))
            if isinstance(ref, dict) and ref.get("type") == "replied_to"
        ),
        None,
    )
    raw: JSON = dict(payload)
    if user:  # the author's profile comes in `includes`: keep it with the reply
        raw["includes"] = {"users": [dict(user)]}
    return RemoteComment(
        external_id=first_id,
        post_external_id=post_id,
        parent_external_id=None if parent in (None, post_id) else parent,
        author_id=author_id,
        author_name=_author_name(name, username),
        text=as_text(payload.get("text")),
        created_at=created,
        permalink=_permalink(username, first_id),
        state=PlatformState.UNKNOWN,  # X has no hidden flag to read
        attachments=(),
        raw=raw,
        updated_at=version_time if edited else None,
    )


def _author_name(name: str, username: str) -> str:
    if name and username:
        return f"{name} (@{username})"
    if username:
        return f"@{username}"
    return name or "(unknown)"


def _permalink(username: str, post_id: str) -> str:
    if username:
        return f"https://x.com/{quote(username, safe='')}/status/{quote(post_id, safe='')}"
    return f"https://x.com/i/web/status/{quote(post_id, safe='')}"  # X redirects to the author


def _snowflake_time(post_id: str) -> datetime | None:
    """When an X id was made: its top bits count milliseconds since X's epoch."""
    if not _is_id(post_id) or int(post_id) < 10**16:  # older ids are not snowflakes
        return None
    millis = (int(post_id) >> 22) + TWITTER_EPOCH_MS
    try:
        made = datetime.fromtimestamp(millis / 1000, UTC).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        return None
    return made


def _time(value: object, post_id: str) -> datetime:
    parsed = iso_utc(value) or _snowflake_time(post_id)
    if parsed is None:
        log.warning("X post %.40s has no readable time (%.80r); using now", post_id, value)
        return datetime.now(UTC)
    return parsed


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 19


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
