"""Facebook Pages as the Graph API answers them, at `/{version}/...` for any version.

Covered: `/{page-id}/published_posts`, `/{object-id}/comments` (toplevel or stream, both
orders, `since`, `limit`, cursor paging), `GET /{id}` for Pages, posts and comments,
`POST /{comment-id}` with `is_hidden`, `DELETE /{comment-id}`, and the Page's `blocked` edge
(`GET`, `POST` with `user`, `DELETE` with `user`). Errors have Graph's shape
and codes; every answer carries the `X-App-Usage` and `X-Business-Use-Case-Usage` headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hsm_sandbox.faults import Fault, FaultKind
from hsm_sandbox.meta import (
    VERSION,
    GraphError,
    GraphStore,
    checked_token,
    gone,
    graph_time,
    paginate,
    revoked,
    token_of,
    unknown_field,
)
from hsm_sandbox.routing import Request, Router
from hsm_sandbox.seed import SeedComment, SeedData, SeedPost
from hsm_sandbox.store import Comment
from hsm_sandbox.tokens import TokenRegistry, TokenState

_Comment = Comment[SeedComment]

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
PAGE_FIELDS = frozenset(
    {"id", "name", "link", "instagram_business_account", "about", "description", "website"}
)


class GraphSandbox(GraphStore[_Comment]):
    """The Facebook part of the sandbox: its state, routes and fault shapes."""

    hide_param = "is_hidden"
    trace_prefix = "SandboxTrace"
    usage_type = "pages"
    text_field = "message"

    def __init__(self, seed: SeedData) -> None:
        super().__init__()
        self._seed = seed
        # The sign-in's tokens (the server gives it the shared registry): Page tokens of
        # Facebook Login are accepted beside the seeded ones.
        self.issued = TokenRegistry()
        self.instagram_accounts: dict[str, str] = {}  # Page id -> its linked Instagram id
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        obj = VERSION + r"/(?P<id>[^/]+)"
        router.add("GET", obj + "/published_posts", self._route(self._list_posts), self)
        router.add("GET", obj + "/comments", self._route(self._list_comments), self)
        router.add("GET", obj + "/blocked", self._route(self._list_blocked), self)
        router.add("POST", obj + "/blocked", self._route(self._block), self)
        router.add("DELETE", obj + "/blocked", self._route(self._unblock), self)
        router.add("GET", obj, self._route(self._read), self)
        router.add("POST", obj, self._route(self._set_hidden), self)
        router.add("DELETE", obj, self._route(self._delete_object), self)

    def reset(self) -> None:
        with self._lock:
            self._pages = {p.id: p for p in self._seed.pages}
            self._posts = {p.id: p for p in self._seed.posts}
            self._load(_stored(c) for c in self._seed.comments)
            self._tokens = {p.id: p.token for p in self._seed.pages}
            # Each Page's `about`, `description` and `website`; tests change them here.
            self.profiles = {p.id: dict(p.profile) for p in self._seed.pages}
            self._blocked: dict[str, set[str]] = {p.id: set() for p in self._seed.pages}
            self._calls.clear()

    # --- helpers for tests and the demo ----------------------------------------------

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
            number = 7_200_000_000_000_000 + len(self._comments)
            post_number = post_id.split("_")[1]
            seed = SeedComment(
                id=f"{post_number}_{number}",
                post_id=post_id,
                page_id=post.page_id,
                parent_id=parent_id,
                author_id=str(number),
                author_name=author_name,
                message=message,
                created_time=self._added_time(created_time),
                permalink_url=f"{post.permalink_url}?comment_id={number}",
                attachment=None,
                expected_code=None,
                tags=(),
            )
            self._add(_stored(seed), extra, omit)
            return seed.id

    def edit_post(self, post_id: str, message: str) -> None:
        """The Page edits one of its posts (what the policy's link check reads)."""
        with self._lock:
            self._posts[post_id] = replace(self._posts[post_id], message=message)

    def blocked(self, page_id: str) -> set[str]:
        """The ids of the people blocked from a Page."""
        with self._lock:
            return set(self._blocked[page_id])

    def set_token(self, page_id: str, token: str) -> None:
        """The Page's valid token: each Page has its own."""
        with self._lock:
            self._tokens[page_id] = token

    # --- handlers ---------------------------------------------------------------------

    def _list_posts(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        if match["id"] not in self._pages:
            raise gone("GET", match["id"])
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
        return paginate(
            request,
            keyed,
            newest_first=True,
            render=lambda p: _post_json(p, fields),
            backward=True,
        )

    def _list_comments(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        object_id = match["id"]
        stream = request.query.get("filter", "toplevel") == "stream"
        if object_id in self._posts:
            scope = self._on(object_id)
            if not stream:
                scope = [c for c in scope if c.parent_id is None]
        else:
            scope = self._replies_of(self._live_comment(object_id, "get"))
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
            (c for c in scope if since is None or c.created >= since),
            key=lambda c: c.key,
            reverse=order == "reverse_chronological",
        )
        return paginate(
            request,
            [(c.key, c) for c in live],
            newest_first=order == "reverse_chronological",
            render=lambda c: self._comment_json(c, fields),
            backward=True,
        )

    def _list_blocked(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        blocked = sorted(self._page_blocks(match["id"]))
        return {"data": [{"id": user, "name": self._author_name(user)} for user in blocked]}

    def _block(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        """POST /{page-id}/blocked: `user` (or `uid`) a JSON list of ids, or one id; the
        answer maps each id to whether it is now blocked."""
        blocks = self._page_blocks(match["id"])
        users = _id_list(request.param("user") or request.param("uid"))
        known = {c.seed.author_id for c in self._comments}
        for user in users:
            if user in known:
                blocks.add(user)
        return {user: user in blocks for user in users}

    def _unblock(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        """DELETE /{page-id}/blocked: one `user` (or `uid`) id."""
        blocks = self._page_blocks(match["id"])
        user = request.param("user") or request.param("uid")
        if not user:
            raise GraphError(400, 100, "(#100) The parameter user is required")
        blocks.discard(user)
        return {"success": True}

    def _page_blocks(self, page_id: str) -> set[str]:
        if page_id not in self._pages:
            raise gone("GET", page_id)
        return self._blocked[page_id]

    def _author_name(self, author_id: str) -> str:
        found = next((c for c in self._comments if c.seed.author_id == author_id), None)
        return found.seed.author_name if found else ""

    def _read(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        object_id = match["id"]
        if object_id in self._pages:
            page = self._pages[object_id]
            full: dict[str, Any] = {
                "id": page.id,
                "name": page.name,
                "link": f"https://www.facebook.com/{page.id}",
                **self.profiles.get(page.id, {}),
            }
            if page.id in self.instagram_accounts:
                full["instagram_business_account"] = {"id": self.instagram_accounts[page.id]}
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

    # --- answering (the GraphStore hooks) -----------------------------------------------

    def _owner(self, request: Request) -> str:
        """The Page a request counts against: the addressed object's, else the token's."""
        object_id = request.path.split("/")[2]  # /{version}/{id}/...
        if object_id in self._pages:
            return object_id
        if object_id in self._posts:
            return self._posts[object_id].page_id
        comment = self._by_id.get(object_id)
        return comment.seed.page_id if comment else self._token_page(request)

    def _fault_owner(self, request: Request) -> str:
        return self._token_page(request)

    def _token_page(self, request: Request) -> str:
        """The Page the request's token belongs to (the first Page for any other token)."""
        token = token_of(request)
        owned = [page_id for page_id, own in self._tokens.items() if own == token]
        issued = self.issued.grant(token)
        if issued is not None and issued.account in self._pages:
            owned.append(issued.account)
        return owned[0] if owned else next(iter(self._pages))

    def _token_state(self, token: str) -> TokenState | None:
        """LIVE for a seeded Page token, the sign-in's state of a Page token it issued."""
        if token in self._tokens.values():
            return TokenState.LIVE
        return self.issued.state("facebook", token)

    def _authorise(self, request: Request, owner: str) -> None:
        token = checked_token(request, self._token_state, "Facebook")
        issued = self.issued.grant(token)
        if self._tokens[owner] != token and (issued is None or issued.account != owner):
            raise GraphError(
                403,
                200,
                "(#200) The Page access token does not belong to the Page that owns this object",
            )

    def _fault_error(self, fault: Fault) -> GraphError:
        if fault.kind is FaultKind.RATE_LIMIT:
            code = fault.code or 80001
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
            return GraphError(fault.status or 400, code, message)
        if fault.kind is FaultKind.REVOKED_TOKEN:
            return revoked(fault.code or 190, 400, "Facebook")
        if fault.kind is FaultKind.PERMISSION:
            return GraphError(
                fault.status or 403,
                fault.code or 200,
                "(#200) Requires pages_manage_engagement permission to manage the object",
            )
        raise ValueError(f"no Graph shape for fault {fault.kind}")

    # --- rendering ----------------------------------------------------------------------

    def _comment_json(self, comment: _Comment, fields: set[str]) -> dict[str, Any]:
        seed = comment.seed
        full: dict[str, Any] = {
            "id": seed.id,
            "message": comment.text,
            "from": {"id": seed.author_id, "name": seed.author_name},
            "created_time": graph_time(seed.created_time),
            "permalink_url": seed.permalink_url,
            "is_hidden": comment.hidden,
            "can_hide": True,
            "can_remove": True,
            "comment_count": len(self._replies_of(comment)),
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
        return comment.injected({k: v for k, v in full.items() if k in fields})


# --- module helpers -------------------------------------------------------------------


def _stored(seed: SeedComment) -> _Comment:
    return Comment(seed, seed.id, seed.post_id, seed.parent_id, seed.created_time, seed.message)


def _fields(request: Request, known: frozenset[str], default: set[str], node: str) -> set[str]:
    asked = request.query.get("fields")
    if not asked:
        return default
    # Nested selections such as from{id,name} count as the top-level field.
    names = set(re.findall(r"(\w+)(?:\{[^{}]*\})?", asked))
    unknown = sorted(names - known)
    if unknown:
        raise unknown_field(unknown[0], node)
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


def _post_json(post: SeedPost, fields: set[str]) -> dict[str, Any]:
    full = {
        "id": post.id,
        "message": post.message,
        "created_time": graph_time(post.created_time),
        "permalink_url": post.permalink_url,
    }
    return {k: v for k, v in full.items() if k in fields}


def _id_list(value: str | None) -> list[str]:
    """Graph's list parameter: a JSON array of ids, or ids separated by commas."""
    if not value:
        raise GraphError(400, 100, "(#100) The parameter user is required")
    try:
        loaded = json.loads(value)
    except ValueError:
        loaded = value.split(",")
    if not isinstance(loaded, list) or not loaded:
        loaded = [loaded]
    return [str(item).strip() for item in loaded if str(item).strip()]
