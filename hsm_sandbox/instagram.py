"""Instagram business accounts as the Instagram Graph API answers them, under `/instagram`.

Covered (design.md, "Platforms"): `/{version}/{ig-user-id}/media`,
`/{version}/{media-id}/comments` (top-level comments newest first, each with its first page of
replies nested under `replies`), `/{version}/{comment-id}/replies`, `GET /{version}/{id}` for
the account, media and comments, `POST /{version}/{comment-id}?hide=true|false` and
`DELETE /{version}/{comment-id}`. Errors, cursors and the usage headers have Graph's shapes;
Instagram's own throttle error is code 80002.

The seed is the Parks account's own (`seed.of("instagram")`): its posts as media, and all
their comments and replies.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from hsm_sandbox.faults import Fault, FaultKind
from hsm_sandbox.meta import (
    VERSION,
    GraphError,
    GraphStore,
    checked_token,
    encode_cursor,
    gone,
    graph_time,
    paginate,
    revoked,
    unknown_field,
)
from hsm_sandbox.routing import Request, Router
from hsm_sandbox.seed import SeedComment, SeedData
from hsm_sandbox.store import Comment, OneToken, threaded

PREFIX = "/instagram"
IG_USER_ID = "17841400000000001"
USERNAME = "highlandparks"
ACCOUNT_NAME = "Highland Parks & Recreation"
NESTED_REPLIES = 25  # replies nested in a comment: the first page, as Graph gives an edge

COMMENT_FIELDS = frozenset(
    {
        "id",
        "text",
        "timestamp",
        "username",
        "from",
        "hidden",
        "like_count",
        "parent_id",
        "replies",
        "media",
        "user",
        "legacy_instagram_comment_id",
    }
)
MEDIA_FIELDS = frozenset(
    {
        "id",
        "caption",
        "permalink",
        "timestamp",
        "comments_count",
        "media_type",
        "media_url",
        "thumbnail_url",
        "like_count",
        "username",
        "shortcode",
        "is_comment_enabled",
        "media_product_type",
    }
)
ACCOUNT_FIELDS = frozenset(
    {"id", "username", "name", "media_count", "followers_count", "biography", "website"}
)
DEFAULT_COMMENT_FIELDS = "id,text,timestamp"


@dataclass(frozen=True)
class IgMedia:
    id: str
    caption: str
    permalink: str
    timestamp: datetime
    media_type: str


@dataclass(frozen=True)
class IgComment:
    """A comment as seeded (or added by a test); its live state is kept by the sandbox."""

    id: str
    media_id: str
    parent_id: str | None  # Instagram threads are one level deep: the top-level comment
    user_id: str
    username: str
    text: str
    timestamp: datetime
    source: SeedComment | None = None  # the seed comment it was drawn from (tests)


def seed_account(seed: SeedData) -> tuple[tuple[IgMedia, ...], tuple[IgComment, ...]]:
    """The account's media and comments: its own seed's posts and comments, with Instagram ids."""
    own = seed.of("instagram")
    numbers = itertools.count(1)

    def made(media_id: str, comment: SeedComment, parent: IgComment | None) -> IgComment:
        top = (parent.parent_id or parent.id) if parent else None  # one level deep
        user_id = f"1784{int(comment.author_id) % 10**13:013d}"
        return IgComment(f"1797{next(numbers):013d}", media_id, top, user_id,
                         comment.author_name.removeprefix("@"), comment.message,
                         comment.created_time, source=comment)  # fmt: skip

    media: list[IgMedia] = []
    comments: list[IgComment] = []
    for index, post in enumerate(own.posts):
        number = index + 1
        permalink = f"https://www.instagram.com/p/HighlandParks{number}/"
        kind = ("IMAGE", "CAROUSEL_ALBUM", "VIDEO")[index % 3]
        item = IgMedia(f"1789{number:013d}", post.message, permalink, post.created_time, kind)
        media.append(item)
        comments += threaded(own.comments_on(post.id), functools.partial(made, item.id))
    return tuple(media), tuple(comments)


_Comment = Comment[IgComment]


class InstagramSandbox(GraphStore[_Comment], OneToken):
    """The Instagram part of the sandbox: its state, routes and fault shapes."""

    hide_param = "hide"
    trace_prefix = "SandboxIgTrace"
    usage_type = "instagram"
    transient_code = 80002  # Instagram's throttle

    def __init__(self, seed: SeedData) -> None:
        super().__init__()
        self._seed_token = seed.of("instagram").pages[0].token
        self._seed_profile = seed.of("instagram").pages[0].profile
        self.media, self.seeded = seed_account(seed)
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        obj = PREFIX + VERSION + r"/(?P<id>[^/]+)"
        router.add("GET", obj + "/media", self._route(self._list_media), self)
        router.add("GET", obj + "/comments", self._route(self._list_comments), self)
        router.add("GET", obj + "/replies", self._route(self._list_replies), self)
        router.add("GET", obj, self._route(self._read), self)
        router.add("POST", obj, self._route(self._set_hidden), self)
        router.add("DELETE", obj, self._route(self._delete_object), self)

    def reset(self) -> None:
        with self._lock:
            self.token = self._seed_token
            self.profile = dict(self._seed_profile)  # `biography`, `website`; tests change it
            self._media = {m.id: m for m in self.media}
            self._load(_stored(c) for c in self.seeded)
            self._calls.clear()

    # --- helpers for tests and the demo ----------------------------------------------

    def add_comment(
        self,
        media_id: str,
        text: str,
        *,
        username: str = "sandbox_tester",
        parent_id: str | None = None,
        timestamp: datetime | None = None,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
        text_bytes: bytes | None = None,
    ) -> str:
        """Add a comment (or a reply, with `parent_id`) and return its id.

        `extra` adds or overwrites raw payload fields (wrong types, unknown fields); `omit`
        drops fields (a missing `from` or `text`); `text_bytes` sends these bytes as the text,
        unchecked, as a platform that emits invalid UTF-8 would (no quotes or backslashes).
        """
        with self._lock:
            if media_id not in self._media:
                raise KeyError(media_id)
            number = len(self._comments) + 1
            comment_id = f"1798{number:013d}"
            if text_bytes is not None:
                text = self._raw_text(comment_id, text_bytes)
            seed = IgComment(
                id=comment_id,
                media_id=media_id,
                parent_id=parent_id,
                user_id=f"1785{number:013d}",
                username=username,
                text=text,
                timestamp=self._added_time(timestamp),
            )
            self._add(_stored(seed), extra, omit)
            return comment_id

    # --- handlers ---------------------------------------------------------------------

    def _list_media(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        if match["id"] != IG_USER_ID:
            raise gone("GET", match["id"])
        fields = _fields(request, MEDIA_FIELDS, "id", "Media")
        media = sorted(self._media.values(), key=lambda m: (m.timestamp, m.id), reverse=True)
        keyed = [((m.timestamp.timestamp(), m.id), m) for m in media]
        return paginate(
            request,
            keyed,
            newest_first=True,
            render=lambda m: self._media_json(m, fields),
            backward=False,
        )

    def _list_comments(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        if match["id"] not in self._media:
            raise gone("GET", match["id"])
        fields = _fields(request, COMMENT_FIELDS, DEFAULT_COMMENT_FIELDS, "Comment")
        top = sorted(
            (c for c in self._on(match["id"]) if c.parent_id is None),
            key=lambda c: c.key,
            reverse=True,
        )
        return paginate(
            request,
            [(c.key, c) for c in top],
            newest_first=True,
            render=lambda c: self._comment_json(request, c, fields),
            backward=False,
        )

    def _list_replies(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        parent = self._live_comment(match["id"], "get")
        fields = _fields(request, COMMENT_FIELDS, DEFAULT_COMMENT_FIELDS, "Comment")
        return paginate(
            request,
            [(c.key, c) for c in self._replies_of(parent)],
            newest_first=False,
            render=lambda c: self._comment_json(request, c, fields),
            backward=False,
        )

    def _read(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        object_id = match["id"]
        if object_id == IG_USER_ID:
            fields = _fields(request, ACCOUNT_FIELDS, "id", "User")
            full: dict[str, Any] = {
                "id": IG_USER_ID,
                "username": USERNAME,
                "name": ACCOUNT_NAME,
                "media_count": len(self._media),
                "followers_count": 4812,
                **self.profile,
            }
            return {k: v for k, v in full.items() if k in fields}
        if object_id in self._media:
            fields = _fields(request, MEDIA_FIELDS, "id", "Media")
            return self._media_json(self._media[object_id], fields)
        comment = self._live_comment(object_id, "get")
        fields = _fields(request, COMMENT_FIELDS, DEFAULT_COMMENT_FIELDS, "Comment")
        return self._comment_json(request, comment, fields)

    # --- answering (the GraphStore hooks) -----------------------------------------------

    def _owner(self, request: Request) -> str:
        return IG_USER_ID

    def _authorise(self, request: Request, owner: str) -> None:
        checked_token(request, self.token_state, "Instagram")

    def _fault_error(self, fault: Fault) -> GraphError:
        if fault.kind is FaultKind.RATE_LIMIT:
            code = fault.code or 80002
            return GraphError(
                fault.status or 400,
                code,
                f"(#{code}) There have been too many calls to this Instagram account. "
                "Wait a bit and try again.",
            )
        if fault.kind is FaultKind.REVOKED_TOKEN:
            return revoked(fault.code or 190, fault.status or 400, "Instagram")
        if fault.kind is FaultKind.PERMISSION:
            return GraphError(
                fault.status or 403,
                fault.code or 10,
                "(#10) Application does not have permission for this action "
                "(instagram_manage_comments)",
            )
        raise ValueError(f"no Instagram shape for fault {fault.kind}")

    # --- rendering ----------------------------------------------------------------------

    def _media_json(self, media: IgMedia, fields: dict[str, str | None]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": media.id,
            "caption": media.caption,
            "permalink": media.permalink,
            "timestamp": graph_time(media.timestamp),
            "comments_count": len(self._on(media.id)),
            "media_type": media.media_type,
            "media_url": f"https://scontent.sandbox.invalid/v/t51.29350-15/{media.id}_n.jpg",
            "like_count": int(media.id[-2:]) * 7,
            "username": USERNAME,
            "shortcode": media.permalink.rstrip("/").rsplit("/", 1)[-1],
            "is_comment_enabled": True,
            "media_product_type": "FEED",
        }
        return {k: v for k, v in full.items() if k in fields}

    def _comment_json(
        self, request: Request, comment: _Comment, fields: dict[str, str | None]
    ) -> dict[str, Any]:
        seed = comment.seed
        full: dict[str, Any] = {
            "id": seed.id,
            "text": comment.text,
            "timestamp": graph_time(seed.timestamp),
            "username": seed.username,
            "from": {"id": seed.user_id, "username": seed.username},
            "hidden": comment.hidden,
            "like_count": int(seed.id[-2:]) % 9,  # any stable small number
            "media": {"id": seed.media_id},
        }
        if seed.parent_id:
            full["parent_id"] = seed.parent_id
        elif "replies" in fields:
            edge = self._replies_edge(request, comment, fields["replies"])
            if edge is not None:
                full["replies"] = edge
        return comment.injected({k: v for k, v in full.items() if k in fields})

    def _replies_edge(
        self, request: Request, comment: _Comment, subfields: str | None
    ) -> dict[str, Any] | None:
        """The first page of a comment's replies, nested as Graph nests an edge."""
        replies = self._replies_of(comment)
        if not replies:
            return None  # Graph leaves out an empty edge
        fields = _parse_fields(subfields or DEFAULT_COMMENT_FIELDS, COMMENT_FIELDS, "Comment")
        window = replies[:NESTED_REPLIES]
        edge: dict[str, Any] = {
            "data": [self._comment_json(request, c, fields) for c in window],
            "paging": {
                "cursors": {
                    "before": encode_cursor(window[0].key),
                    "after": encode_cursor(window[-1].key),
                }
            },
        }
        if len(replies) > len(window):
            query = urlencode(
                {
                    "fields": subfields or DEFAULT_COMMENT_FIELDS,
                    "after": encode_cursor(window[-1].key),
                }
            )
            version = request.path.removeprefix(PREFIX).split("/")[1]
            host = request.headers.get("host", "127.0.0.1")
            edge["paging"]["next"] = (
                f"http://{host}{PREFIX}/{version}/{comment.seed.id}/replies?{query}"
            )
        return edge


SANDBOX = InstagramSandbox


# --- module helpers -------------------------------------------------------------------


def _stored(seed: IgComment) -> _Comment:
    return Comment(seed, seed.id, seed.media_id, seed.parent_id, seed.timestamp, seed.text)


def _parse_fields(text: str, known: frozenset[str], node: str) -> dict[str, str | None]:
    """`id,text,replies{id,text}` as {"id": None, "text": None, "replies": "id,text"}."""
    fields: dict[str, str | None] = {}
    depth, start = 0, 0
    parts: list[str] = []
    for index, char in enumerate(text + ","):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    for part in filter(None, parts):
        name, brace, rest = part.partition("{")
        name = name.strip()
        if name not in known:
            raise unknown_field(name, node)
        fields[name] = rest.removesuffix("}") if brace else None
    fields.setdefault("id", None)
    return fields


def _fields(
    request: Request, known: frozenset[str], default: str, node: str
) -> dict[str, str | None]:
    return _parse_fields(request.query.get("fields") or default, known, node)
