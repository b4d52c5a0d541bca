"""TikTok Business accounts as the Accounts (Organic) API answers them, under `/tiktok`.

Covered (design.md, "Platforms"), all under `/open_api/v1.3/business/`:
`GET video/list/` (fields, filters.video_ids, cursor = the last video's create time in ms),
`GET comment/list/` (status, comment_ids, include_replies, sort, offset cursor),
`GET comment/reply/list/`, `POST comment/hide/` and `POST comment/delete/` (the account's own
comments only). Requests carry the token in the `Access-Token` header. Every answer has the
envelope `{"code", "message", "request_id", "data"}`, and failures arrive as a non-zero `code`
in an HTTP 200 answer, as on TikTok. The codes are those public clients use (40001
permission, 40002 parameters, 40100 too many requests, 40102/40104/40105 token): UNVERIFIED
against TikTok's portal, which was not available.

The seed is the Parks account's own (`seed.of("tiktok")`): its posts as videos with all their
comments and replies, and one reply per video written by the account itself (`owner: true`).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hsm_sandbox.faults import Fault, FaultKind
from hsm_sandbox.params import one_of, whole
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SeedComment, SeedData
from hsm_sandbox.store import Comment, CommentStore, OneToken, epoch_ms, threaded

PREFIX = "/tiktok"
API = PREFIX + "/open_api/v1.3/business"
BUSINESS_ID = "highland-parks-open-id"
USERNAME = "highlandparks"
MAX_VIDEOS = 20
MAX_COMMENTS = 30
INLINE_REPLIES = 3  # replies `include_replies` nests in each comment
OWNER_REPLY = "thank u for watching 🫶 more on highlandil.gov, and yes we read every comment"

OK = 0
NO_PERMISSION = 40001
BAD_PARAMS = 40002
TOO_MANY_REQUESTS = 40100
TOKEN_EXPIRED = 40102
TOKEN_EMPTY = 40104
TOKEN_INVALID = 40105

REVOKED_MESSAGE = "The access token is invalid or has been revoked."
FAULT_ERRORS = {  # a fault's usual code, and its message
    FaultKind.RATE_LIMIT: (TOO_MANY_REQUESTS, "Too many requests. Please retry in some time."),
    FaultKind.REVOKED_TOKEN: (TOKEN_INVALID, REVOKED_MESSAGE),
    FaultKind.PERMISSION: (
        NO_PERMISSION,
        "No permission to operate. The access token lacks the scope this endpoint needs "
        "(comment.list.manage).",
    ),
}

# Account fields the sandbox serves on /business/get/ (TikTok's Accounts API; the reference
# names no profile fields, so these are the business API's profile field names, UNVERIFIED).
ACCOUNT_FIELDS = frozenset({
    "username", "display_name", "profile_image", "is_business_account", "profile_deep_link",
    "bio_description",
})  # fmt: skip
VIDEO_FIELDS = frozenset({
    "item_id", "create_time", "thumbnail_url", "share_url", "embed_url", "caption",
    "video_views", "video_duration", "likes", "comments", "shares", "reach",
})  # fmt: skip


class TikTokError(Exception):
    """Raised inside a handler; becomes a TikTok error envelope."""

    def __init__(self, code: int, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class TtVideo:
    item_id: str
    caption: str
    share_url: str
    create_time: datetime


@dataclass(frozen=True)
class TtComment:
    """A comment as seeded (or added by a test); its live state is kept by the sandbox."""

    comment_id: str
    video_id: str
    parent_comment_id: str | None  # TikTok threads are one level deep
    user_id: str
    username: str
    text: str
    create_time: datetime
    owner: bool = False  # written by the account itself
    source: SeedComment | None = None  # the seed comment it was drawn from (tests)


def seed_account(seed: SeedData) -> tuple[tuple[TtVideo, ...], tuple[TtComment, ...]]:
    """The account's videos and comments: its own seed's posts and comments, with TikTok ids."""
    own = seed.of("tiktok")
    numbers = itertools.count(1)

    def made(video_id: str, comment: SeedComment, parent: TtComment | None) -> TtComment:
        top = (parent.parent_comment_id or parent.comment_id) if parent else None  # one level deep
        return TtComment(f"735{next(numbers):016d}", video_id, top,
                         _hashed("user", comment.author_id), comment.author_name.removeprefix("@"),
                         comment.message, comment.created_time, source=comment)  # fmt: skip

    videos: list[TtVideo] = []
    comments: list[TtComment] = []
    for index, post in enumerate(own.posts):
        item_id = f"734{index + 1:016d}"
        share_url = f"https://www.tiktok.com/@{USERNAME}/video/{item_id}"
        videos.append(TtVideo(item_id, post.message, share_url, post.created_time))
        thread = threaded(own.comments_on(post.id), functools.partial(made, item_id))
        first = thread[0]
        owner_reply = TtComment(f"735{next(numbers):016d}", item_id, first.comment_id,
                                _hashed("user", BUSINESS_ID), USERNAME, OWNER_REPLY,
                                first.create_time + timedelta(minutes=7), owner=True)  # fmt: skip
        comments += [*thread, owner_reply]
    return tuple(videos), tuple(comments)


def _hashed(kind: str, value: str) -> str:
    """TikTok's opaque 64-hex user ids, stable for a given author."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


