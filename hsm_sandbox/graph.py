"""Facebook Pages as the Graph API answers them, at `/{version}/...` for any version.

Covered: `/{page-id}/published_posts`, `/{object-id}/comments` (toplevel or stream, both
orders, `since`, `limit`, cursor paging), `GET /{id}` for Pages, posts and comments,
`POST /{comment-id}` with `is_hidden`, and `DELETE /{comment-id}`. Errors have Graph's shape
and codes; every answer carries the `X-App-Usage` and `X-Business-Use-Case-Usage` headers.
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
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SeedComment, SeedData, SeedPost

VERSION = r"/(?P<version>v\d+\.\d+)"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100

# Comment fields Graph knows; those the sandbox does not model are accepted and left out.
COMMENT_FIELDS = frozenset(
    {
        "id",
        "message",
        "from",
        "created_time",
        "permalink_url",
        "parent",
        "is_hidden",
        "can_hide",
        "can_remove",
        "attachment",
        "comment_count",
        "like_count",
        "can_comment",
        "can_like",
        "can_reply_privately",
        "is_private",
        "message_tags",
        "object",
        "admin_creator",
        "application",
        "user_likes",
        "private_reply_conversation",
        "live_broadcast_timestamp",
    }
)
POST_FIELDS = frozenset({"id", "message", "created_time", "permalink_url", "from", "story"})
PAGE_FIELDS = frozenset({"id", "name", "link"})

GONE_MESSAGE = (
    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded "
    "due to missing permissions, or does not support this operation. Please read the Graph "
    "API documentation at https://developers.facebook.com/docs/graph-api"
)


class GraphError(Exception):
    """Raised inside a handler; becomes a Graph error answer."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        kind: str = "OAuthException",
        subcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.kind, self.subcode = (
            status,
            code,
            message,
            kind,
            subcode,
        )


@dataclass
class _Comment:
    seed: SeedComment
    extra: dict[str, Any] = field(default_factory=dict)  # injected raw fields
    omit: frozenset[str] = frozenset()
    is_hidden: bool = False
    deleted: bool = False

    @property
    def key(self) -> tuple[float, str]:
        return (self.seed.created_time.timestamp(), self.seed.id)


