"""Instagram business accounts as the Instagram Graph API answers them, under `/instagram`.

Covered (platform-apis.md, section 2): `/{version}/{ig-user-id}/media`,
`/{version}/{media-id}/comments` (top-level comments newest first, each with its first page of
replies nested under `replies`), `/{version}/{comment-id}/replies`, `GET /{version}/{id}` for
the account, media and comments, `POST /{version}/{comment-id}?hide=true|false` and
`DELETE /{version}/{comment-id}`. Errors, cursors and the usage headers have Graph's shapes;
Instagram's own throttle error is code 80002.

The seed is the Parks account: its three newest Facebook posts as media, with about 50 of
their comments (every fourth thread, plus every one a moderator would act on or whose text is
hostile), so the same texts reach every platform's tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from hsm_sandbox.faults import Fault, FaultKind, generic_response
from hsm_sandbox.graph import GraphError
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SeedComment, SeedData

PREFIX = "/instagram"
IG_USER_ID = "17841400000000001"
USERNAME = "highlandparks"
ACCOUNT_NAME = "Highland Parks & Recreation"
SOURCE_PAGE = "1000000000001"  # the seeded Facebook Page whose posts and comments are reused
MEDIA_COUNT = 3
KEEP_EVERY = 4  # of the other threads, keep every fourth
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
NESTED_REPLIES = 25  # replies nested in a comment: the first page, as Graph gives an edge

VERSION = r"/(?P<version>v\d+\.\d+)"

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
ACCOUNT_FIELDS = frozenset({"id", "username", "name", "media_count", "followers_count"})
DEFAULT_COMMENT_FIELDS = "id,text,timestamp"

GONE_MESSAGE = (
    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded "
    "due to missing permissions, or does not support this operation. Please read the Graph "
    "API documentation at https://developers.facebook.com/docs/graph-api"
)


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
    """The account's media and comments, drawn deterministically from the seed."""
    page = next((p for p in seed.pages if p.id == SOURCE_PAGE), seed.pages[0])
    posts = sorted(
        (p for p in seed.posts if p.page_id == page.id), key=lambda p: (p.created_time, p.id)
    )[-MEDIA_COUNT:]
    media: list[IgMedia] = []
    comments: list[IgComment] = []
    ids: dict[str, str] = {}
    for index, post in enumerate(posts):
        item = IgMedia(
            id=f"1789{index + 1:013d}",
            caption=post.message,
            permalink=f"https://www.instagram.com/p/HighlandParks{index + 1}/",
            timestamp=post.created_time,
            media_type=("IMAGE", "CAROUSEL_ALBUM", "VIDEO")[index % 3],
        )
        media.append(item)
        thread = seed.comments_on(post.id)
        by_id = {c.id: c for c in thread}
        top = [c for c in thread if c.parent_id is None]
        chosen = {
            c.id
            for i, c in enumerate(top)
            if i % KEEP_EVERY == 0 or c.tags or c.expected_code is not None
        }
        for comment in thread:
            root = _root(comment, by_id)
            if root.id not in chosen:
                continue
            ids[comment.id] = f"1797{len(comments) + 1:013d}"
            comments.append(
                IgComment(
                    id=ids[comment.id],
                    media_id=item.id,
                    parent_id=ids[root.id] if root.id != comment.id else None,
                    user_id=f"1784{int(comment.author_id) % 10**13:013d}",
                    username=_username(comment.author_name),
                    text=comment.message,
                    timestamp=comment.created_time,
                    source=comment,
                )
            )
    return tuple(media), tuple(comments)


def _root(comment: SeedComment, by_id: dict[str, SeedComment]) -> SeedComment:
    while comment.parent_id is not None and comment.parent_id in by_id:
        comment = by_id[comment.parent_id]
    return comment


def _username(name: str) -> str:
    words = re.findall(r"[a-z0-9]+", name.lower().replace("'", ""))
    return "_".join(words) or "instagram_user"


@dataclass
class _Comment:
    seed: IgComment
    text: str
    extra: dict[str, Any] = field(default_factory=dict)  # injected raw fields
    omit: frozenset[str] = frozenset()
    hidden: bool = False
    deleted: bool = False

    @property
    def key(self) -> tuple[float, str]:
        return (self.seed.timestamp.timestamp(), self.seed.id)