_Comment = Comment[TtComment]


class TikTokSandbox(CommentStore[_Comment, TikTokError], OneToken):
    """The TikTok part of the sandbox: its state, routes and fault shapes."""

    error_type = TikTokError

    def __init__(self, seed: SeedData) -> None:
        super().__init__()
        self._seed_token = seed.of("tiktok").pages[0].token
        self._seed_profile = seed.of("tiktok").pages[0].profile
        self._seed_name = seed.of("tiktok").pages[0].name
        self.videos, self.seeded = seed_account(seed)
        self._requests = itertools.count(1)
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        router.add("GET", API + "/get/?", self._on_params(self._account), self)
        router.add("GET", API + "/video/list/?", self._on_params(self._list_videos), self)
        router.add("GET", API + "/comment/list/?", self._on_params(self._list_comments), self)
        router.add("GET", API + "/comment/reply/list/?", self._on_params(self._list_replies), self)
        router.add("POST", API + "/comment/hide/?", self._on_params(self._hide), self)
        router.add("POST", API + "/comment/delete/?", self._on_params(self._delete_own), self)

    def reset(self) -> None:
        with self._lock:
            self.token = self._seed_token
            # The account's `bio_description`; tests change it here.
            self.profile = dict(self._seed_profile)
            self._videos = {v.item_id: v for v in self.videos}
            self._load(_stored(c) for c in self.seeded)

    # --- helpers for tests and the demo ----------------------------------------------

    def add_comment(
        self,
        video_id: str,
        text: str,
        *,
        username: str = "sandbox.tester",
        parent_id: str | None = None,
        create_time: datetime | None = None,
        owner: bool = False,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
        text_bytes: bytes | None = None,
    ) -> str:
        """Add a comment (or a reply, with `parent_id`) and return its comment_id.

        `extra` adds or overwrites raw payload fields (wrong types, unknown fields); `omit`
        drops fields (a missing `username` or `text`); `text_bytes` sends these bytes as the
        text, unchecked, as a platform that emits invalid UTF-8 would (no quotes or backslashes).
        """
        with self._lock:
            if video_id not in self._videos:
                raise KeyError(video_id)
            number = len(self._comments) + 1
            comment_id = f"736{number:016d}"
            if text_bytes is not None:
                text = self._raw_text(comment_id, text_bytes)
            when = self._added_time(create_time)
            seed = TtComment(comment_id, video_id, parent_id, _hashed("user", username), username,
                             text, when, owner)  # fmt: skip
            self._add(_stored(seed), extra, omit)
            return comment_id

    # --- handlers ---------------------------------------------------------------------

    def _on_params(
        self, work: Callable[[dict[str, str]], dict[str, Any]]
    ) -> Callable[[Request, re.Match[str]], Response]:
        """A route whose handler needs the parameters only: query or form, as sent."""
        return self._route(lambda request, match: work(_params(request)))

    def _account(self, params: dict[str, str]) -> dict[str, Any]:
        """GET /business/get/: the account's profile, the `fields` asked for (a JSON list)."""
        fields = _json_param(params, "fields", list) or ["display_name"]
        unknown = [name for name in fields if name not in ACCOUNT_FIELDS]
        if unknown:
            raise TikTokError(BAD_PARAMS, f"fields: Invalid field {unknown[0]!r}.")
        full = {
            "username": USERNAME,
            "display_name": self._seed_name,
            "profile_image": f"https://p16-sign.sandbox.invalid/avatar/{USERNAME}.jpeg",
            "is_business_account": True,
            "profile_deep_link": f"https://www.tiktok.com/@{USERNAME}",
            **self.profile,
        }
        return {name: full[name] for name in fields if name in full}

    def _list_videos(self, params: dict[str, str]) -> dict[str, Any]:
        fields = _json_param(params, "fields", list) or ["item_id"]
        unknown = [name for name in fields if name not in VIDEO_FIELDS]
        if unknown:
            raise TikTokError(BAD_PARAMS, f"fields: Invalid field {unknown[0]!r}.")
        filters = _json_param(params, "filters", dict) or {}
        wanted = filters.get("video_ids")
        videos = sorted(self._videos.values(), key=lambda v: v.create_time, reverse=True)
        if isinstance(wanted, list):
            videos = [v for v in videos if v.item_id in wanted]
        cursor = _int_param(params, "cursor", 0, minimum=0)
        if cursor:
            videos = [v for v in videos if epoch_ms(v.create_time) < cursor]
        window = videos[: _int_param(params, "max_count", MAX_VIDEOS, 1, MAX_VIDEOS)]
        return {
            "videos": [self._video_json(v, fields) for v in window],
            "cursor": epoch_ms(window[-1].create_time) if window else 0,
            "has_more": len(videos) > len(window),
        }

    def _list_comments(self, params: dict[str, str]) -> dict[str, Any]:
        video = self._video(params)
        ids = _json_param(params, "comment_ids", list)
        if ids is not None and len(ids) > MAX_COMMENTS:
            raise TikTokError(BAD_PARAMS, "comment_ids: Longer than maximum length 30.")
        scope = [
            c
            for c in self._on(video.item_id)
            if (c.id in ids if ids is not None else c.parent_id is None)
        ]
        include_replies = params.get("include_replies", "false").lower() == "true"
        return self._page(params, scope, include_replies=include_replies)

    def _list_replies(self, params: dict[str, str]) -> dict[str, Any]:
        video = self._video(params)
        parent = self._comment(video, _required(params, "comment_id"))
        if parent.parent_id is not None:
            raise TikTokError(BAD_PARAMS, "comment_id: Replies to replies do not exist.")
        return self._page(params, self._replies_of(parent), include_replies=False)

    def _hide(self, params: dict[str, str]) -> dict[str, Any]:
        video = self._video(params)
        comment = self._comment(video, _required(params, "comment_id"))
        comment.hidden = _choice(params, "action", ("HIDE", "UNHIDE")) == "HIDE"
        return {}

    def _delete_own(self, params: dict[str, str]) -> dict[str, Any]:
        comment = self._live(_required(params, "comment_id"))
        if comment is None:
            raise _not_found("comment")
        if not comment.seed.owner:
            raise TikTokError(
                NO_PERMISSION,
                "No permission to operate. Only comments posted by the account can be deleted.",
            )
        self._delete(comment)
        return {}

    # --- state and rendering ------------------------------------------------------------

    def _video(self, params: dict[str, str]) -> TtVideo:
        video = self._videos.get(_required(params, "video_id"))
        if video is None:
            raise _not_found("video")
        return video

    def _comment(self, video: TtVideo, comment_id: str) -> _Comment:
        comment = self._live(comment_id)
        if comment is None or comment.post_id != video.item_id:
            raise _not_found("comment")
        return comment

    def _page(
        self, params: dict[str, str], scope: list[_Comment], *, include_replies: bool
    ) -> dict[str, Any]:
        """One page of comments: filtered by status, sorted, cut at an offset cursor."""
        status = _choice(params, "status", ("PUBLIC", "ALL"), "PUBLIC")
        visible = [c for c in scope if status == "ALL" or not c.hidden]
        sort_keys: dict[str, Callable[[_Comment], tuple[float, str]]] = {
            "create_time": lambda c: c.key,
            "likes": lambda c: (self._likes(c), c.id),
            "replies": lambda c: (len(self._replies_of(c)), c.id),
        }
        sort_field = _choice(params, "sort_field", tuple(sort_keys), "create_time")
        order = _choice(params, "sort_order", ("asc", "desc", "smart"), "desc")
        ordered = sorted(visible, key=sort_keys[sort_field], reverse=order != "asc")
        cursor = _int_param(params, "cursor", 0, minimum=0)
        window = ordered[cursor : cursor + _int_param(params, "max_count", 20, 1, MAX_COMMENTS)]
        return {
            "comments": [
                self._comment_json(c, include_replies=include_replies, status=status)
                for c in window
            ],
            "cursor": cursor + len(window),
            "has_more": cursor + len(window) < len(ordered),
        }

    def _likes(self, comment: _Comment) -> int:
        return int(comment.id[-2:]) % 11  # any stable small number

    def _video_json(self, video: TtVideo, fields: list[Any]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "item_id": video.item_id,
            "create_time": int(video.create_time.timestamp()),
            "thumbnail_url": f"https://p16-sign.sandbox.invalid/obj/{video.item_id}~tplv.jpeg",
            "share_url": video.share_url,
            "embed_url": f"https://www.tiktok.com/embed/v2/{video.item_id}",
            "caption": video.caption,
            "video_views": 1200 + int(video.item_id[-2:]) * 37,
            "video_duration": 31.5,
            "likes": 88,
            "comments": len(self._on(video.item_id)),
            "shares": 5,
            "reach": 950,
        }
        return {k: v for k, v in full.items() if k in fields}

    def _comment_json(
        self, comment: _Comment, *, include_replies: bool, status: str
    ) -> dict[str, Any]:
        seed = comment.seed
        replies = self._replies_of(comment)
        full: dict[str, Any] = {
            "comment_id": seed.comment_id,
            "video_id": seed.video_id,
            "user_id": seed.user_id,
            "unique_identifier": _hashed("unique", seed.user_id),
            "username": seed.username,
            "text": comment.text,
            "create_time": str(int(seed.create_time.timestamp())),  # a string, as TikTok sends
            "likes": self._likes(comment),
            "replies": len(replies),
            "status": "HIDDEN" if comment.hidden else "PUBLIC",
            "owner": seed.owner,
            "liked": False,
            "pinned": False,
            "profile_image": f"https://p16-sign.sandbox.invalid/avatar/{seed.user_id[:16]}.jpeg",
        }
        if seed.parent_comment_id is not None:
            full["parent_comment_id"] = seed.parent_comment_id
            del full["replies"]
        elif include_replies:
            shown = [c for c in replies if status == "ALL" or not c.hidden]
            full["reply_list"] = [
                self._comment_json(c, include_replies=False, status=status)
                for c in shown[:INLINE_REPLIES]
            ]
        return comment.injected(full)

    # --- answering (the CommentStore hooks) ---------------------------------------------

    def _admit(self, request: Request) -> None:
        token = request.headers.get("access-token", "").strip()
        if not token:
            raise TikTokError(TOKEN_EMPTY, "Access token is empty.")
        if not self.accepts(token):
            raise TikTokError(TOKEN_INVALID, REVOKED_MESSAGE)
        if _required(_params(request), "business_id") != BUSINESS_ID:
            raise TikTokError(NO_PERMISSION, "No permission to operate this business account.")

    def _ok_response(self, request: Request, payload: Any) -> Response:
        return self._envelope(OK, "OK", payload)

    def _error_response(self, request: Request, error: TikTokError) -> Response:
        return self._envelope(error.code, error.message, {}, status=error.status)

    def _fault_error(self, fault: Fault) -> TikTokError:
        if fault.kind not in FAULT_ERRORS:
            raise ValueError(f"no TikTok shape for fault {fault.kind}")
        code, message = FAULT_ERRORS[fault.kind]
        code = fault.code or code
        if fault.kind is FaultKind.REVOKED_TOKEN and code == TOKEN_EXPIRED:
            message = "Access token has expired."
        return TikTokError(code, message, fault.status or 200)

    def _envelope(
        self, code: int, message: str, data: dict[str, Any], *, status: int = 200
    ) -> Response:
        number = next(self._requests)
        request_id = f"{datetime.now(UTC):%Y%m%d%H%M%S}{number:020X}"
        body = {"code": code, "message": message, "request_id": request_id, "data": data}
        return self._json(status, body)


