"""A LinkedIn organization page as the Community Management API answers it, under `/linkedin`.

Covered (versioned REST, Rest.li 2.0): `GET /rest/posts?q=author` (start/count paging, sortBy),
`GET /rest/socialActions/{post, activity or comment URN}/comments` (first-level comments of a
post, or the replies to a comment), `GET` and `DELETE .../comments/{id}` (delete needs
`actor`; only the page's own comments may be deleted: LinkedIn's docs leave open whether a
page may delete members' comments, and the sandbox takes the strict reading). URNs in paths
must be percent-encoded. Every call needs a Bearer token and a `LinkedIn-Version` header;
errors have LinkedIn's shape (`status`, `serviceErrorCode`, `code`, `message`).

The page has three posts and forty comments taken from `seed.DEMO` (hostile texts
included), two of them written by the page itself.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode

from hsm_sandbox.faults import Fault, FaultKind, generic_response
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SANDBOX_TOKEN, SeedComment, SeedData, SeedPost

PREFIX = "/linkedin"
ORGANIZATION = "urn:li:organization:1000001"
ORGANIZATION_NAME = "City of Highland"
OLDEST_VERSION = "202507"  # older LinkedIn-Version values are sunset: HTTP 426
DEFAULT_COUNT = 10
MAX_COUNT = 100

# (index in seed.DEMO.posts, first-level seed comments kept besides the hostile ones, URN kind)
_POSTS = ((0, 8, "share"), (2, 8, "ugcPost"), (5, 2, "share"))
_ORG_REPLIES = (
    # (post slot, index of the seed comment answered or None for first-level, text)
    (0, 1, "Thanks for asking! Season passes are on sale at the Korte Rec Center front desk."),
    (1, None, "Reminder from the City: registration questions go to the Parks office."),
)


class LinkedInError(Exception):
    def __init__(self, status: int, code: str, message: str, service_code: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.service_code = (
            status,
            code,
            message,
            service_code,
        )


@dataclass
class _Post:
    urn: str  # urn:li:share:... or urn:li:ugcPost:...
    thread: str  # the URN comment URNs name: the activity of a share, the ugcPost itself
    text: str
    created: datetime


@dataclass
class _Comment:
    id: str
    post: _Post
    parent: _Comment | None
    actor: str
    text: str
    created: datetime
    modified: datetime
    seed: SeedComment | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # injected raw fields
    omit: frozenset[str] = frozenset()
    text_bytes: bytes | None = None  # sent as is inside the JSON: invalid UTF-8 on purpose
    deleted: bool = False

    @property
    def urn(self) -> str:
        return f"urn:li:comment:({self.post.thread},{self.id})"


@dataclass(frozen=True)
class SandboxComment:
    """What a test needs to know about one live comment."""

    urn: str
    post_urn: str
    parent_urn: str | None
    actor: str
    text: str
    seed: SeedComment | None


class LinkedInSandbox:
    """The LinkedIn part of the sandbox: its state, routes and fault shapes."""

    def __init__(self, seed: SeedData) -> None:
        self._seed = seed
        self._lock = threading.RLock()
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        rest = PREFIX + "/rest"
        target = rest + r"/socialActions/(?P<target>[^/]+)/comments"
        router.add("GET", rest + "/posts", self._handler(self._list_posts), self)
        router.add("GET", target, self._handler(self._list_comments), self)
        router.add("GET", target + r"/(?P<id>[^/]+)", self._handler(self._get_comment), self)
        router.add("DELETE", target + r"/(?P<id>[^/]+)", self._handler(self._delete_comment), self)

    def reset(self) -> None:
        with self._lock:
            self._token = SANDBOX_TOKEN
            self._posts: list[_Post] = []
            self._comments: list[_Comment] = []
            self._next_id = 7_302_000_000_000_000_001
            for slot, (index, first_level, kind) in enumerate(_POSTS):
                self._add_seed_post(slot, self._seed.posts[index], first_level, kind)
            for slot, answered, text in _ORG_REPLIES:
                post = self._posts[slot]
                firsts = [c for c in self._comments if c.post is post and c.parent is None]
                parent = firsts[answered] if answered is not None else None
                after = parent.created if parent else firsts[-1].created
                self._new(post, parent, ORGANIZATION, text, after + timedelta(minutes=47))

    def fault_response(self, fault: Fault, request: Request) -> Response:
        generic = generic_response(fault)
        if generic is not None:
            return generic
        if fault.kind is FaultKind.RATE_LIMIT:
            # LinkedIn names no wait and sends no usage headers for its daily quotas.
            return _error(
                LinkedInError(
                    fault.status or 429,
                    "TOO_MANY_REQUESTS",
                    "Resource level throttle APPLICATION DAY limit for calls to this resource "
                    "is reached.",
                    fault.code or 101,
                )
            )
        if fault.kind is FaultKind.REVOKED_TOKEN:
            code = fault.code or 65601
            name = {65600: "INVALID_ACCESS_TOKEN", 65602: "EXPIRED_ACCESS_TOKEN"}.get(
                code, "REVOKED_ACCESS_TOKEN"
            )
            return _error(
                LinkedInError(
                    fault.status or 401,
                    name,
                    "The token used in the request has been revoked by the user",
                    code,
                )
            )
        if fault.kind is FaultKind.PERMISSION:
            return _error(_access_denied(request, fault.status or 403))
        raise ValueError(f"no LinkedIn shape for fault {fault.kind}")

    # --- helpers for tests and the demo ----------------------------------------------

    def post_urns(self) -> list[str]:
        """The page's posts, newest first."""
        with self._lock:
            return [p.urn for p in sorted(self._posts, key=lambda p: p.created, reverse=True)]

    def comments(self, post_urn: str) -> list[SandboxComment]:
        """A post's live comments in listing order: each first-level comment, then its replies."""
        with self._lock:
            post = self._post(post_urn)
            ordered: list[SandboxComment] = []
            for first in self._live(post, None):
                ordered.append(self._view(first))
                ordered.extend(self._view(reply) for reply in self._live(post, first))
            return ordered

    def org_comment_urns(self) -> list[str]:
        with self._lock:
            return [c.urn for c in self._comments if c.actor == ORGANIZATION and not c.deleted]

    def is_hidden(self, comment_urn: str) -> bool:
        """LinkedIn has no hide: always False (kept for the same test helpers everywhere)."""
        with self._lock:
            self._find(comment_urn)
            return False

    def is_deleted(self, comment_urn: str) -> bool:
        with self._lock:
            return self._find(comment_urn).deleted

    def delete_comment(self, comment_urn: str) -> None:
        """Delete a comment as its author would (its replies go with it, as on LinkedIn)."""
        with self._lock:
            self._delete(self._find(comment_urn))

    def add_comment(
        self,
        post_urn: str,
        text: str,
        *,
        actor: str = "urn:li:person:sandboxTester",
        parent_urn: str | None = None,
        created: datetime | None = None,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
        text_bytes: bytes | None = None,
    ) -> str:
        """Add a comment and return its URN. `extra` adds or overwrites raw payload fields
        (wrong types, unknown fields); `omit` drops fields (a missing `actor` or `message`);
        `text_bytes` replaces the text with raw bytes in the JSON (e.g. invalid UTF-8; they
        must need no JSON escaping)."""
        with self._lock:
            post = self._post(post_urn)
            parent = self._find(parent_urn) if parent_urn else None
            when = created or max(c.created for c in self._comments) + timedelta(minutes=1)
            comment = self._new(post, parent, actor, text, when)
            comment.extra = dict(extra or {})
            comment.omit = frozenset(omit)
            comment.text_bytes = text_bytes
            return comment.urn

    def edit_comment(self, comment_urn: str, new_text: str, when: datetime | None = None) -> None:
        """The author edits the comment: new text and a later `lastModified`."""
        with self._lock:
            comment = self._find(comment_urn)
            comment.text = new_text
            comment.modified = (when or comment.created + timedelta(hours=2)).astimezone(UTC)

    def set_token(self, token: str) -> None:
        with self._lock:
            self._token = token

    # --- handlers ---------------------------------------------------------------------

    def _handler(
        self, work: Callable[[Request, re.Match[str]], Response]
    ) -> Callable[[Request, re.Match[str]], Response]:
        def handle(request: Request, match: re.Match[str]) -> Response:
            with self._lock:
                try:
                    self._check_headers(request)
                    return work(request, match)
                except LinkedInError as error:
                    return _error(error)

        return handle

    def _list_posts(self, request: Request, match: re.Match[str]) -> Response:
        query = request.query
        if query.get("q") != "author":
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", "Query parameter 'q' must be 'author'")
        if query.get("author") != ORGANIZATION:
            raise _access_denied(request)
        sort = query.get("sortBy", "LAST_MODIFIED")
        if sort not in ("LAST_MODIFIED", "CREATED"):
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"Invalid value for sortBy: {sort}")
        # Posts are never edited in the sandbox, so both orders are newest first by creation.
        posts = sorted(self._posts, key=lambda p: p.created, reverse=True)
        start, count = _window(request)
        window = posts[start : start + count]
        paging: dict[str, Any] = {"start": start, "count": count, "links": []}
        if start + count < len(posts):
            # The posts finder gives a `next` link but no total, as LinkedIn's does.
            paging["links"].append(_link(request, start + count, count))
        return _json(200, {"paging": paging, "elements": [_post_json(p) for p in window]})

    def _list_comments(self, request: Request, match: re.Match[str]) -> Response:
        target = _urn(match["target"])
        start, count = _window(request)
        post = self._thread_post(target)
        if post is not None:
            items = self._live(post, None)
        else:
            parent = self._find_live(target)
            items = self._live(parent.post, parent)
        window = items[start : start + count]
        paging: dict[str, Any] = {"start": start, "count": count, "total": len(items)}
        paging["links"] = (
            [_link(request, start + count, count)] if start + count < len(items) else []
        )
        rendered = [self._comment_json(c) for c in window]
        return _json(200, {"paging": paging, "elements": rendered}, self._splices(window))

    def _get_comment(self, request: Request, match: re.Match[str]) -> Response:
        comment = self._addressed(match)
        return _json(200, self._comment_json(comment), self._splices([comment]))

    def _delete_comment(self, request: Request, match: re.Match[str]) -> Response:
        actor = request.query.get("actor")
        if not actor:
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", "Query parameter 'actor' is required")
        comment = self._addressed(match)
        if actor != ORGANIZATION or comment.actor != ORGANIZATION:
            # The strict reading of LinkedIn's docs: a page deletes its own comments only.
            raise _access_denied(request)
        self._delete(comment)
        return Response(204, b"", {"X-RestLi-Protocol-Version": "2.0.0"})

    # --- checks -------------------------------------------------------------------------

    def _check_headers(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise LinkedInError(401, "INVALID_ACCESS_TOKEN", "Empty oauth2 access token", 65604)
        if token.strip() != self._token:
            raise LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        version = request.headers.get("linkedin-version", "")
        if not version:
            raise LinkedInError(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
            )
        if not re.fullmatch(r"\d{6}(\.\d{2})?", version) or version[:6] < OLDEST_VERSION:
            raise LinkedInError(
                426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"
            )
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            raise LinkedInError(
                400, "ILLEGAL_ARGUMENT", "This resource requires Rest.li protocol version 2.0.0"
            )

    def _addressed(self, match: re.Match[str]) -> _Comment:
        """The comment `{target}/comments/{id}` names: target is its thread, post or parent."""
        target = _urn(match["target"])
        comment_id = unquote(match["id"])
        comment = next(
            (c for c in self._comments if c.id == comment_id and not c.deleted),
            None,
        )
        if comment is None:
            raise _not_found(f"/socialActions/{target}/comments/{comment_id}")
        targets = {comment.post.urn, comment.post.thread}
        if comment.parent is not None:
            targets.add(comment.parent.urn)
        if target not in targets:
            raise _not_found(f"/socialActions/{target}/comments/{comment_id}")
        return comment

    # --- state and rendering ------------------------------------------------------------

    def _add_seed_post(self, slot: int, seed: SeedPost, first_level: int, kind: str) -> None:
        number = 7_301_000_000_000_000_001 + slot
        urn = f"urn:li:{kind}:{number}"
        thread = f"urn:li:activity:{number + 500}" if kind == "share" else urn
        post = _Post(urn, thread, seed.message, seed.created_time)
        self._posts.append(post)
        chosen = _pick(self._seed.comments_on(seed.id), first_level)
        made: dict[str, _Comment] = {}
        for item in chosen:
            parent = made[item.parent_id] if item.parent_id else None
            comment = self._new(
                post, parent, _person(item.author_id), item.message, item.created_time
            )
            comment.seed = item
            made[item.id] = comment

    def _new(
        self, post: _Post, parent: _Comment | None, actor: str, text: str, when: datetime
    ) -> _Comment:
        stamp = when.astimezone(UTC).replace(microsecond=0)
        comment = _Comment(str(self._next_id), post, parent, actor, text, stamp, stamp)
        self._next_id += 1
        self._comments.append(comment)
        return comment

    def _post(self, urn: str) -> _Post:
        for post in self._posts:
            if urn in (post.urn, post.thread):
                return post
        raise KeyError(urn)

    def _thread_post(self, urn: str) -> _Post | None:
        try:
            return self._post(urn)
        except KeyError:
            if urn.startswith(("urn:li:share:", "urn:li:ugcPost:", "urn:li:activity:")):
                raise _not_found(f"/socialActions/{urn}/comments") from None
            return None

    def _find(self, comment_urn: str) -> _Comment:
        for comment in self._comments:
            if comment.urn == comment_urn:
                return comment
        raise KeyError(comment_urn)

    def _find_live(self, urn: str) -> _Comment:
        try:
            comment = self._find(urn)
        except KeyError:
            comment = None
        if comment is None or comment.deleted:
            raise _not_found(f"/socialActions/{urn}/comments")
        return comment

    def _live(self, post: _Post, parent: _Comment | None) -> list[_Comment]:
        """Live comments on a post (first level) or on a comment, oldest first."""
        return sorted(
            (c for c in self._comments if c.post is post and c.parent is parent and not c.deleted),
            key=lambda c: (c.created, int(c.id)),
        )

    def _delete(self, comment: _Comment) -> None:
        comment.deleted = True
        for reply in self._comments:
            if reply.parent is comment and not reply.deleted:
                self._delete(reply)

    def _view(self, comment: _Comment) -> SandboxComment:
        return SandboxComment(
            comment.urn,
            comment.post.urn,
            comment.parent.urn if comment.parent else None,
            comment.actor,
            comment.text,
            comment.seed,
        )

    def _comment_json(self, comment: _Comment) -> dict[str, Any]:
        replies = len(self._live(comment.post, comment)) if comment.parent is None else 0
        likes = int(comment.id[-2:]) % 5  # any stable small number
        text: str = _placeholder(comment) if comment.text_bytes is not None else comment.text
        full: dict[str, Any] = {
            "actor": comment.actor,
            "agent": comment.actor,
            "commentUrn": comment.urn,
            "created": {"actor": comment.actor, "time": _ms(comment.created)},
            "lastModified": {"actor": comment.actor, "time": _ms(comment.modified)},
            "id": comment.id,
            "message": {"attributes": [], "text": text},
            "object": comment.parent.urn if comment.parent else comment.post.thread,
            "likesSummary": {
                "selectedLikes": [],
                "aggregatedTotalLikes": likes,
                "likedByCurrentUser": False,
                "totalLikes": likes,
            },
            "commentsSummary": {
                "selectedComments": [],
                "aggregatedTotalComments": replies,
                "totalFirstLevelComments": replies,
            },
        }
        if comment.parent is not None:
            full["parentComment"] = comment.parent.urn
        if comment.seed is not None and comment.seed.attachment is not None:
            full["content"] = [
                {
                    "type": "IMAGE",
                    "url": comment.seed.attachment.image_src,
                    "entity": {"image": f"urn:li:image:C4E{comment.id}"},
                }
            ]
        full.update(comment.extra)
        return {k: v for k, v in full.items() if k not in comment.omit}

    def _splices(self, comments: Iterable[_Comment]) -> dict[str, bytes]:
        return {_placeholder(c): c.text_bytes for c in comments if c.text_bytes is not None}


# --- module helpers -------------------------------------------------------------------


def _pick(comments: tuple[SeedComment, ...], first_level: int) -> list[SeedComment]:
    """The first `first_level` first-level comments, every hostile one, every one with an
    attachment, and whole threads (parents and replies of those)."""
    firsts = [c for c in comments if c.parent_id is None]
    keep = {c.id for c in firsts[:first_level]}
    keep |= {c.id for c in comments if c.tags or c.attachment}
    keep |= {c.parent_id for c in comments if c.id in keep and c.parent_id}
    keep |= {c.id for c in comments if c.parent_id in keep}
    return [c for c in comments if c.id in keep]


def _person(author_id: str) -> str:
    """A stable member URN, shaped like LinkedIn's (letters and digits)."""
    number, digits = int(author_id), ""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    while number:
        number, rest = divmod(number, len(alphabet))
        digits = alphabet[rest] + digits
    return f"urn:li:person:{digits}"


def _urn(segment: str) -> str:
    """A path segment's URN. Rest.li 2.0 needs URNs percent-encoded in paths."""
    if re.search(r"[:(),]", segment):
        raise LinkedInError(
            400,
            "ILLEGAL_ARGUMENT",
            f"Syntax exception in path variables: {segment!r} is not encoded",
        )
    return unquote(segment)


def _window(request: Request) -> tuple[int, int]:
    values = []
    for name, default in (("start", 0), ("count", DEFAULT_COUNT)):
        text = request.query.get(name, str(default))
        if not text.isdigit():
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"Invalid value for {name}: {text}")
        values.append(int(text))
    start, count = values
    return start, max(1, min(count, MAX_COUNT))


