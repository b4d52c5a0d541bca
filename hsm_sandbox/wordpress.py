"""The City's WordPress blog as the core REST API (6.x) answers it, under `/wordpress`.

A site's base URL is `{sandbox}/wordpress`, so the API is at `/wordpress/wp-json/wp/v2/...`.
Covered: `GET /posts` and `/posts/{id}`; `GET /comments` (`post`, `status` with WordPress's
meanings of `approve`, `hold`, `spam`, `trash`, `all` = approved and pending, `any` = every
status; `context`, `orderby`, `order`, `after`, `before`, `parent`, `page`, `per_page`,
`offset`); `GET`, `POST`/`PUT`/`PATCH` (JSON or form body) and `DELETE` of
`/comments/{id}`. Lists carry `X-WP-Total`, `X-WP-TotalPages` and `Link`; `_fields` trims
answers; errors have WordPress's shape `{"code", "message", "data": {"status"}}`.

Authentication is HTTP Basic with an Application Password: user `admin` (an Administrator)
or `author` (an Author: may not moderate comments), both with `SANDBOX_TOKEN`. As on a real
6.1 site, a wrong password does not fail by itself: the request goes on as anonymous and is
refused where it needs more (`rest_forbidden_context`, `rest_forbidden_param`, 401).
Like WordPress, a status change writes the caller's IP address and user agent over the
commenter's unless the request sends `author_ip` / `author_user_agent`. Unlike WordPress,
the sandbox does not filter HTML out of a comment on update.

The blog's posts and comments are its own seed (`seed-wordpress.json`: hostile texts and the
comments that break the policy included), in every status.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from hsm_sandbox.faults import MALFORMED_BODY, Fault, FaultKind, generic_response
from hsm_sandbox.params import one_of, whole
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SANDBOX_TOKEN, SeedComment, SeedData, SeedPost
from hsm_sandbox.store import Comment, CommentStore, threaded

PREFIX = "/wordpress"
API = PREFIX + "/wp-json"
V2 = API + "/wp/v2"
SITE = "https://www.highlandil.gov"  # where the blog's own permalinks point
SITE_TIME_ZONE = ZoneInfo("America/Chicago")  # the site's "Timezone" setting
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100

# (WordPress post id, the seed post's City page, slug, title); comments come from that post.
POSTS = (
    (1841, "/parks/master-plan-2026", "parks-master-plan-2026-draft",
     "Draft Parks and Recreation Master Plan: tell us what you think"),
    (1867, "/parks/korte-fees", "korte-membership-rates-june",
     "Korte Recreation Center membership rates change June 1"),
    (1902, "/parks/lindendale-trail-bridge", "lindendale-trail-bridge-closure",
     "Lindendale nature trail closes for the footbridge replacement"),
)  # fmt: skip
FIRST_COMMENT_ID = 3001

# Users and their Application Passwords: name -> (id, display name, may moderate comments).
_USERS = {"admin": (1, "City Web Team", True), "author": (2, "Parks Intern", False)}
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
_COMMENT_ORDERBY = {"date", "date_gmt", "id", "include", "post", "parent", "type"}
_POST_ORDERBY = {"author", "date", "id", "include", "modified", "parent", "relevance", "slug",
                 "include_slugs", "title"}  # fmt: skip
# WordPress's database values of comment_approved -> the status its REST API shows.
_SHOWN = {"1": "approved", "0": "hold", "spam": "spam", "trash": "trash"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?")
# (code, message) of the refusals several places give.
_EDIT_POSTS = (
    "rest_forbidden_context",
    "Sorry, you are not allowed to edit posts in this post type.",
)
_EDIT_POST = ("rest_forbidden_context", "Sorry, you are not allowed to edit this post.")
_EDIT_COMMENTS = ("rest_forbidden_context", "Sorry, you are not allowed to edit comments.")
_EDIT_COMMENT = ("rest_cannot_edit", "Sorry, you are not allowed to edit this comment.")
_CRITICAL = (
    '<p>There has been a critical error on this website.</p><p><a href="https://wordpress.org/'
    'documentation/article/faq-troubleshooting/">Learn more about troubleshooting '
    "WordPress.</a></p>"
)


T = TypeVar("T")


class WordPressError(Exception):
    """Raised inside a handler; becomes a WordPress error answer."""

    def __init__(
        self, status: int, code: str, message: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = dict(extra or {})  # more members of "data"


@dataclass
class _Post:
    id: int
    slug: str
    title: str
    content: str
    date_gmt: datetime
    seed_id: str  # the seed post its comments come from

    @property
    def link(self) -> str:
        return f"{SITE}/news/{self.slug}/"


@dataclass(frozen=True)
class _Record:
    """A comment as written: `Comment.id` is its number as text, `post_id` its post's."""

    author_name: str
    author_email: str
    content: str
    seed: SeedComment | None = None