SANDBOX = TikTokSandbox


# --- module helpers -------------------------------------------------------------------


def _stored(seed: TtComment) -> _Comment:
    return Comment(
        seed, seed.comment_id, seed.video_id, seed.parent_comment_id, seed.create_time, seed.text
    )


def _params(request: Request) -> dict[str, str]:
    return request.query if request.method == "GET" else request.form()


def _not_found(what: str) -> TikTokError:
    return TikTokError(BAD_PARAMS, f"{what}_id: The {what} does not exist or has been deleted.")


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise TikTokError(BAD_PARAMS, f"{name}: Missing data for required field.")
    return value


def _choice(
    params: dict[str, str], name: str, choices: tuple[str, ...], default: str | None = None
) -> str:
    """One of `choices`; required unless it has a `default`."""
    value = _required(params, name) if default is None else params.get(name, default)
    message = f"{name}: Must be one of: {', '.join(choices)}."
    return one_of(value, choices, lambda _: TikTokError(BAD_PARAMS, message))


def _int_param(
    params: dict[str, str], name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    value = params.get(name)
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
    message = f"{name}: Must be a whole number {bounds}."
    high = math.inf if maximum is None else maximum
    return (
        whole(value, minimum, high, lambda _: TikTokError(BAD_PARAMS, message))
        if value
        else default
    )


def _json_param(params: dict[str, str], name: str, kind: type[Any]) -> Any:
    """A parameter TikTok takes as JSON text (`fields`, `filters`, `comment_ids`)."""
    value = params.get(name)
    if value is None:
        return None
    try:
        loaded = json.loads(value)
    except ValueError:
        loaded = None
    if not isinstance(loaded, kind):
        raise TikTokError(BAD_PARAMS, f"{name}: Not a valid {kind.__name__}.")
    return loaded