def _link(request: Request, start: int, count: int) -> dict[str, Any]:
    params = {**request.query, "start": str(start), "count": str(count)}
    path = request.path.removeprefix(PREFIX)
    return {
        "type": "application/json",
        "rel": "next",
        "href": f"{path}?{urlencode(params, quote_via=quote)}",
    }


def _post_json(post: _Post) -> dict[str, Any]:
    stamp = _ms(post.created)
    return {
        "id": post.urn,
        "author": ORGANIZATION,
        "commentary": post.text,
        "createdAt": stamp,
        "publishedAt": stamp,
        "lastModifiedAt": stamp,
        "visibility": "PUBLIC",
        "lifecycleState": "PUBLISHED",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "isReshareDisabledByAuthor": False,
    }


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _placeholder(comment: _Comment) -> str:
    return f"@@sandbox-bytes-{comment.id}@@"


def _access_denied(request: Request, status: int = 403) -> LinkedInError:
    return LinkedInError(
        status,
        "ACCESS_DENIED",
        f"Not enough permissions to access: partnerApiSocialActions.{request.method}.20260601",
        100,
    )


def _not_found(what: str) -> LinkedInError:
    return LinkedInError(404, "NOT_FOUND", f"Not Found: {what}")


def _error(error: LinkedInError) -> Response:
    body: dict[str, Any] = {"status": error.status, "code": error.code, "message": error.message}
    if error.service_code:
        body["serviceErrorCode"] = error.service_code
    return _json(error.status, body)


def _json(status: int, payload: Any, splices: dict[str, bytes] | None = None) -> Response:
    # LinkedIn writes raw UTF-8 and names no charset: clients must not guess one.
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    for placeholder, raw in (splices or {}).items():
        body = body.replace(placeholder.encode("ascii"), raw)
    return Response(
        status,
        body,
        {"Content-Type": "application/json", "X-RestLi-Protocol-Version": "2.0.0"},
    )


SANDBOX = LinkedInSandbox
