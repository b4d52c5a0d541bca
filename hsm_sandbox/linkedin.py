"""A LinkedIn organization page as the Community Management API answers it, under `/linkedin`.

Covered (versioned REST, Rest.li 2.0): `GET /rest/posts?q=author` (start/count paging, sortBy),
`GET /rest/socialActions/{post, activity or comment URN}/comments` (first-level comments of a
post, or the replies to a comment), `GET` and `DELETE .../comments/{id}` (delete needs
`actor`; only the page's own comments may be deleted: LinkedIn's docs leave open whether a
page may delete members' comments, and the sandbox takes the strict reading). URNs in paths
must be percent-encoded. Every call needs a Bearer token and a `LinkedIn-Version` header;
errors have LinkedIn's shape (`status`, `serviceErrorCode`, `code`, `message`).

The page's posts and comments are LinkedIn's own seed (`seed-linkedin.json`: hostile texts
and comments breaking the policy included), plus two comments written by the page itself.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlencode

from hsm_sandbox.faults import Fault, FaultKind
from hsm_sandbox.params import bearer, whole
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SANDBOX_TOKEN, SeedComment, SeedData, SeedPost
from hsm_sandbox.store import Comment, CommentStore, OneToken, epoch_ms, threaded

PREFIX = "/linkedin"
ORGANIZATION = "urn:li:organization:1000001"
OLDEST_VERSION = "202507"  # older LinkedIn-Version values are sunset: HTTP 426
DEFAULT_COUNT = 10
MAX_COUNT = 100
RESTLI = {"X-RestLi-Protocol-Version": "2.0.0"}  # on every answer
# LinkedIn writes raw UTF-8 and names no charset: clients must not guess one.
JSON_HEADERS = {"Content-Type": "application/json", **RESTLI}

T = TypeVar("T")

_KINDS = ("share", "ugcPost")  # the URN kinds of the posts, taken in turn
_ORG_REPLIES = (
    # (post slot, index of the first-level comment answered or None for first-level, text)
    (0, 6, "Thanks, but the City recruits for this role itself: apply at highlandil.gov/jobs."),
    (1, None, "Thank you all! The playground design open house is March 12 at Lindendale Park."),
)


class LinkedInError(Exception):
    def __init__(self, status: int, code: str, message: str, service_code: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.service_code = service_code


@dataclass
class _Post:
    urn: str  # urn:li:share:... or urn:li:ugcPost:...
    thread: str  # the URN comment URNs name: the activity of a share, the ugcPost itself
    text: str
    created: datetime


@dataclass(frozen=True)
class SandboxComment:
    """What a test needs to know about one live comment."""

    urn: str
    post_urn: str
    parent_urn: str | None
    actor: str
    text: str
    seed: SeedComment | None


@dataclass
class _Comment(Comment[SandboxComment]):
    """`id` is the comment URN, `post_id` the post's URN, `parent_id` the parent's URN."""

    modified: datetime | None = None  # set by an edit

    @property
    def number(self) -> str:
        """The id LinkedIn also sends alone (the URN's last part)."""
        return self.id.rsplit(",", 1)[1].rstrip(")")


class LinkedInSandbox(CommentStore[_Comment, LinkedInError], OneToken):
    """The LinkedIn part of the sandbox: its state, routes and fault shapes."""

    error_type = LinkedInError
    json_headers = JSON_HEADERS
    json_utf8 = True
    empty = (204, RESTLI)

    def __init__(self, seed: SeedData) -> None:
        super().__init__()
        self._seed = seed.of("linkedin")
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        rest = PREFIX + "/rest"
        target = rest + r"/socialActions/(?P<target>[^/]+)/comments"
        router.add("GET", rest + "/posts", self._route(self._list_posts), self)
        org = rest + r"/organizations/(?P<id>[^/]+)"
        router.add("GET", org, self._route(self._organization), self)
        router.add("GET", target, self._route(self._list_comments), self)
        router.add("GET", target + r"/(?P<id>[^/]+)", self._route(self._get_comment), self)
        router.add("DELETE", target + r"/(?P<id>[^/]+)", self._route(self._delete_comment), self)

    def reset(self) -> None:
        with self._lock:
            self.token = SANDBOX_TOKEN
            # The organization's `description` and `website`; tests change them here.
            self.profile = dict(self._seed.pages[0].profile) if self._seed.pages else {}
            self._posts: list[_Post] = []
            self._load(())
            self._next_id = 7_302_000_000_000_000_001
            for slot, seed_post in enumerate(self._seed.posts):
                self._add_seed_post(slot, seed_post)
            for slot, answered, text in _ORG_REPLIES:
                post = self._posts[slot]
                firsts = self._firsts(post)
                parent = firsts[answered] if answered is not None else None
                after = parent.created if parent else firsts[-1].created
                self._new(post, parent, ORGANIZATION, text, after + timedelta(minutes=47))

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind is FaultKind.PERMISSION:  # its message names the request's method
            return self._error_response(request, _access_denied(request, fault.status or 403))
        return super().fault_response(fault, request)

    def _fault_error(self, fault: Fault) -> LinkedInError:
        if fault.kind is FaultKind.RATE_LIMIT:
            # LinkedIn names no wait and sends no usage headers for its daily quotas.
            return LinkedInError(
                fault.status or 429,
                "TOO_MANY_REQUESTS",
                "Resource level throttle APPLICATION DAY limit for calls to this resource "
                "is reached.",
                fault.code or 101,
            )
        if fault.kind is FaultKind.REVOKED_TOKEN:
            code = fault.code or 65601
            name = {65600: "INVALID_ACCESS_TOKEN", 65602: "EXPIRED_ACCESS_TOKEN"}.get(
                code, "REVOKED_ACCESS_TOKEN"
            )
            message = "The token used in the request has been revoked by the user"
            return LinkedInError(fault.status or 401, name, message, code)
        raise ValueError(f"no LinkedIn shape for fault {fault.kind}")

    # --- helpers for tests and the demo ----------------------------------------------

    def post_urns(self) -> list[str]:
        """The page's posts, newest first."""
        with self._lock:
            return [p.urn for p in sorted(self._posts, key=lambda p: p.created, reverse=True)]

    def comments(self, post_urn: str) -> list[SandboxComment]:
        """A post's live comments in listing order: each first-level comment, then its replies."""
        with self._lock:
            ordered: list[SandboxComment] = []
            for first in self._firsts(self._post(post_urn)):
                for comment in (first, *self._replies_of(first)):
                    ordered.append(replace(comment.seed, text=comment.text))
            return ordered

    def org_comment_urns(self) -> list[str]:
        with self._lock:
            return [c.id for c in self._comments if c.seed.actor == ORGANIZATION and not c.deleted]

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
            parent = self._by_id[parent_urn] if parent_urn else None
            when = self._added_time(created, timedelta(minutes=1))
            if text_bytes is not None:
                text = self._raw_text(str(self._next_id), text_bytes)
            return self._new(post, parent, actor, text, when, extra=extra, omit=omit).id

    def edit_comment(
        self, comment_id: str | int, new_text: str, when: datetime | None = None
    ) -> None:
        """The author edits the comment: new text and a later `lastModified`."""
        with self._lock:
            comment = self._by_id[str(comment_id)]
            comment.text = new_text
            comment.modified = (when or comment.created + timedelta(hours=2)).astimezone(UTC)

    # --- handlers ---------------------------------------------------------------------

    def _list_posts(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
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
        # The posts finder gives a `next` link but no total, as LinkedIn's does.
        return _paged(request, _window(request), posts, _post_json, total=False)

    def _list_comments(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        target = _urn(match["target"])
        window = _window(request)
        post = self._thread_post(target)
        if post is not None:
            items = self._firsts(post)
        else:
            parent = self._live(target)
            if parent is None:
                raise _not_found(f"/socialActions/{target}/comments")
            items = self._replies_of(parent)
        return _paged(request, window, items, self._comment_json, total=True)

    def _organization(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        """GET /rest/organizations/{id}: its localized fields and the MultiLocaleString ones."""
        if f"urn:li:organization:{match['id']}" != ORGANIZATION:
            raise LinkedInError(404, "NOT_FOUND", f"Organization {match['id']} not found")
        answer: dict[str, Any] = {
            "id": int(match["id"]),
            "localizedName": self._seed.pages[0].name,
            "vanityName": "city-of-highland-il",
        }
        for name in ("description", "website"):
            if name in self.profile:
                value = self.profile[name]
                answer[name] = {
                    "localized": {"en_US": value},
                    "preferredLocale": {"country": "US", "language": "en"},
                }
                answer["localized" + name.title()] = value
        return answer

    def _get_comment(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        return self._comment_json(self._addressed(match))

    def _delete_comment(self, request: Request, match: re.Match[str]) -> None:
        actor = request.query.get("actor")
        if not actor:
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", "Query parameter 'actor' is required")
        comment = self._addressed(match)
        if actor != ORGANIZATION or comment.seed.actor != ORGANIZATION:
            # The strict reading of LinkedIn's docs: a page deletes its own comments only.
            raise _access_denied(request)
        self._delete(comment)

    # --- answering (the CommentStore hooks) ---------------------------------------------

    def _admit(self, request: Request) -> None:
        token = bearer(request)
        if not token:
            raise LinkedInError(401, "INVALID_ACCESS_TOKEN", "Empty oauth2 access token", 65604)
        if not self.accepts(token):
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

    def _error_response(self, request: Request, error: LinkedInError) -> Response:
        body: dict[str, Any] = {
            "status": error.status,
            "code": error.code,
            "message": error.message,
        }
        if error.service_code:
            body["serviceErrorCode"] = error.service_code
        return self._json(error.status, body)

    def _addressed(self, match: re.Match[str]) -> _Comment:
        """The comment `{target}/comments/{id}` names: target is its thread, post or parent."""
        target = _urn(match["target"])
        comment_id = unquote(match["id"])
        comment = next(
            (c for c in self._comments if c.number == comment_id and not c.deleted),
            None,
        )
        if comment is None or target not in (
            comment.post_id,
            comment.parent_id,
            self._post(comment.post_id).thread,
        ):
            raise _not_found(f"/socialActions/{target}/comments/{comment_id}")
        return comment

    # --- state and rendering ------------------------------------------------------------

    def _add_seed_post(self, slot: int, seed: SeedPost) -> None:
        number = 7_301_000_000_000_000_001 + slot
        kind = _KINDS[slot % len(_KINDS)]
        urn = f"urn:li:{kind}:{number}"
        thread = f"urn:li:activity:{number + 500}" if kind == "share" else urn
        post = _Post(urn, thread, seed.message, seed.created_time)
        self._posts.append(post)
        threaded(
            self._seed.comments_on(seed.id),
            lambda item, parent: self._new(
                post, parent, _person(item.author_id), item.message, item.created_time, item
            ),
        )

    def _new(
        self,
        post: _Post,
        parent: _Comment | None,
        actor: str,
        text: str,
        when: datetime,
        seed: SeedComment | None = None,
        *,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
    ) -> _Comment:
        stamp = when.astimezone(UTC).replace(microsecond=0)
        urn = f"urn:li:comment:({post.thread},{self._next_id})"
        parent_urn = parent.id if parent else None
        record = SandboxComment(urn, post.urn, parent_urn, actor, text, seed)
        comment = _Comment(record, urn, post.urn, parent_urn, stamp, text)
        self._next_id += 1
        self._add(comment, extra, omit)
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

    def _firsts(self, post: _Post) -> list[_Comment]:
        """A post's live first-level comments, oldest first."""
        return sorted((c for c in self._on(post.urn) if c.parent_id is None), key=lambda c: c.key)

    def _comment_json(self, comment: _Comment) -> dict[str, Any]:
        replies = len(self._replies_of(comment)) if comment.parent_id is None else 0
        likes = int(comment.number[-2:]) % 5  # any stable small number
        actor = comment.seed.actor
        full: dict[str, Any] = {
            "actor": actor,
            "agent": actor,
            "commentUrn": comment.id,
            "created": {"actor": actor, "time": epoch_ms(comment.created)},
            "lastModified": {"actor": actor, "time": epoch_ms(comment.modified or comment.created)},
            "id": comment.number,
            "message": {"attributes": [], "text": comment.text},
            "object": comment.parent_id or self._post(comment.post_id).thread,
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
        if comment.parent_id is not None:
            full["parentComment"] = comment.parent_id
        seed = comment.seed.seed
        if seed is not None and seed.attachment is not None:
            full["content"] = [
                {
                    "type": "IMAGE",
                    "url": seed.attachment.image_src,
                    "entity": {"image": f"urn:li:image:C4E{comment.number}"},
                }
            ]
        return comment.injected(full)


SANDBOX = LinkedInSandbox


# --- module helpers -------------------------------------------------------------------


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
    """`start` and `count` (LinkedIn's paging), the count held to 1..MAX_COUNT."""
    start, count = (
        whole(request.query.get(name, str(default)), 0, math.inf, functools.partial(_invalid, name))
        for name, default in (("start", 0), ("count", DEFAULT_COUNT))
    )
    return start, max(1, min(count, MAX_COUNT))


def _paged(
    request: Request,
    window: tuple[int, int],
    items: list[T],
    render: Callable[[T], dict[str, Any]],
    *,
    total: bool,
) -> dict[str, Any]:
    """The `window` of `items`, with its paging: a `next` link while more remain, and the
    `total` where the finder gives one."""
    start, count = window
    paging: dict[str, Any] = {"start": start, "count": count}
    if total:
        paging["total"] = len(items)
    paging["links"] = []
    if start + count < len(items):
        query = {**request.query, "start": str(start + count), "count": str(count)}
        href = f"{request.path.removeprefix(PREFIX)}?{urlencode(query, quote_via=quote)}"
        paging["links"].append({"type": "application/json", "rel": "next", "href": href})
    return {"paging": paging, "elements": [render(item) for item in items[start : start + count]]}


def _invalid(name: str, value: str) -> LinkedInError:
    return LinkedInError(400, "ILLEGAL_ARGUMENT", f"Invalid value for {name}: {value}")


def _post_json(post: _Post) -> dict[str, Any]:
    stamp = epoch_ms(post.created)
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


def _access_denied(request: Request, status: int = 403) -> LinkedInError:
    return LinkedInError(
        status,
        "ACCESS_DENIED",
        f"Not enough permissions to access: partnerApiSocialActions.{request.method}.20260601",
        100,
    )


def _not_found(what: str) -> LinkedInError:
    return LinkedInError(404, "NOT_FOUND", f"Not Found: {what}")