@dataclass
class _Comment(Comment[_Record]):
    approved: str = "1"  # the database value: "1", "0", "spam" or "trash"
    before_trash: str = "0"  # where `untrash` / `unspam` return to
    author_ip: str = ""
    author_user_agent: str = ""
    raw: str | None = None  # what `content.raw` shows instead of `text`: raw bytes' marker

    @property
    def number(self) -> int:
        return int(self.id)

    @property
    def post(self) -> int:
        return int(self.post_id)

    @property
    def parent(self) -> int:
        return int(self.parent_id or 0)


@dataclass(frozen=True)
class _Caller:
    user_id: int  # 0: anonymous
    moderates: bool

    @property
    def refusal_status(self) -> int:
        """WordPress's rest_authorization_required_code(): 401 anonymous, 403 signed in."""
        return 403 if self.user_id else 401

    def refused(self, refusal: tuple[str, str]) -> WordPressError:
        """The (code, message) `refusal` with the status it has for this caller."""
        return WordPressError(self.refusal_status, *refusal)


class WordPressSandbox(CommentStore[_Comment, WordPressError]):
    """The WordPress part of the sandbox: its state, routes and fault shapes."""

    error_type = WordPressError
    text_field = "content"

    def __init__(self, seed: SeedData) -> None:
        super().__init__()
        self._seed = seed.of("wordpress")
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        comment = V2 + r"/comments/(?P<id>\d+)/?"
        router.add("GET", API + "/?", self._handler(self._index), self)
        router.add("GET", V2 + "/posts/?", self._handler(self._list_posts), self)
        router.add("GET", V2 + r"/posts/(?P<id>\d+)/?", self._handler(self._get_post), self)
        router.add("GET", V2 + "/comments/?", self._handler(self._list_comments), self)
        router.add("GET", comment, self._handler(self._get_comment), self)
        for method in ("POST", "PUT", "PATCH"):
            router.add(method, comment, self._handler(self._update_comment), self)
        router.add("DELETE", comment, self._handler(self._delete_comment), self)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            router.add(method, API + "(/.*)?", self._handler(_no_route), self)

    def reset(self) -> None:
        with self._lock:
            self._passwords = dict.fromkeys(_USERS, SANDBOX_TOKEN)
            # The site's Tagline (`description`); tests change it here.
            self.profile = dict(self._seed.pages[0].profile) if self._seed.pages else {}
            self._posts = {p.id: p for p in self._seed_posts()}
            self._load(())
            threaded(self._seed_comments(), self._store)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        headers = _headers(request)
        if fault.kind is FaultKind.MALFORMED:
            # surrogateescape lets a test send bytes that are not UTF-8 ("\udcff" -> 0xFF).
            text = MALFORMED_BODY if fault.body is None else fault.body
            # A body that starts like markup goes out as the web page it is.
            markup = text.lstrip().startswith("<")
            headers["Content-Type"] = (
                f"{'text/html' if markup else 'application/json'}; charset=UTF-8"
            )
            return Response(fault.status or 200, text.encode("utf-8", "surrogateescape"), headers)
        if fault.kind is FaultKind.SERVER_ERROR and fault.status in (None, 500):
            # What WordPress's fatal-error handler sends to REST clients.
            error = WordPressError(500, "internal_server_error", _CRITICAL)
            return self._error_response(request, error, {"additional_errors": []})
        if fault.kind is FaultKind.RATE_LIMIT:
            # Core has no rate limit; security plugins answer like this.
            error = WordPressError(
                fault.status or 429, "rest_too_many_requests", "Too many requests. Slow down."
            )
            return self._error_response(
                request, error, headers={"Retry-After": f"{fault.seconds:g}"}
            )
        if fault.kind is FaultKind.REVOKED_TOKEN:
            error = WordPressError(
                fault.status or 401,
                "incorrect_password",
                "The provided password is an invalid application password.",
            )
            return self._error_response(request, error)
        if fault.kind is FaultKind.PERMISSION:
            refusal = _EDIT_COMMENTS if request.method == "GET" else _EDIT_COMMENT
            return self._error_response(request, WordPressError(fault.status or 403, *refusal))
        generic = generic_response(fault)  # 5xx from a proxy, 429 from a firewall
        if generic is None:
            raise ValueError(f"no WordPress shape for fault {fault.kind}")
        generic.headers = {**headers, **generic.headers}
        return generic

    # --- helpers for tests and the demo ----------------------------------------------

    @property
    def post_ids(self) -> tuple[int, ...]:
        return tuple(post_id for post_id, *_ in POSTS)

    def seeded(self) -> list[tuple[int, SeedComment]]:
        """(comment id, seed comment) of every seeded comment still there."""
        with self._lock:
            return [
                (c.number, c.seed.seed) for c in self._comments if c.seed.seed and not c.deleted
            ]

    def status_of(self, comment_id: int) -> str | None:
        """The status the API shows ("approved", "hold", "spam", "trash"); None if deleted."""
        with self._lock:
            comment = self._by_id[str(comment_id)]
            return None if comment.deleted else _SHOWN[comment.approved]

    def comment_json(self, comment_id: int) -> dict[str, Any]:
        """The comment as `context=edit` shows it."""
        with self._lock:
            shown: dict[str, Any] = json.loads(
                json.dumps(self._comment_json(self._by_id[str(comment_id)], "edit"))
            )
            return shown

    def set_status(self, comment_id: int, status: str) -> None:
        """Change a status as a moderator in wp-admin would ("approved", "hold", ...)."""
        with self._lock:
            self._change_status(self._by_id[str(comment_id)], status)

    def set_password(self, user: str, password: str) -> None:
        with self._lock:
            self._passwords[user] = password

    def add_comment(
        self,
        post_id: int,
        content: str,
        *,
        status: str = "approved",
        author_name: str = "Sandbox Tester",
        parent: int = 0,
        date_gmt: datetime | None = None,
        extra: Mapping[str, Any] | None = None,
        omit: Iterable[str] = (),
        content_bytes: bytes | None = None,
    ) -> int:
        """Add a comment and return its id. `extra` adds or overwrites raw payload fields;
        `omit` drops fields; `content_bytes` is put in `content.raw` as is (bad UTF-8)."""
        with self._lock:
            number = str(FIRST_COMMENT_ID + len(self._comments))
            record = _Record(author_name, "tester@example.org", content)
            comment = _Comment(
                record,
                number,
                str(post_id),
                str(parent) if parent else None,
                self._added_time(date_gmt),
                content,
                author_ip="203.0.113.9",
                author_user_agent=_USER_AGENTS[0],
            )
            if content_bytes is not None:
                comment.raw = self._raw_text(number, content_bytes)
            self._change_status(comment, status)
            self._add(comment, dict(extra or {}), omit)
            return comment.number

    # --- seed ---------------------------------------------------------------------------

    def _seed_posts(self) -> list[_Post]:
        posts = []
        for post_id, page, slug, title in POSTS:
            seed = self._seed_post(page)
            posts.append(_Post(post_id, slug, title, seed.message, seed.created_time, seed.id))
        return posts

    def _seed_post(self, page: str) -> SeedPost:
        return next(p for p in self._seed.posts if p.link.endswith(page))

    def _seed_comments(self) -> list[SeedComment]:
        """Every post's comments, oldest first (the order WordPress gave them their ids)."""
        picked = [c for post in self._posts.values() for c in self._seed.comments_on(post.seed_id)]
        return sorted(picked, key=lambda c: (c.created_time, c.id))

    def _store(self, seed: SeedComment, parent: str | None) -> str:
        post_id = next(p.id for p in self._posts.values() if p.seed_id == seed.post_id)
        number = len(self._comments)
        email = re.sub(r"[^a-z0-9]+", ".", seed.author_name.lower()).strip(".")
        record = _Record(seed.author_name, f"{email or 'guest'}@example.org", seed.message, seed)
        comment = _Comment(
            record,
            str(FIRST_COMMENT_ID + number),
            str(post_id),
            parent,
            seed.created_time,
            seed.message,
            author_ip=f"198.51.100.{1 + number % 250}",
            author_user_agent=_USER_AGENTS[number % len(_USER_AGENTS)],
        )
        self._change_status(comment, _seed_status(seed, number))
        self._add(comment)
        return comment.id

    # --- handlers ---------------------------------------------------------------------

    def _handler(
        self, work: Callable[[Request, re.Match[str], _Caller], Response]
    ) -> Callable[[Request, re.Match[str]], Response]:
        return self._route(lambda request, match: work(request, match, self._caller(request)))

    def _list_posts(self, request: Request, match: re.Match[str], caller: _Caller) -> Response:
        query = request.query
        context = _context(query, caller.user_id > 0, caller.refused(_EDIT_POSTS))
        per_page, page = _per_page(query), _page(query)
        orderby = _enum(query, "orderby", _POST_ORDERBY, "date")
        descending = _enum(query, "order", {"asc", "desc"}, "desc") == "desc"
        key: Callable[[_Post], Any] = {
            "id": lambda p: p.id,
            "title": lambda p: p.title.lower(),
            "slug": lambda p: p.slug,
        }.get(orderby, lambda p: p.date_gmt)
        posts = sorted(self._posts.values(), key=lambda p: (key(p), p.id), reverse=descending)
        if posts and page > math.ceil(len(posts) / per_page):
            raise WordPressError(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        render = functools.partial(self._post_json, context=context)
        return self._listing(request, posts, render, (page - 1) * per_page, per_page, page)

    def _index(self, request: Request, match: re.Match[str], caller: _Caller) -> Response:
        """GET /wp-json/: the REST index, whose `name` and `description` are the site's Title
        and Tagline (open to anyone, as on WordPress)."""
        index = {
            "name": self._seed.pages[0].name if self._seed.pages else "",
            "description": self.profile.get("description", ""),
            "url": SITE,
            "home": SITE,
            "gmt_offset": "-6",
            "timezone_string": "America/Chicago",
            "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1"],
            "authentication": {"application-passwords": {"endpoints": {
                "authorization": f"{SITE}/wp-admin/authorize-application.php"
            }}},
        }  # fmt: skip
        return self._reply(request, _fields(request.query, index))

    def _get_post(self, request: Request, match: re.Match[str], caller: _Caller) -> Response:
        post = self._posts.get(int(match["id"]))
        if post is None:
            raise WordPressError(404, "rest_post_invalid_id", "Invalid post ID.")
        context = _context(request.query, caller.user_id > 0, caller.refused(_EDIT_POST))
        return self._reply(request, _fields(request.query, self._post_json(post, context)))

    def _list_comments(self, request: Request, match: re.Match[str], caller: _Caller) -> Response:
        query = request.query
        pairs = parse_qsl(request.query_string, keep_blank_values=True)
        context = _context(query, caller.moderates, caller.refused(_EDIT_COMMENTS))
        status = re.sub(r"[^a-z0-9_-]", "", query.get("status", "approve").lower())  # sanitize_key
        if not caller.user_id and status != "approve":
            # Only callers who may edit posts may ask for other statuses.
            raise WordPressError(
                401, "rest_forbidden_param", "Query parameter not permitted: status"
            )
        per_page, page = _per_page(query), _page(query)
        posts = _integers(pairs, "post")
        parents = _integers(pairs, "parent")
        after, before = _date(query, "after"), _date(query, "before")
        orderby = _enum(query, "orderby", _COMMENT_ORDERBY, "date_gmt")
        descending = _enum(query, "order", {"asc", "desc"}, "desc") == "desc"
        kind = query.get("type", "comment")
        chosen = [
            c
            for c in self._comments
            if not c.deleted
            and _status_matches(c.approved, status)
            and (not posts or c.post in posts)
            and (not parents or c.parent in parents)
            and (after is None or c.created > after)
            and (before is None or c.created < before)
            and kind in ("comment", "comments", "", "all")
            and (caller.moderates or c.approved == "1")  # check_read_permission, per comment
        ]
        key: Callable[[_Comment], Any] = {
            "id": lambda c: c.number,
            "post": lambda c: c.post,
            "parent": lambda c: c.parent,
            "type": lambda c: "comment",
        }.get(orderby, lambda c: c.created)
        chosen.sort(key=lambda c: (key(c), c.number), reverse=descending)
        offset = query.get("offset", "")
        start = int(offset) if offset.isdigit() else (page - 1) * per_page
        render = functools.partial(self._comment_json, context=context)
        return self._listing(request, chosen, render, start, per_page, page)

    def _get_comment(self, request: Request, match: re.Match[str], caller: _Caller) -> Response:
        comment = self._comment(match["id"])
        context = _context(request.query, caller.moderates, caller.refused(_EDIT_COMMENTS))
        if comment.approved != "1" and not caller.moderates:
            raise WordPressError(
                caller.refusal_status,
                "rest_cannot_read",
                "Sorry, you are not allowed to read this comment.",
            )
        return self._reply(request, _fields(request.query, self._comment_json(comment, context)))

    def _update_comment(self, request: Request, match: re.Match[str], caller: _Caller) -> Response:
        comment = self._comment(match["id"])
        if not caller.moderates:
            raise caller.refused(_EDIT_COMMENT)
        params = {**request.query, **_body(request)}
        if "author_ip" in params:
            value = str(params["author_ip"])
            if not _is_ip(value):
                raise WordPressError(
                    400, "rest_comment_invalid_author_ip", "Invalid comment author IP."
                )
            comment.author_ip = value
        else:
            comment.author_ip = "127.0.0.1"  # REMOTE_ADDR: the caller's own address
        agent = params.get("author_user_agent")
        if isinstance(agent, str) and agent:
            comment.author_user_agent = agent
        elif request.headers.get("user-agent"):
            comment.author_user_agent = request.headers["user-agent"]
        content = params.get("content")
        if isinstance(content, str):
            if not content:
                raise WordPressError(
                    400, "rest_comment_content_invalid", "Invalid comment content."
                )
            comment.text, comment.raw = content, None
        status = params.get("status")
        if isinstance(status, str):
            self._change_status(comment, re.sub(r"[^a-z0-9_-]", "", status.lower()))
        return self._reply(request, self._comment_json(comment, "edit"))

    def _delete_comment(self, request: Request, match: re.Match[str], caller: _Caller) -> Response:
        comment = self._comment(match["id"])
        if not caller.moderates:
            raise WordPressError(
                caller.refusal_status,
                "rest_cannot_delete",
                "Sorry, you are not allowed to delete this comment.",
            )
        force = str(request.param("force") or "").lower() in ("1", "true")
        if force:
            previous = self._comment_json(comment, "edit")
            self._delete(comment)
            return self._reply(request, {"deleted": True, "previous": previous})
        if comment.approved == "trash":
            raise WordPressError(
                410, "rest_already_trashed", "The comment has already been trashed."
            )
        self._change_status(comment, "trash")
        return self._reply(request, self._comment_json(comment, "edit"))

    # --- answering (the CommentStore hooks) ---------------------------------------------

    def _admit(self, request: Request) -> None:
        """Nothing: a caller WordPress does not know goes on as anonymous (see `_caller`)."""

    def _ok_response(self, request: Request, payload: Response) -> Response:
        return payload  # the handlers answer with their own paging headers

    def _error_response(
        self,
        request: Request,
        error: WordPressError,
        top: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """WordPress's error body, with more `top`-level members and `headers` for a fault."""
        data = {"status": error.status, **error.extra}
        payload = {"code": error.code, "message": error.message, "data": data, **(top or {})}
        return self._reply(request, payload, headers, status=error.status)

    # --- state and rendering ------------------------------------------------------------

    def _delete(self, comment: _Comment) -> None:
        comment.deleted = True  # for good; the replies stay, as the sandbox always had them

    def _caller(self, request: Request) -> _Caller:
        """Who the Basic credentials name; anonymous when they are missing or wrong."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return _Caller(0, False)
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _Caller(0, False)
        # WordPress ignores all but letters and digits of an application password.
        expected = self._passwords.get(user)
        if user not in _USERS or expected is None or _alnum(password) != _alnum(expected):
            return _Caller(0, False)
        user_id, _, moderates = _USERS[user]
        return _Caller(user_id, moderates)

    def _comment(self, raw_id: str) -> _Comment:
        comment = self._live(str(int(raw_id)))
        if comment is None:
            raise WordPressError(404, "rest_comment_invalid_id", "Invalid comment ID.")
        return comment

    def _change_status(self, comment: _Comment, status: str) -> None:
        """WordPress's handle_status_param (unknown values change nothing)."""
        approved = {"approved": "1", "approve": "1", "1": "1", "hold": "0", "0": "0"}.get(status)
        if status in ("spam", "trash"):
            if comment.approved not in ("spam", "trash"):
                comment.before_trash = comment.approved
            approved = status
        elif status in ("unspam", "untrash") and comment.approved == status.removeprefix("un"):
            approved = comment.before_trash
        if approved is not None:
            comment.approved = approved

    def _post_json(self, post: _Post, context: str) -> dict[str, Any]:
        local = _local(post.date_gmt)
        rendered = "<p>" + html.escape(post.content, quote=False) + "</p>\n"
        full: dict[str, Any] = {
            "id": post.id,
            "date": local,
            "date_gmt": _gmt(post.date_gmt),
            "guid": {"rendered": f"{SITE}/?p={post.id}", "raw": f"{SITE}/?p={post.id}"},
            "modified": local,
            "modified_gmt": _gmt(post.date_gmt),
            "password": "",
            "slug": post.slug,
            "status": "publish",
            "type": "post",
            "link": post.link,
            "title": {"raw": post.title, "rendered": html.escape(post.title, quote=False)},
            "content": {"raw": post.content, "rendered": rendered, "protected": False},
            "excerpt": {"raw": "", "rendered": rendered, "protected": False},
            "author": 1,
            "featured_media": 0,
            "comment_status": "open",
            "ping_status": "closed",
            "sticky": False,
            "template": "",
            "format": "standard",
            "meta": [],
            "categories": [1],
            "tags": [],
        }
        if context != "edit":
            full = _without_edit(
                full, ("password", "template"), ("guid", "title", "content", "excerpt")
            )
        return full

    def _comment_json(self, comment: _Comment, context: str) -> dict[str, Any]:
        post = self._posts.get(comment.post)
        link = post.link if post else f"{SITE}/?p={comment.post}"
        paragraphs = html.escape(comment.text, quote=False).split("\n\n")
        rendered = "".join(f"<p>{p.replace(chr(10), '<br />' + chr(10))}</p>\n" for p in paragraphs)
        avatar = "https://secure.gravatar.com/avatar/00000000000000000000000000000000?s={}&d=mm&r=g"
        full: dict[str, Any] = {
            "id": comment.number,
            "post": comment.post,
            "parent": comment.parent,
            "author": 0,  # seeded and added comments are all guests'
            "author_name": comment.seed.author_name,
            "author_email": comment.seed.author_email,
            "author_url": "",
            "author_ip": comment.author_ip,
            "author_user_agent": comment.author_user_agent,
            "date": _local(comment.created),
            "date_gmt": _gmt(comment.created),
            "content": {"rendered": rendered, "raw": comment.raw or comment.text},
            "link": f"{link}#comment-{comment.id}",
            "status": _SHOWN[comment.approved],
            "type": "comment",
            "author_avatar_urls": {size: avatar.format(size) for size in ("24", "48", "96")},
            "meta": [],
        }
        if context != "edit":
            full = _without_edit(
                full, ("author_email", "author_ip", "author_user_agent"), ("content",)
            )
        return comment.injected(full)

    def _listing(
        self,
        request: Request,
        items: list[T],
        render: Callable[[T], dict[str, Any]],
        start: int,
        per_page: int,
        page: int,
    ) -> Response:
        """`per_page` of `items` from `start`, trimmed by `_fields`, with the totals and the
        `prev` / `next` links (by page number, whatever `offset` said)."""
        host = request.headers.get("host", "127.0.0.1")
        query = parse_qsl(request.query_string, keep_blank_values=True)
        base = [(k, v) for k, v in query if k != "page"]

        def url(number: int) -> str:
            return f"http://{host}{request.path}?{urlencode([*base, ('page', str(number))])}"

        pages = math.ceil(len(items) / per_page)
        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, pages))}>; rel="prev"')
        if pages > page:
            links.append(f'<{url(page + 1)}>; rel="next"')
        headers = {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(pages)}
        if links:
            headers["Link"] = ", ".join(links)
        shown = [_fields(request.query, render(item)) for item in items[start : start + per_page]]
        return self._reply(request, shown, headers)

    def _reply(
        self,
        request: Request,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        """An answer with WordPress's headers and `headers` (page links before the API's),
        the raw bytes of comments put back."""
        headers = headers or {}
        merged = _headers(request)
        if "Link" in headers:
            merged["Link"] = f"{headers['Link']}, {merged['Link']}"
        merged.update({k: v for k, v in headers.items() if k != "Link"})
        return self._spliced(Response(status, _php_json(payload), merged))


# --- module helpers -------------------------------------------------------------------


def _seed_status(seed: SeedComment, number: int) -> str:
    """A deterministic mix: spam is spam; other rule breakers pending, trashed or not yet
    seen; every fifth clean comment waits for approval, as a first-time commenter's does."""
    if seed.expected_code == "SPM":
        return "spam"
    if seed.expected_code:
        return ("hold", "trash", "approved")[number % 3]
    return "hold" if number % 5 == 4 else "approved"


def _no_route(request: Request, match: re.Match[str], caller: _Caller) -> Response:
    raise WordPressError(
        404, "rest_no_route", "No route was found matching the URL and request method."
    )


def _headers(request: Request) -> dict[str, str]:
    host = request.headers.get("host", "127.0.0.1")
    return {
        "X-Robots-Tag": "noindex",
        "Link": f'<http://{host}{API}/>; rel="https://api.w.org/"',
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
        "Access-Control-Allow-Headers": (
            "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"
        ),
        "Content-Type": "application/json; charset=UTF-8",
    }


def _invalid(name: str, why: str) -> WordPressError:
    return WordPressError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        {"params": {name: why}},
    )


