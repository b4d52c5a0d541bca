"""X API v2 as the City's account sees it, under `/x/2/...`.

A site's base URL is the sandbox's URL + `/x`, as a real one is `https://api.x.com`. Covered:
`GET /2/users/{id}/tweets` (the City's posts, `exclude`, `pagination_token`),
`GET /2/tweets/search/recent?query=conversation_id:{id}` (replies, `next_token`,
`start_time`, `expansions=author_id`), `GET /2/tweets/{id}` and `PUT /2/tweets/{id}/hidden`.
Every answer carries `x-rate-limit-limit/-remaining/-reset`, limits are enforced per 15-minute
window, and errors are RFC 7807 problems (or partial `errors[]` in a 200 body, as X sends).

The data are X's own seed (`seed.of("x")`): @HighlandParksIL's posts and every reply in
their conversations, nested as the seed nests them (hostile texts and reason-code ones among
them, an impersonating account too), two answers by the City itself, and one conversation a
resident started (whose replies the City may not hide).
The seven-day reach of recent search is checked on `start_time` only: the seed's times are
fixed, and the sandbox must keep answering after a week.
"""

from __future__ import annotations

import hashlib
import http
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from hsm_sandbox.faults import Fault, FaultKind, generic_response
from hsm_sandbox.paging import Pager
from hsm_sandbox.params import Refuse, bearer, selection, whole
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SeedComment, SeedData, SeedPost
from hsm_sandbox.store import Comment, CommentStore, Key, OneToken, threaded

PREFIX = "/x"
API = PREFIX + "/2"

CITY_USER_ID = "1102323333"
CITY_USERNAME = "HighlandParksIL"
CITY_NAME = "Highland Parks & Recreation"
TWITTER_EPOCH_MS = 1_288_834_974_657  # snowflake ids count milliseconds from here
SEARCH_REACH = timedelta(days=7)
WINDOW_SECONDS = 15 * 60
# Requests per 15-minute window, per user (docs.x.com/fundamentals/rate-limits).
RATE_LIMITS = {"timeline": 900, "search": 60, "lookup": 900, "hide": 50}

PROBLEMS = "https://api.twitter.com/2/problems/"
TWEET_FIELDS = frozenset({
    "article", "attachments", "author_id", "card_uri", "context_annotations",
    "conversation_id", "created_at", "edit_controls", "edit_history_tweet_ids", "entities",
    "geo", "id", "in_reply_to_user_id", "lang", "note_tweet", "possibly_sensitive",
    "public_metrics", "referenced_tweets", "reply_settings", "source", "text", "withheld",
})  # fmt: skip
USER_FIELDS = frozenset({
    "created_at", "description", "entities", "id", "location", "name", "profile_image_url",
    "protected", "public_metrics", "url", "username", "verified",
})  # fmt: skip
EXPANSIONS = frozenset({
    "attachments.media_keys", "author_id", "edit_history_tweet_ids",
    "entities.mentions.username", "in_reply_to_user_id", "referenced_tweets.id",
    "referenced_tweets.id.author_id",
})  # fmt: skip
_DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
_PAGES = Pager(prefix="b26v89c19zqg8o3f", base32=True)

# What the City answered on its own posts (X's seed has no City replies).
_CITY_ANSWERS = (
    "Thanks for asking! Details are on the event page, and staff at the front desk can help "
    "too: 618-654-7511.",
    "Good question. We'll post an update here as soon as the schedule is confirmed.",
)