class InstagramSandbox:
    """The Instagram part of the sandbox: its state, routes and fault shapes."""

    def __init__(self, seed: SeedData) -> None:
        page = next((p for p in seed.pages if p.id == SOURCE_PAGE), seed.pages[0])
        self._seed_token = page.token
        self.media, self.seeded = seed_account(seed)
        self._lock = threading.RLock()
        self._trace = 0
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
            self._media = {m.id: m for m in self.media}
            self._comments = [_Comment(c, c.text) for c in self.seeded]
            self._by_id = {c.seed.id: c for c in self._comments}
            self._raw_bytes: dict[str, bytes] = {}
            self._calls = 0

    def fault_response(self, fault: Fault, request: Request) -> Response:
        with self._lock:
            generic = generic_response(fault)
            if generic is not None:
                generic.headers.update(self._usage_headers())
                return generic
            if fault.kind is FaultKind.RATE_LIMIT:
                code = fault.code or 80002
                error = GraphError(
                    fault.status or 400,
                    code,
                    f"(#{code}) There have been too many calls to this Instagram account. "
                    "Wait a bit and try again.",
                )
                minutes = math.ceil(fault.seconds / 60)
                return self._error(error, regain_minutes=minutes, used=100)
            if fault.kind is FaultKind.REVOKED_TOKEN:
                return self._error(_revoked(fault.code or 190, fault.status or 400))
            if fault.kind is FaultKind.PERMISSION:
                error = GraphError(
                    fault.status or 403,
                    fault.code or 10,
                    "(#10) Application does not have permission for this action "
                    "(instagram_manage_comments)",
                )
                return self._error(error)
            raise ValueError(f"no Instagram shape for fault {fault.kind}")

    # --- helpers for tests and the demo ----------------------------------------------

    def comments_on(self, media_id: str) -> list[IgComment]:
        """The media's live comments and replies as they stand (edited text included)."""
        with self._lock:
            return [
                replace(c.seed, text=c.text)
                for c in self._comments
                if c.seed.media_id == media_id and not c.deleted
            ]

    def is_hidden(self, comment_id: str) -> bool:
        with self._lock:
            return self._by_id[comment_id].hidden

    def is_deleted(self, comment_id: str) -> bool:
        with self._lock:
            return self._by_id[comment_id].deleted

    def delete_comment(self, comment_id: str) -> None:
        """Delete a comment as its author would (its replies go with it)."""
        with self._lock:
            self._delete(self._by_id[comment_id])

    def edit_comment(self, comment_id: str, new_text: str) -> None:
        """Change a comment's text as an author's edit would."""
        with self._lock:
            self._by_id[comment_id].text = new_text

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
            when = timestamp or max(c.seed.timestamp for c in self._comments)
            comment_id = f"1798{number:013d}"
            if text_bytes is not None:
                text = f"@@raw-bytes-{comment_id}@@"
                self._raw_bytes[text] = text_bytes
            seed = IgComment(
                id=comment_id,
                media_id=media_id,
                parent_id=parent_id,
                user_id=f"1785{number:013d}",
                username=username,
                text=text,
                timestamp=when.astimezone(UTC).replace(microsecond=0),
            )
            comment = _Comment(seed, text, dict(extra or {}), frozenset(omit))
            self._comments.append(comment)
            self._by_id[comment_id] = comment
            return comment_id

    def set_token(self, token: str) -> None:
        """The account's valid token (e.g. a secret-looking one, to test scrubbing)."""
        with self._lock:
            self.token = token

    # --- handlers ---------------------------------------------------------------------

    def _route(
        self, work: Callable[[Request, str], dict[str, Any]]
    ) -> Callable[[Request, re.Match[str]], Response]:
        """A handler that checks the token and wraps `work`'s result or error like Graph."""

        def handle(request: Request, match: re.Match[str]) -> Response:
            with self._lock:
                self._calls += 1
                try:
                    self._authorise(request)
                    payload = work(request, match["id"])
                except GraphError as error:
                    return self._error(error)
                return self._json(payload)

        return handle

    def _list_media(self, request: Request, object_id: str) -> dict[str, Any]:
        if object_id != IG_USER_ID:
            raise _gone("GET", object_id)
        fields = _fields(request, MEDIA_FIELDS, "id", "Media")
        media = sorted(self._media.values(), key=lambda m: (m.timestamp, m.id), reverse=True)
        keyed = [((m.timestamp.timestamp(), m.id), m) for m in media]
        return _paginate(request, keyed, render=lambda m: self._media_json(m, fields))

    def _list_comments(self, request: Request, object_id: str) -> dict[str, Any]:
        if object_id not in self._media:
            raise _gone("GET", object_id)
        fields = _fields(request, COMMENT_FIELDS, DEFAULT_COMMENT_FIELDS, "Comment")
        top = sorted(
            (
                c
                for c in self._comments
                if c.seed.media_id == object_id and c.seed.parent_id is None and not c.deleted
            ),
            key=lambda c: c.key,
            reverse=True,
        )
        return _paginate(
            request,
            [(c.key, c) for c in top],
            render=lambda c: self._comment_json(request, c, fields),
        )

    def _list_replies(self, request: Request, object_id: str) -> dict[str, Any]:
        parent = self._live_comment(object_id, "get")
        fields = _fields(request, COMMENT_FIELDS, DEFAULT_COMMENT_FIELDS, "Comment")
        replies = self._replies_of(parent)
        return _paginate(
            request,
            [(c.key, c) for c in replies],
            newest_first=False,
            render=lambda c: self._comment_json(request, c, fields),
        )

    def _read(self, request: Request, object_id: str) -> dict[str, Any]:
        if object_id == IG_USER_ID:
            fields = _fields(request, ACCOUNT_FIELDS, "id", "User")
            full: dict[str, Any] = {
                "id": IG_USER_ID,
                "username": USERNAME,
                "name": ACCOUNT_NAME,
                "media_count": len(self._media),
                "followers_count": 4812,
            }
            return {k: v for k, v in full.items() if k in fields}
        if object_id in self._media:
            fields = _fields(request, MEDIA_FIELDS, "id", "Media")
            return self._media_json(self._media[object_id], fields)
        comment = self._live_comment(object_id, "get")
        fields = _fields(request, COMMENT_FIELDS, DEFAULT_COMMENT_FIELDS, "Comment")
        return self._comment_json(request, comment, fields)

    def _set_hidden(self, request: Request, object_id: str) -> dict[str, Any]:
        comment = self._live_comment(object_id, "post")
        value = request.param("hide")
        if value is None:
            raise GraphError(400, 100, "(#100) No supported parameter was provided")
        if value.lower() not in ("true", "false", "1", "0"):
            raise GraphError(400, 100, "(#100) Param hide must be a boolean")
        comment.hidden = value.lower() in ("true", "1")
        return {"success": True}

    def _delete_object(self, request: Request, object_id: str) -> dict[str, Any]:
        self._delete(self._live_comment(object_id, "delete"))
        return {"success": True}

    # --- state and rendering ------------------------------------------------------------

    def _live_comment(self, comment_id: str, method: str) -> _Comment:
        comment = self._by_id.get(comment_id)
        if comment is None or comment.deleted:
            raise _gone(method.upper(), comment_id)
        return comment

    def _delete(self, comment: _Comment) -> None:
        comment.deleted = True
        for reply in self._comments:
            if reply.seed.parent_id == comment.seed.id and not reply.deleted:
                self._delete(reply)

    def _replies_of(self, comment: _Comment) -> list[_Comment]:
        return sorted(
            (c for c in self._comments if c.seed.parent_id == comment.seed.id and not c.deleted),
            key=lambda c: c.key,
        )

    def _media_json(self, media: IgMedia, fields: dict[str, str | None]) -> dict[str, Any]:
        live = [c for c in self._comments if c.seed.media_id == media.id and not c.deleted]
        full: dict[str, Any] = {
            "id": media.id,
            "caption": media.caption,
            "permalink": media.permalink,
            "timestamp": _graph_time(media.timestamp),
            "comments_count": len(live),
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
            "timestamp": _graph_time(seed.timestamp),
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
        rendered = {k: v for k, v in full.items() if k in fields}
        rendered.update(comment.extra)
        return {k: v for k, v in rendered.items() if k not in comment.omit}

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
                    "before": _encode_cursor(window[0].key),
                    "after": _encode_cursor(window[-1].key),
                }
            },
        }
        if len(replies) > len(window):
            query = urlencode(
                {
                    "fields": subfields or DEFAULT_COMMENT_FIELDS,
                    "after": _encode_cursor(window[-1].key),
                }
            )
            version = request.path.removeprefix(PREFIX).split("/")[1]
            host = request.headers.get("host", "127.0.0.1")
            edge["paging"]["next"] = (
                f"http://{host}{PREFIX}/{version}/{comment.seed.id}/replies?{query}"
            )
        return edge

    def _authorise(self, request: Request) -> None:
        token = _token(request)
        if token is None:
            raise GraphError(400, 190, "An access token is required to request this resource.")
        if token != self.token:
            raise GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")

    def _json(self, payload: dict[str, Any]) -> Response:
        response = Response.json(200, payload, self._usage_headers())
        for placeholder, raw in self._raw_bytes.items():
            response.body = response.body.replace(placeholder.encode("ascii"), raw)
        return response

    def _error(
        self, error: GraphError, *, regain_minutes: int = 0, used: int | None = None
    ) -> Response:
        self._trace += 1
        body: dict[str, Any] = {
            "message": error.message,
            "type": error.kind,
            "code": error.code,
            "is_transient": error.code == 80002,
            "fbtrace_id": f"SandboxIgTrace{self._trace:06d}",
        }
        if error.subcode is not None:
            body["error_subcode"] = error.subcode
        headers = self._usage_headers(regain_minutes=regain_minutes, used=used)
        return Response.json(error.status, {"error": body}, headers)

    def _usage_headers(self, *, regain_minutes: int = 0, used: int | None = None) -> dict[str, str]:
        """Plausible usage percentages, growing with the calls seen since the last reset."""
        percent = used if used is not None else min(99, self._calls // 20)
        app = {"call_count": percent, "total_cputime": percent // 2, "total_time": percent // 2}
        buc = {
            IG_USER_ID: [
                {
                    "type": "instagram",
                    "call_count": percent,
                    "total_cputime": percent // 2,
                    "total_time": percent // 2,
                    "estimated_time_to_regain_access": regain_minutes,
                }
            ]
        }
        return {"X-App-Usage": json.dumps(app), "X-Business-Use-Case-Usage": json.dumps(buc)}


SANDBOX = InstagramSandbox


# --- module helpers -------------------------------------------------------------------


def _token(request: Request) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential:
        return credential.strip()
    return request.param("access_token")


def _gone(method: str, object_id: str) -> GraphError:
    return GraphError(
        400,
        100,
        GONE_MESSAGE.format(method=method.lower(), id=object_id),
        kind="GraphMethodException",
        subcode=33,
    )


def _revoked(code: int, status: int) -> GraphError:
    return GraphError(
        status,
        code,
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Instagram has changed the session for security reasons.",
        subcode=460,
    )


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
            raise GraphError(
                400, 100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})"
            )
        fields[name] = rest.removesuffix("}") if brace else None
    fields.setdefault("id", None)
    return fields