def _per_page(query: Mapping[str, str]) -> int:
    why = f"per_page must be between 1 (inclusive) and {MAX_PER_PAGE} (inclusive)"
    value = query.get("per_page", str(DEFAULT_PER_PAGE))
    return whole(value, 1, MAX_PER_PAGE, lambda _: _invalid("per_page", why))


def _page(query: Mapping[str, str]) -> int:
    why = "page must be greater than or equal to 1"
    return whole(query.get("page", "1"), 1, math.inf, lambda _: _invalid("page", why))


def _context(query: Mapping[str, str], may_edit: bool, refusal: WordPressError) -> str:
    """The `context` asked for; `edit` is refused with `refusal` unless the caller `may_edit`."""
    context = _enum(query, "context", {"view", "embed", "edit"}, "view")
    if context == "edit" and not may_edit:
        raise refusal
    return context


def _enum(query: Mapping[str, str], name: str, allowed: set[str], default: str) -> str:
    why = f"{name} is not one of {', '.join(sorted(allowed))}."
    return one_of(query.get(name, default), allowed, lambda _: _invalid(name, why))


def _integers(pairs: list[tuple[str, str]], name: str) -> set[int]:
    values: set[int] = set()
    for key, value in pairs:
        if key == name or re.fullmatch(re.escape(name) + r"\[\d*\]", key):
            for part in value.split(","):
                if not part.strip().isdigit():
                    raise _invalid(name, f"{name}[0] is not of type integer.")
                values.add(int(part))
    return values