class GraphSandbox:
    """The Facebook part of the sandbox: its state, routes and fault shapes."""

    def __init__(self, seed: SeedData) -> None:
        self._seed = seed
        self._lock = threading.RLock()
        self._trace = 0
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        obj = VERSION + r"/(?P<id>[^/]+)"
        router.add("GET", obj + "/published_posts", self._published_posts, self)
        router.add("GET", obj + "/comments", self._comments, self)
        router.add("GET", obj, self._get_object, self)
        router.add("POST", obj, self._post_object, self)
        router.add("DELETE", obj, self._delete_object, self)

    def reset(self) -> None:
        with self._lock:
            self._pages = {p.id: p for p in self._seed.pages}
            self._posts = {p.id: p for p in self._seed.posts}
            self._comment_list = [_Comment(c) for c in self._seed.comments]
            self._by_id = {c.seed.id: c for c in self._comment_list}
            self._calls: dict[str, int] = {}

    def fault_response(self, fault: Fault, request: Request) -> Response:
        with self._lock:
            page_id = self._usage_page(request)
            generic = generic_response(fault)
            if generic is not None:
                generic.headers.update(self._usage_headers(page_id))
                return generic
            if fault.kind is FaultKind.RATE_LIMIT:
                code = fault.code or 80001
                minutes = math.ceil(fault.seconds / 60)
                message = {
                    4: "(#4) Application request limit reached",
                    17: "(#17) User request limit reached",
                    32: "(#32) Page request limit reached",
                    613: "(#613) Calls to this api have exceeded the rate limit.",
                }.get(
                    code,
                    f"(#{code}) There have been too many calls to this Page account. "
                    "Wait a bit and try again.",
                )
                error = GraphError(fault.status or 400, code, message)
                return self._error(error, page_id, regain_minutes=minutes, used=100)
            if fault.kind is FaultKind.REVOKED_TOKEN:
                return self._error(_revoked(fault.code or 190), page_id)
            if fault.kind is FaultKind.PERMISSION:
                error = GraphError(
                    fault.status or 403,
                    fault.code or 200,
                    "(#200) Requires pages_manage_engagement permission to manage the object",
                )
                return self._error(error, page_id)
            raise ValueError(f"no Graph shape for fault {fault.kind}")

    # --- helpers for tests and the demo ----------------------------------------------

    def is_hidden(self, comment_id: str) -> bool:
        with self._lock:
            return self._by_id[comment_id].is_hidden

    def is_deleted(self, comment_id: str) -> bool:
        with self._lock:
            return self._by_id[comment_id].deleted

    def delete_comment(self, comment_id: str) -> None:
        """Delete a comment as its author would (and with it its replies, as Facebook does)."""
        with self._lock:
            self._delete(self._by_id[comment_id])

    def edit_comment(self, comment_id: str, message: str) -> None:
        """Change a comment's text as its author would (Graph keeps the id)."""
        with self._lock:
            comment = self._by_id[comment_id]
            comment.seed = replace(comment.seed, message=message)

    def add_comment(
        self,
        post_id: str,
        message: str,
        *,
        author_name: str = "Sandbox Tester",
        parent_id: str | None = None,
        created_time: datetime | None = None,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
    ) -> str:
        """Add a comment and return its id. `extra` adds or overwrites raw payload fields
        (wrong types, unknown fields); `omit` drops fields (a missing `from` or `message`)."""
        with self._lock:
            post = self._posts[post_id]
            number = 7_200_000_000_000_000 + len(self._comment_list)
            post_number = post_id.split("_")[1]
            when = created_time or max(c.seed.created_time for c in self._comment_list)
            seed = SeedComment(
                id=f"{post_number}_{number}",
                post_id=post_id,
                page_id=post.page_id,
                parent_id=parent_id,
                author_id=str(number),
                author_name=author_name,
                message=message,
                created_time=when.astimezone(UTC).replace(microsecond=0),
                permalink_url=f"{post.permalink_url}?comment_id={number}",
                attachment=None,
                expected_code=None,
                tags=(),
            )
            comment = _Comment(seed, dict(extra or {}), frozenset(omit))
            self._comment_list.append(comment)
            self._by_id[seed.id] = comment
            return seed.id

    def set_token(self, page_id: str, token: str) -> None:
        with self._lock:
            self._pages[page_id] = replace(self._pages[page_id], token=token)

    # --- handlers ---------------------------------------------------------------------

    def _published_posts(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            return self._answer(request, match["id"], lambda: self._list_posts(request, match))

    def _comments(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            return self._answer(request, match["id"], lambda: self._list_comments(request, match))

    def _get_object(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            return self._answer(request, match["id"], lambda: self._read(request, match["id"]))

    def _post_object(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            return self._answer(request, match["id"], lambda: self._set_hidden(request, match))

    def _delete_object(self, request: Request, match: re.Match[str]) -> Response:
        def delete() -> dict[str, Any]:
            self._delete(self._live_comment(match["id"], "delete"))
            return {"success": True}

        with self._lock:
            return self._answer(request, match["id"], delete)

    def _answer(
        self, request: Request, object_id: str, work: Callable[[], dict[str, Any]]
    ) -> Response:
        """Check the token, run `work` and wrap its result or error in a Graph answer."""
        page_id = self._page_of(object_id) or self._usage_page(request)
        self._calls[page_id] = self._calls.get(page_id, 0) + 1
        try:
            self._authorise(request, page_id)
            payload = work()
        except GraphError as error:
            return self._error(error, page_id)
        return Response.json(200, payload, self._usage_headers(page_id))

    def _list_posts(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        if match["id"] not in self._pages:
            raise _gone("GET", match["id"])
        fields = _fields(request, POST_FIELDS, {"id", "message", "created_time"}, "Post")
        since = _since(request)
        posts = sorted(
            (
                p
                for p in self._posts.values()
                if p.page_id == match["id"] and (since is None or p.created_time >= since)
            ),
            key=lambda p: (p.created_time.timestamp(), p.id),
            reverse=True,
        )
        keyed = [((p.created_time.timestamp(), p.id), p) for p in posts]
        return _paginate(request, keyed, newest_first=True, render=lambda p: _post_json(p, fields))

    def _list_comments(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        object_id = match["id"]
        stream = request.query.get("filter", "toplevel") == "stream"
        if object_id in self._posts:
            scope = [c for c in self._comment_list if c.seed.post_id == object_id]
            if not stream:
                scope = [c for c in scope if c.seed.parent_id is None]
        else:
            parent = self._live_comment(object_id, "get")
            scope = [c for c in self._comment_list if c.seed.parent_id == parent.seed.id]
        order = request.query.get("order", "chronological")
        if order not in ("chronological", "reverse_chronological"):
            raise GraphError(
                400,
                100,
                "(#100) order must be one of the following values: "
                "chronological, reverse_chronological",
            )
        fields = _fields(
            request, COMMENT_FIELDS, {"id", "message", "from", "created_time"}, "Comment"
        )
        since = _since(request)
        live = sorted(
            (c for c in scope if not c.deleted and (since is None or c.seed.created_time >= since)),
            key=lambda c: c.key,
            reverse=order == "reverse_chronological",
        )
        return _paginate(
            request,
            [(c.key, c) for c in live],
            newest_first=order == "reverse_chronological",
            render=lambda c: self._comment_json(c, fields),
        )

    def _read(self, request: Request, object_id: str) -> dict[str, Any]:
        if object_id in self._pages:
            page = self._pages[object_id]
            full = {"id": page.id, "name": page.name, "link": f"https://www.facebook.com/{page.id}"}
            fields = _fields(request, PAGE_FIELDS, {"id", "name"}, "Page")
            return {k: v for k, v in full.items() if k in fields}
        if object_id in self._posts:
            fields = _fields(request, POST_FIELDS, {"id", "message", "created_time"}, "Post")
            return _post_json(self._posts[object_id], fields)
        comment = self._live_comment(object_id, "get")
        fields = _fields(
            request, COMMENT_FIELDS, {"id", "message", "from", "created_time"}, "Comment"
        )
        return self._comment_json(comment, fields)

    def _set_hidden(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        comment = self._live_comment(match["id"], "post")
        value = request.param("is_hidden")
        if value is None:
            raise GraphError(400, 100, "(#100) No supported parameter was provided")
        if value.lower() not in ("true", "false", "1", "0"):
            raise GraphError(400, 100, "(#100) Param is_hidden must be a boolean")
        comment.is_hidden = value.lower() in ("true", "1")
        return {"success": True}

    # --- state and rendering ------------------------------------------------------------

    def _live_comment(self, comment_id: str, method: str) -> _Comment:
        comment = self._by_id.get(comment_id)
        if comment is None or comment.deleted:
            raise _gone(method.upper(), comment_id)
        return comment

    def _delete(self, comment: _Comment) -> None:
        comment.deleted = True
        for reply in self._comment_list:
            if reply.seed.parent_id == comment.seed.id and not reply.deleted:
                self._delete(reply)

    def _comment_json(self, comment: _Comment, fields: set[str]) -> dict[str, Any]:
        seed = comment.seed
        full: dict[str, Any] = {
            "id": seed.id,
            "message": seed.message,
            "from": {"id": seed.author_id, "name": seed.author_name},
            "created_time": _graph_time(seed.created_time),
            "permalink_url": seed.permalink_url,
            "is_hidden": comment.is_hidden,
            "can_hide": True,
            "can_remove": True,
            "comment_count": sum(
                1 for c in self._comment_list if c.seed.parent_id == seed.id and not c.deleted
            ),
            "like_count": int(seed.id[-2:]) % 7,  # any stable small number
        }
        if seed.parent_id:
            full["parent"] = {"id": seed.parent_id}
        if seed.attachment:
            full["attachment"] = {
                "type": seed.attachment.type,
                "url": seed.attachment.url,
                "media": {"image": {"src": seed.attachment.image_src, "height": 720, "width": 960}},
                "target": {"id": seed.id.split("_")[1], "url": seed.attachment.url},
            }
        rendered = {k: v for k, v in full.items() if k in fields}
        rendered.update(comment.extra)
        return {k: v for k, v in rendered.items() if k not in comment.omit}

    def _page_of(self, object_id: str) -> str | None:
        if object_id in self._pages:
            return object_id
        if object_id in self._posts:
            return self._posts[object_id].page_id
        comment = self._by_id.get(object_id)
        return comment.seed.page_id if comment else None

    def _usage_page(self, request: Request) -> str:
        """The Page whose usage a request counts against: the token's own."""
        token = _token(request)
        owned = [p.id for p in self._pages.values() if p.token == token]
        return owned[0] if owned else next(iter(self._pages))

    def _authorise(self, request: Request, page_id: str) -> None:
        token = _token(request)
        if token is None:
            raise GraphError(400, 190, "An access token is required to request this resource.")
        if not any(p.token == token for p in self._pages.values()):
            raise GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if self._pages[page_id].token != token:
            raise GraphError(
                403,
                200,
                "(#200) The Page access token does not belong to the Page that owns this object",
            )

    def _error(
        self, error: GraphError, page_id: str, *, regain_minutes: int = 0, used: int | None = None
    ) -> Response:
        self._trace += 1
        body: dict[str, Any] = {
            "message": error.message,
            "type": error.kind,
            "code": error.code,
            "fbtrace_id": f"SandboxTrace{self._trace:06d}",
        }
        if error.subcode is not None:
            body["error_subcode"] = error.subcode
        headers = self._usage_headers(page_id, regain_minutes=regain_minutes, used=used)
        return Response.json(error.status, {"error": body}, headers)

    def _usage_headers(
        self, page_id: str, *, regain_minutes: int = 0, used: int | None = None
    ) -> dict[str, str]:
        """Plausible usage percentages, growing with the calls seen since the last reset."""
        calls = self._calls.get(page_id, 0)
        percent = used if used is not None else min(99, calls // 20)
        app = {"call_count": percent, "total_cputime": percent // 2, "total_time": percent // 2}
        buc = {
            page_id: [
                {
                    "type": "pages",
                    "call_count": percent,
                    "total_cputime": percent // 2,
                    "total_time": percent // 2,
                    "estimated_time_to_regain_access": regain_minutes,
                }
            ]
        }
        return {"X-App-Usage": json.dumps(app), "X-Business-Use-Case-Usage": json.dumps(buc)}


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


def _revoked(code: int) -> GraphError:
    return GraphError(
        400,
        code,
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons.",
        subcode=460,
    )


def _fields(request: Request, known: frozenset[str], default: set[str], node: str) -> set[str]:
    asked = request.query.get("fields")
    if not asked:
        return default
    # Nested selections such as from{id,name} count as the top-level field.
    names = set(re.findall(r"(\w+)(?:\{[^{}]*\})?", asked))
    unknown = sorted(names - known)
    if unknown:
        raise GraphError(
            400,
            100,
            f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type ({node})",
        )
    return names | {"id"}


def _since(request: Request) -> datetime | None:
    value = request.query.get("since")
    if not value:
        return None
    try:
        if value.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        raise GraphError(400, 100, f"(#100) Invalid since: {value}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _limit(request: Request) -> int:
    value = request.query.get("limit", str(DEFAULT_LIMIT))
    if not value.isdigit() or int(value) < 1:
        raise GraphError(400, 100, "(#100) Param limit must be a positive integer")
    return min(int(value), MAX_LIMIT)


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _post_json(post: SeedPost, fields: set[str]) -> dict[str, Any]:
    full = {
        "id": post.id,
        "message": post.message,
        "created_time": _graph_time(post.created_time),
        "permalink_url": post.permalink_url,
    }
    return {k: v for k, v in full.items() if k in fields}


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


def _paginate(
    request: Request,
    keyed: Sequence[tuple[Key, Any]],
    *,
    newest_first: bool,
    render: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """One page of `keyed` (already in answer order), with Graph's cursor paging.

    Cursors hold the sort key, not a position, so deleting items between calls neither
    skips nor repeats any of the rest.
    """

    def beyond(key: Key, cursor: Key) -> bool:
        return key < cursor if newest_first else key > cursor

    after, before = request.query.get("after"), request.query.get("before")
    items = list(keyed)
    if after:
        cut = _decode_cursor(after)
        items = [item for item in keyed if beyond(item[0], cut)]
    elif before:
        cut = _decode_cursor(before)
        items = [item for item in keyed if beyond(cut, item[0])]
    limit = _limit(request)
    window = items[-limit:] if before and not after else items[:limit]
    answer: dict[str, Any] = {"data": [render(value) for _, value in window]}
    if not window:
        return answer
    first, last = _encode_cursor(window[0][0]), _encode_cursor(window[-1][0])
    paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
    more_after = any(beyond(item[0], window[-1][0]) for item in keyed)
    more_before = any(beyond(window[0][0], item[0]) for item in keyed)
    base = f"http://{request.headers.get('host', '127.0.0.1')}{request.path}"
    params = {
        k: v for k, v in request.query.items() if k not in ("after", "before", "access_token")
    }
    if more_after:
        paging["next"] = f"{base}?{urlencode({**params, 'after': last})}"
    if more_before:
        paging["previous"] = f"{base}?{urlencode({**params, 'before': first})}"
    answer["paging"] = paging
    return answer