def _fields(
    request: Request, known: frozenset[str], default: str, node: str
) -> dict[str, str | None]:
    return _parse_fields(request.query.get("fields") or default, known, node)


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


Key = tuple[float, str]


def _encode_cursor(key: Key) -> str:
    return base64.urlsafe_b64encode(f"{key[0]:.0f}:{key[1]}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, object_id = raw.partition(":")
        return (float(stamp), object_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphError(400, 100, "(#100) The cursor is invalid") from None


def _limit(request: Request) -> int:
    value = request.query.get("limit", str(DEFAULT_LIMIT))
    if not value.isdigit() or int(value) < 1:
        raise GraphError(400, 100, "(#100) Param limit must be a positive integer")
    return min(int(value), MAX_LIMIT)


def _paginate(
    request: Request,
    keyed: Sequence[tuple[Key, Any]],
    *,
    render: Callable[[Any], dict[str, Any]],
    newest_first: bool = True,
) -> dict[str, Any]:
    """One page of `keyed` (already in answer order), with Graph's `after` cursor paging.

    Cursors hold the sort key, not a position, so comments deleted or added between calls
    neither skip nor repeat any of the rest.
    """

    def beyond(key: Key, cursor: Key) -> bool:
        return key < cursor if newest_first else key > cursor

    items = list(keyed)
    after = request.query.get("after")
    if after:
        cut = _decode_cursor(after)
        items = [item for item in items if beyond(item[0], cut)]
    window = items[: _limit(request)]
    answer: dict[str, Any] = {"data": [render(value) for _, value in window]}
    if not window:
        return answer
    first, last = _encode_cursor(window[0][0]), _encode_cursor(window[-1][0])
    paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
    if len(items) > len(window):
        base = f"http://{request.headers.get('host', '127.0.0.1')}{request.path}"
        params = {k: v for k, v in request.query.items() if k not in ("after", "access_token")}
        paging["next"] = f"{base}?{urlencode({**params, 'after': last})}"
    answer["paging"] = paging
    return answer