def _date(query: Mapping[str, str], name: str) -> datetime | None:
    value = query.get(name)
    if value is None:
        return None
    if not _DATE.fullmatch(value):
        raise _invalid(name, "Invalid date.")
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    # Without an offset, WordPress reads the time in the site's time zone.
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=SITE_TIME_ZONE)).astimezone(UTC)


def _status_matches(approved: str, status: str) -> bool:
    """WP_Comment_Query's `status`: 'any' is every status, 'all' approved and pending."""
    if status == "any":
        return True
    if status in ("all", ""):
        return approved in ("0", "1")
    return approved == {"approve": "1", "hold": "0"}.get(status, status)


def _body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            loaded = json.loads(request.body)
        except ValueError:
            raise WordPressError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
        return loaded if isinstance(loaded, dict) else {}
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


def _fields(query: Mapping[str, str], item: dict[str, Any]) -> dict[str, Any]:
    wanted = query.get("_fields")
    if not wanted:
        return item
    names = {name.strip().split(".")[0] for name in wanted.split(",")}
    return {k: v for k, v in item.items() if k in names}


def _without_edit(
    item: dict[str, Any], fields: Iterable[str], with_raw: Iterable[str]
) -> dict[str, Any]:
    """The `view` context: no edit-only fields, no `raw` in rich ones."""
    dropped = set(fields)
    out = {k: v for k, v in item.items() if k not in dropped}
    for name in with_raw:
        if isinstance(out.get(name), dict):
            out[name] = {k: v for k, v in out[name].items() if k != "raw"}
    return out


def _php_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _local(moment: datetime) -> str:
    return moment.astimezone(SITE_TIME_ZONE).strftime("%Y-%m-%dT%H:%M:%S")


def _alnum(password: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", password)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


SANDBOX = WordPressSandbox