class XProblem(Exception):
    """Raised inside a handler; becomes an RFC 7807 problem answer."""

    def __init__(
        self, status: int, detail: str, *, title: str = "", type_: str = "about:blank", **more: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.type = status, detail, type_
        self.title = title or http.HTTPStatus(status).phrase
        self.more = more

    def payload(self) -> dict[str, Any]:
        return {
            **self.more,
            "title": self.title,
            "detail": self.detail,
            "type": self.type,
            "status": self.status,
        }


@dataclass(frozen=True)
class XUser:
    id: str
    username: str
    name: str


@dataclass(frozen=True)
class XPost:
    id: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class XReply:
    """A post or reply as seeded or added; as a snapshot (`replies`), its state now."""

    id: str  # the original id: the first of `edit_history_tweet_ids`
    conversation_id: str
    parent_id: str  # the post or reply it answers ("" for a post)
    author_id: str
    text: str  # of the newest version
    created_at: datetime  # of the original
    edited_at: datetime | None
    hidden: bool
    deleted: bool
    expected_code: str | None
    tags: tuple[str, ...]


@dataclass
class _Version:
    id: str
    text: str
    created_at: datetime


@dataclass
class _Tweet(Comment[XReply]):
    """An edit is a new post on X: `created` and `text` are those of the newest version."""

    versions: list[_Version] = field(default_factory=list)  # oldest first
    in_reply_to_user_id: str | None = None

    @property
    def latest(self) -> _Version:
        return self.versions[-1]

    @property
    def key(self) -> Key:
        return (self.created.timestamp(), self.latest.id)

    def snapshot(self) -> XReply:
        edited = self.created if len(self.versions) > 1 else None
        return replace(
            self.seed, text=self.text, edited_at=edited, hidden=self.hidden, deleted=self.deleted
        )


class XSandbox(CommentStore[_Tweet, XProblem], OneToken):
    """The X part of the sandbox: its state, routes, rate limits and fault shapes."""

    error_type = XProblem

    def __init__(self, seed: SeedData) -> None:
        super().__init__()
        self._seed = seed.of("x")
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        router.add("GET", API + r"/users/(?P<id>[^/]+)/tweets", self._route(self._list_posts), self)
        router.add("GET", API + r"/users/(?P<id>[^/]+)", self._route(self._user), self)
        router.add("GET", API + "/tweets/search/recent", self._route(self._list_replies), self)
        router.add("GET", API + r"/tweets/(?P<id>[^/]+)", self._route(self._read), self)
        router.add(
            "PUT", API + r"/tweets/(?P<id>[^/]+)/hidden", self._route(self._set_hidden), self
        )

    def reset(self) -> None:
        with self._lock:
            built = _Builder(self._seed)
            self._users = built.users
            self._load(built.tweets)
            self._post_ids = built.post_ids
            self.foreign_reply_id = built.foreign_reply_id
            self._sequence = built.sequence
            self.token = self._seed.pages[0].token if self._seed.pages else ""
            # The City account's `description`, `url` and `entities`; tests change them here.
            self.profile = dict(self._seed.pages[0].profile) if self._seed.pages else {}
            self._suspended: set[str] = set()  # users X leaves out of `includes`
            self.limits = dict(RATE_LIMITS)
            self._windows: dict[str, tuple[int, int]] = {}  # family -> (reset epoch, used)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        with self._lock:
            headers = self._rate_headers(_family(request))
            if fault.kind in (FaultKind.TOO_MANY_REQUESTS, FaultKind.RATE_LIMIT):
                reset = int(time.time() + fault.seconds)
                headers.update({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
                if fault.kind is FaultKind.TOO_MANY_REQUESTS:
                    headers["Retry-After"] = f"{fault.seconds:g}"
                if fault.code == 88:  # the v1.1-style body X's rate-limit page still shows
                    body: dict[str, Any] = {
                        "errors": [{"code": 88, "message": "Rate limit exceeded"}]
                    }
                    return Response.json(fault.status or 429, body, headers)
                problem = XProblem(fault.status or 429, "Too Many Requests")
            elif fault.kind is FaultKind.SERVER_ERROR:
                status = fault.status or 503
                problem = XProblem(status, http.HTTPStatus(status).phrase)
            elif fault.kind is FaultKind.REVOKED_TOKEN:
                problem = _unauthorized()
            elif fault.kind is FaultKind.PERMISSION:
                problem = XProblem(
                    fault.status or 403,
                    "When authenticating requests to the Twitter API v2 endpoints, you must "
                    "use keys and tokens from a Twitter developer App that is attached to a "
                    "Project.",
                    title="Client Forbidden",
                    type_=PROBLEMS + "client-forbidden",
                    reason="client-not-enrolled",
                    required_enrollment="Appropriate Level of API Access",
                    registration_url="https://developer.x.com/en/portal/product",
                )
            else:
                generic = generic_response(fault)
                if generic is None:
                    raise ValueError(f"no X shape for fault {fault.kind}")
                generic.headers.update(headers)
                return generic
            return Response.json(problem.status, problem.payload(), headers)

    # --- helpers for tests and the demo ----------------------------------------------

    @property
    def posts(self) -> tuple[XPost, ...]:
        """The City's posts, newest first."""
        with self._lock:
            found = [self._by_id[i] for i in self._post_ids]
            return tuple(
                XPost(t.id, t.text, t.seed.created_at)
                for t in sorted(found, key=lambda t: t.key, reverse=True)
            )

    def replies(self, post_id: str | None = None) -> list[XReply]:
        """Replies in the City's conversations (deleted ones too), oldest first."""
        with self._lock:
            conversations = {post_id} if post_id else set(self._post_ids)
            return sorted(
                (
                    t.snapshot()
                    for t in self._comments
                    if t.post_id in conversations and t.parent_id is not None
                ),
                key=lambda r: (r.created_at, r.id),
            )

    def user(self, user_id: str) -> XUser:
        with self._lock:
            return self._users[user_id]

    def edit_comment(
        self, comment_id: str | int, new_text: str, *, at: datetime | None = None
    ) -> str:
        """Edit a reply as its author would: a new version with its own id, which is returned."""
        with self._lock:
            tweet = self._by_id[str(comment_id)]
            when = self._edited_time(tweet, at)
            version = _Version(self._next_id(when), new_text, when)
            tweet.versions.append(version)
            tweet.created, tweet.text = when, new_text
            self._by_id[version.id] = tweet
            return version.id

    def add_comment(
        self,
        post_id: str,
        text: str,
        *,
        parent_id: str | None = None,
        author_name: str = "Sandbox Tester",
        created_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
        raw_text: bytes | None = None,
        author_unknown: bool = False,
    ) -> str:
        """Add a reply to a post (or to another reply, `parent_id`) and return its id.

        `extra` adds or overwrites payload fields (wrong types, unknown fields), `omit` drops
        some (a missing `text` or `author_id`), `author_unknown` leaves the author's account
        out of `includes` from now on, with a partial error, as X does for suspended accounts
        (so give such a reply its own `author_name`), and `raw_text`
        replaces the text in the JSON with these bytes exactly (invalid UTF-8; they must
        contain no `"` or backslash).
        """
        with self._lock:
            root = self._by_id[post_id]
            parent = self._by_id[parent_id] if parent_id else root
            author = _user_for(author_name, self._users)
            when = self._added_time(created_at, timedelta(seconds=1))
            tweet_id = self._next_id(when)
            if author_unknown:
                self._suspended.add(author.id)
            if raw_text is not None:
                text = self._raw_text(tweet_id, raw_text)
            self._add(_new_tweet(tweet_id, author.id, text, when, parent), extra, omit)
            return tweet_id

    # --- state --------------------------------------------------------------------------

    def _add(
        self, comment: _Tweet, extra: dict[str, Any] | None = None, omit: Iterable[str] = ()
    ) -> None:
        super()._add(comment, extra, omit)
        for version in comment.versions:  # any version's id finds the post
            self._by_id[version.id] = comment

    def _delete(self, comment: _Tweet) -> None:
        comment.deleted = True  # replies to it stay, as on X

    # --- handlers ---------------------------------------------------------------------

    def _list_posts(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        query, user_id = request.query, match["id"]
        _check_id(user_id, "id")
        asked = _asked(query)
        excluded = _fields(query, "exclude", frozenset({"replies", "retweets"}))
        if user_id not in self._users:
            return {"errors": [_not_found("user", user_id, "id")]}
        tweets = sorted(
            (
                t
                for t in self._comments
                if t.seed.author_id == user_id
                and not t.deleted
                and not ("replies" in excluded and t.parent_id is not None)
            ),
            key=lambda t: t.key,
            reverse=True,
        )
        size = _max_results(query, 5, 100, 10)
        return self._listing(tweets, query, "pagination_token", size, asked)

    def _user(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        """GET /2/users/{id}: the user by id, with the `user.fields` asked for."""
        user_id = match["id"]
        _check_id(user_id, "id")
        asked = _asked(request.query)
        if user_id in self._suspended or user_id not in self._users:
            return {"errors": [_not_found("user", user_id, "id")]}
        user = self._users[user_id]
        full = {"id": user.id, "name": user.name, "username": user.username}
        if user_id == CITY_USER_ID:
            full.update(self.profile)
        return {
            "data": {
                k: v for k, v in full.items() if k in asked.user_fields | {"id", "name", "username"}
            }
        }

    def _list_replies(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        query = request.query
        raw_query = query.get("query", "")
        found = re.fullmatch(r"\s*conversation_id:(\d+)\s*", raw_query)
        if found is None:
            raise _invalid(
                "query",
                raw_query,
                "The sandbox understands only queries of the form conversation_id:<id>.",
            )
        asked = _asked(query)
        size = _max_results(query, 10, 100, 10)
        start = _moment(query, "start_time")
        end = _moment(query, "end_time")
        earliest = datetime.now(UTC) - SEARCH_REACH
        if start is not None and start < earliest:
            raise _invalid(
                "start_time",
                query["start_time"],
                f"Invalid 'start_time':'{query['start_time']}'. 'start_time' must be on or "
                f"after {earliest.strftime('%Y-%m-%dT%H:%MZ')}",
            )
        since_id = query.get("since_id")
        conversation = found.group(1)
        replies = sorted(
            (
                t
                for t in self._comments
                if t.post_id == conversation
                and t.parent_id is not None
                and not t.deleted
                and (start is None or t.created >= start)
                and (end is None or t.created < end)
                and (not since_id or int(t.latest.id) > int(since_id))
            ),
            key=lambda t: t.key,
            reverse=True,  # recent search answers newest first
        )
        return self._listing(replies, query, "next_token", size, asked)

    def _read(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        query, tweet_id = request.query, match["id"]
        _check_id(tweet_id, "id")
        asked = _asked(query)
        tweet = self._live(tweet_id)
        if tweet is None:
            return {"errors": [_not_found("tweet", tweet_id, "id")]}
        version = next(v for v in tweet.versions if v.id == tweet_id)
        answer: dict[str, Any] = {"data": self._tweet_json(tweet, asked.fields, version)}
        answer.update(self._includes([tweet], asked))
        return answer

    def _set_hidden(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        tweet_id = match["id"]
        _check_id(tweet_id, "tweet_id")
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("hidden"), bool):
            raise _invalid_request({"message": 'The body must be JSON: {"hidden": true|false}'})
        tweet = self._live(tweet_id)
        if tweet is None:
            raise XProblem(
                404,
                f"Could not find tweet with id: [{tweet_id}].",
                title="Not Found Error",
                type_=PROBLEMS + "resource-not-found",
                resource_type="tweet",
                parameter="id",
                value=tweet_id,
            )
        root = self._by_id.get(tweet.post_id)
        if tweet.parent_id is None or root is None or root.seed.author_id != CITY_USER_ID:
            raise XProblem(
                403,
                "You can only hide or unhide replies to conversations you authored.",
            )
        tweet.hidden = body["hidden"]
        return {"data": {"hidden": tweet.hidden}}

    # --- state and rendering ------------------------------------------------------------

    def _listing(
        self, tweets: list[_Tweet], query: dict[str, str], token_name: str, size: int, asked: _Asked
    ) -> dict[str, Any]:
        """One page of `tweets` (newest first), paged by the parameter `token_name`."""
        window, next_token = _PAGES.page(
            [(t.key, t) for t in tweets],
            query.get(token_name),
            size,
            newest_first=True,
            invalid=_bad_value(token_name, "is not valid"),
        )
        answer: dict[str, Any] = {}
        if window:
            answer["data"] = [self._tweet_json(t, asked.fields) for t in window]
            answer.update(self._includes(window, asked))
        meta: dict[str, Any] = {"result_count": len(window)}
        if window:
            meta.update(newest_id=window[0].latest.id, oldest_id=window[-1].latest.id)
        if next_token:
            meta["next_token"] = next_token
        answer["meta"] = meta
        return answer

    def _includes(self, tweets: Sequence[_Tweet], asked: _Asked) -> dict[str, Any]:
        if "author_id" not in asked.expansions:
            return {}
        users: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        for author_id in (t.seed.author_id for t in tweets):
            if author_id in users:
                continue
            if author_id in self._suspended or author_id not in self._users:
                errors.append(_not_found("user", author_id, "author_id"))
                continue
            user = self._users[author_id]
            full = {"id": user.id, "name": user.name, "username": user.username}
            users[user.id] = {
                k: v for k, v in full.items() if k in asked.user_fields | {"id", "name", "username"}
            }
        answer: dict[str, Any] = {"includes": {"users": list(users.values())}} if users else {}
        if errors:
            answer["errors"] = errors
        return answer

    def _tweet_json(
        self, tweet: _Tweet, fields: set[str], version: _Version | None = None
    ) -> dict[str, Any]:
        shown = version or tweet.latest
        full: dict[str, Any] = {
            "id": shown.id,
            "text": shown.text,
            "edit_history_tweet_ids": [v.id for v in tweet.versions],
            "author_id": tweet.seed.author_id,
            "created_at": _x_time(shown.created_at),
            "conversation_id": tweet.post_id,
            "lang": "en",
            "reply_settings": "everyone",
            "possibly_sensitive": False,
        }
        if tweet.parent_id is not None:
            full["in_reply_to_user_id"] = tweet.in_reply_to_user_id
            full["referenced_tweets"] = [{"type": "replied_to", "id": tweet.parent_id}]
        return tweet.injected(
            {k: v for k, v in full.items() if k in fields or k in _DEFAULT_FIELDS}
        )

    # --- answering (the CommentStore hooks) ---------------------------------------------

    def _admit(self, request: Request) -> None:
        """Check the token, then count the request against its family's window."""
        if not self.accepts(bearer(request)):
            raise _unauthorized()
        if not self._count(_family(request)):
            raise XProblem(429, "Too Many Requests")

    def _ok_response(self, request: Request, payload: dict[str, Any]) -> Response:
        return self._json(200, payload, self._rate_headers(_family(request)))

    def _error_response(self, request: Request, error: XProblem) -> Response:
        return Response.json(error.status, error.payload(), self._rate_headers(_family(request)))

    def _count(self, family: str) -> bool:
        """Count one request against its 15-minute window; False once the window is spent."""
        now = time.time()
        reset, used = self._windows.get(family, (0, 0))
        if now >= reset:
            reset, used = int(now) + WINDOW_SECONDS, 0
        if used >= self.limits[family]:
            self._windows[family] = (reset, used)
            return False
        self._windows[family] = (reset, used + 1)
        return True

    def _rate_headers(self, family: str) -> dict[str, str]:
        limit = self.limits[family]
        reset, used = self._windows.get(family, (int(time.time()) + WINDOW_SECONDS, 0))
        if time.time() >= reset:
            reset, used = int(time.time()) + WINDOW_SECONDS, 0
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - used)),
            "x-rate-limit-reset": str(reset),
        }

    def _next_id(self, moment: datetime) -> str:
        self._sequence += 1
        return snowflake(moment, self._sequence)


# --- seed ---------------------------------------------------------------------------------


class _Builder:
    """The account's posts and every seeded reply, then the City's answers and a resident's
    conversation."""

    def __init__(self, seed: SeedData) -> None:
        self.sequence = 0
        self.city = XUser(CITY_USER_ID, CITY_USERNAME, CITY_NAME)
        self.users: dict[str, XUser] = {self.city.id: self.city}
        self.tweets: list[_Tweet] = []
        posts = sorted(seed.posts, key=lambda p: p.created_time)
        roots = {post.id: self._post(post) for post in posts}  # seed id -> its tweet

        def reply(comment: SeedComment, parent: _Tweet | None) -> _Tweet:  # top-level: to the post
            author = _user_for(comment.author_name, self.users)
            parent = parent or roots[comment.post_id]
            return self._tweet(author, comment.message, comment.created_time, parent, comment)

        threaded(seed.comments, reply)
        for root, answer in zip(roots.values(), _CITY_ANSWERS, strict=False):
            self._city_answer(root, answer)
        self.post_ids = [root.id for root in roots.values()]
        self.foreign_reply_id = self._foreign_reply()

    def _post(self, post: SeedPost) -> _Tweet:
        text = post.message if len(post.message) <= 280 else post.message[:279] + "…"
        return self._tweet(self.city, text, post.created_time, None)

    def _city_answer(self, root: _Tweet, text: str) -> None:
        question = next(
            (
                t
                for t in self.tweets
                if t.post_id == root.id and t.parent_id == root.id and "?" in t.text
            ),
            None,
        )
        if question is not None:
            when = question.created + timedelta(minutes=20)
            self._tweet(self.city, text, when, question)

    def _foreign_reply(self) -> str:
        """A reply in a conversation a resident started: the City may not hide it."""
        when = max(t.created for t in self.tweets) if self.tweets else _EPOCH_2026
        resident = _user_for("Highland Neighbors", self.users)
        post = self._tweet(resident, "Who else is going to the Silver Lake meeting?", when, None)
        reply = self._tweet(
            _user_for("Dana Whitfield", self.users),
            "I am, see you there.",
            when + timedelta(minutes=5),
            post,
        )
        return reply.id

    def _tweet(
        self,
        author: XUser,
        text: str,
        when: datetime,
        parent: _Tweet | None,
        source: SeedComment | None = None,
    ) -> _Tweet:
        self.sequence += 1
        tweet_id = snowflake(when, self.sequence)
        tweet = _new_tweet(tweet_id, author.id, text, when.astimezone(UTC), parent, source)
        self.tweets.append(tweet)
        return tweet


_EPOCH_2026 = datetime(2026, 1, 1, tzinfo=UTC)


def _new_tweet(
    tweet_id: str,
    author_id: str,
    text: str,
    when: datetime,
    parent: _Tweet | None,
    source: SeedComment | None = None,
) -> _Tweet:
    """A post (no `parent`) or a reply; `source` is the seed comment it was made from."""
    conversation = parent.post_id if parent else tweet_id
    record = XReply(
        tweet_id, conversation, parent.id if parent else "", author_id, text, when, None,
        False, False, source.expected_code if source else None, source.tags if source else (),
    )  # fmt: skip
    return _Tweet(
        record, tweet_id, conversation, parent.id if parent else None, when, text,
        versions=[_Version(tweet_id, text, when)],
        in_reply_to_user_id=parent.seed.author_id if parent else None,
    )  # fmt: skip


def _user_for(name: str, users: dict[str, XUser]) -> XUser:
    """The account called `name` in `users`, added if it is new there."""
    digest = hashlib.sha256(f"x-user:{name}".encode()).hexdigest()
    user_id = str(10**17 + int(digest[:15], 16) % (9 * 10**17))
    handle = re.sub(r"[^A-Za-z0-9_]", "", name)[:15] or "user"
    # A seed author written as a handle ("@bwaymike") shows as its name without the "@".
    return users.setdefault(user_id, XUser(user_id, handle, name.removeprefix("@")))


def snowflake(moment: datetime, sequence: int) -> str:
    """An X id for a moment: milliseconds since X's epoch, shifted 22 bits, plus a counter."""
    millis = int(moment.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((millis << 22) | (sequence & 0x3FFFFF))


# --- request parameters and answers -------------------------------------------------------


def _family(request: Request) -> str:
    """Which rate-limit window a request counts against."""
    if request.path.endswith("/hidden"):
        return "hide"
    if request.path.endswith("/search/recent"):
        return "search"
    if re.fullmatch(API + r"/users/[^/]+/tweets", request.path):
        return "timeline"
    return "lookup"


def _unauthorized() -> XProblem:
    return XProblem(401, "Unauthorized")


def _invalid(parameter: str, value: str, message: str) -> XProblem:
    return _invalid_request({"parameters": {parameter: [value]}, "message": message})


def _invalid_request(error: dict[str, Any]) -> XProblem:
    return XProblem(
        400,
        "One or more parameters to your request was invalid.",
        title="Invalid Request",
        type_=PROBLEMS + "invalid-request",
        errors=[error],
    )


def _not_found(resource: str, value: str, parameter: str) -> dict[str, Any]:
    return {
        "value": value,
        "detail": f"Could not find {resource} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEMS + "resource-not-found",
    }


def _bad_value(parameter: str, problem: str) -> Refuse:
    """The refusal of a value of `parameter`, saying what is wrong with it."""
    return lambda value: _invalid(
        parameter, value, f"The `{parameter}` query parameter value [{value}] {problem}"
    )


def _check_id(value: str, parameter: str) -> None:
    if not value.isdigit() or len(value) > 19:
        raise _bad_value(parameter, "does not match ^[0-9]{1,19}$")(value)


class _Asked(NamedTuple):
    """What a request selects of tweets, of its expansions and of users."""

    fields: set[str]
    expansions: set[str]
    user_fields: set[str]


def _asked(query: dict[str, str]) -> _Asked:
    return _Asked(
        _fields(query, "tweet.fields", TWEET_FIELDS),
        _fields(query, "expansions", EXPANSIONS),
        _fields(query, "user.fields", USER_FIELDS),
    )


def _fields(query: dict[str, str], name: str, known: frozenset[str]) -> set[str]:
    return selection(
        query.get(name), known, _bad_value(name, f"is not one of [{','.join(sorted(known))}]")
    )


def _max_results(query: dict[str, str], low: int, high: int, default: int) -> int:
    refuse = _bad_value("max_results", f"is not between {low} and {high}")
    return whole(query.get("max_results", str(default)), low, high, refuse)


def _moment(query: dict[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid(name, raw, f"Invalid '{name}':'{raw}'. It must be RFC 3339.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _x_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# server.py's registry (platforms.py) builds the sandbox from this name.
SANDBOX = XSandbox

__all__ = [
    "API",
    "CITY_USERNAME",
    "CITY_USER_ID",
    "PREFIX",
    "SANDBOX",
    "XPost",
    "XReply",
    "XSandbox",
    "XUser",
    "snowflake",
]
