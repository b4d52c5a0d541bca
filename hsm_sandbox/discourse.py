"""A Discourse forum as its REST API answers an admin API key, under `/discourse`.

Covered: the category's topic list (`GET /c/{slug}/{id}.json`, also `/c/{slug}.json` and
`/c/{id}.json`; `page`, `per_page`, `order=created`), a topic's posts
(`GET /t/{id}/posts.json` with `post_number` + `asc=true`, chunks of `chunk_size` posts,
`include_raw`), one post (`GET /posts/{id}.json`, `GET /posts/by_number/{topic}/{n}.json`),
flags (`POST /post_actions`; a staff flag with `take_action` hides the post),
`PUT /posts/{id}/unhide`, `DELETE /posts/{id}` (soft), `PUT /posts/{id}/recover`, and a
member's suspension (`PUT /admin/users/{id}/suspend` with `suspend_until` and `reason`,
`PUT /admin/users/{id}/unsuspend`).
Keys go in `Api-Key` / `Api-Username` headers; errors have Discourse's shape
(`{"errors": [...], "error_type": ...}`), rate limits add `Retry-After` and `extras.wait_seconds`.

One category, "city-services" (id 5): the forum's own seed (`seed-discourse.json`), each seed
post a topic opened by the City (titled by its first sentence) and each comment a post in it
(hostile texts and posts breaking the policy included), plus one answer from the City.
Staff see deleted posts; others do not.
Acting on a deleted post (other than recovering it) answers 404, as if it were gone.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from hsm_sandbox.faults import Fault, FaultKind
from hsm_sandbox.params import whole
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SANDBOX_TOKEN, SeedComment, SeedData, SeedPost
from hsm_sandbox.store import Comment, CommentStore, OneToken, threaded

PREFIX = "/discourse"
CATEGORY_ID = 5
CATEGORY_SLUG = "city-services"
CHUNK_SIZE = 20  # Discourse's TopicView chunk size: posts per /t/{id}/posts.json answer
DEFAULT_PER_PAGE = 30
CITY_USERNAME = "highland_city"
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
FLAG_TYPES = {3: "off_topic", 4: "inappropriate", 7: "notify_moderators", 8: "spam"}

# (topic slot, index of the reply answered, text): the City answers in the first topic.
_CITY_REPLY = (
    0,
    2,
    "Snow emergencies go out by text alert, on highlandil.gov and on WHND radio. Text alerts "
    "are the fastest: sign up at highlandil.gov/alerts.",
)

NOT_FOUND = "The requested URL or resource could not be found."
INVALID_ACCESS = "You are not permitted to view the requested resource."
INVALID_KEY = (
    "You are not permitted to view the requested resource. The API username or key is invalid."
)


class DiscourseError(Exception):
    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        extras: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message
        self.extras = extras
        self.headers = headers or {}


@dataclass(frozen=True)
class _User:
    id: int
    username: str
    name: str | None
    staff: bool = False
    trust_level: int = 1


@dataclass
class _Topic:
    id: int
    title: str
    slug: str
    created: datetime
    deleted: bool = False


@dataclass(frozen=True)
class SandboxPost:
    """What a test needs to know about one post."""

    id: str
    topic_id: str
    number: int
    parent_id: str | None  # the post replied to (None: the topic itself)
    username: str
    raw: str
    seed: SeedComment | None


@dataclass(frozen=True)
class _Record:
    """A post as written: `Comment.id` is its id, `post_id` its topic's."""

    topic: _Topic
    number: int
    user: _User
    reply_to: int | None  # the number of the post answered
    seed: SeedComment | None = None
    upload: str | None = None  # path of an uploaded image shown in the post


@dataclass
class _Post(Comment[_Record]):
    updated: datetime | None = None
    version: int = 1
    deleted_at: datetime | None = None  # `deleted` follows it
    deleted_by: _User | None = None
    user_deleted: bool = False
    flags: list[tuple[str, int]] = field(default_factory=list)  # (username, type)

    def mark_deleted(self, when: datetime | None, by: _User | None, *, own: bool = False) -> None:
        self.deleted_at, self.deleted_by, self.user_deleted = when, by, own
        self.deleted = when is not None


class DiscourseSandbox(CommentStore[_Post, DiscourseError], OneToken):
    """The Discourse part of the sandbox: its state, routes and fault shapes."""

    error_type = DiscourseError
    text_field = "raw"
    json_headers = JSON_HEADERS
    json_utf8 = True
    empty = (200, {"Content-Type": "text/plain; charset=utf-8"})  # Discourse's `render body: nil`

    def __init__(self, seed: SeedData) -> None:
        super().__init__()
        self._seed = seed.of("discourse")
        self.chunk_size = CHUNK_SIZE  # tests lower it to page through small topics
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        post, dot_json = PREFIX + r"/posts/(?P<id>\d+)", r"(?:\.json)?"  # where `.json` may go
        by_number = PREFIX + r"/posts/by_number/(?P<topic>\d+)/(?P<n>\d+)" + dot_json
        topic_posts = PREFIX + r"/t/(?P<topic>\d+)/posts\.json"
        router.add("GET", PREFIX + r"/site/basic-info\.json", self._route(self._basic_info), self)
        router.add("GET", PREFIX + r"/c/(?P<path>.+)\.json", self._route(self._category), self)
        router.add("GET", topic_posts, self._route(self._topic_posts), self)
        router.add("GET", by_number, self._route(self._by_number), self)
        router.add("GET", post + r"\.json", self._route(self._show), self)
        router.add("POST", PREFIX + "/post_actions" + dot_json, self._route(self._flag), self)
        router.add("PUT", post + "/unhide" + dot_json, self._route(self._unhide), self)
        router.add("PUT", post + "/recover" + dot_json, self._route(self._recover), self)
        router.add("DELETE", post + dot_json, self._route(self._destroy), self)
        user = PREFIX + r"/admin/users/(?P<user>-?\d+)"
        router.add("PUT", user + "/suspend" + dot_json, self._route(self._suspend), self)
        router.add("PUT", user + "/unsuspend" + dot_json, self._route(self._unsuspend), self)

    def _basic_info(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        """GET /site/basic-info.json: the site's title, description and look."""
        return {
            "logo_url": "/images/discourse-logo-sketch.png",
            "title": self._seed.pages[0].name if self._seed.pages else "",
            "description": self.profile.get("description", ""),
            "header_primary_color": "333333",
            "header_background_color": "ffffff",
            "login_required": False,
            "locale": "en",
            "include_in_discourse_discover": False,
        }

    def reset(self) -> None:
        with self._lock:
            self.token = SANDBOX_TOKEN
            # The site's `description` setting; tests change it here.
            self.profile = dict(self._seed.pages[0].profile) if self._seed.pages else {}
            self._users: dict[str, _User] = {}
            self._add_user(_User(-1, "system", "system", staff=True, trust_level=4))
            self._user = self._users["system"]  # the API user of the request being answered
            self._add_user(_User(2, CITY_USERNAME, "City of Highland", staff=True, trust_level=4))
            self._add_user(_User(3, "resident_reader", "Resident Reader", trust_level=1))
            self._topics: list[_Topic] = []
            self._load(())
            self._next_post_id = 4001
            self._next_user_id = 100
            self._suspended: dict[int, tuple[datetime, str]] = {}  # user id -> (till, reason)
            for slot, seed_post in enumerate(self._seed.posts):
                self._add_seed_topic(301 + slot, seed_post)
            slot, answered, text = _CITY_REPLY
            topic = self._topics[slot]
            parent = [p for p in self._posts_of(topic) if p.seed.number > 1][answered]
            city, when = self._users[CITY_USERNAME], parent.created + timedelta(minutes=38)
            self._add_post(topic, city, text, when, parent)

    def _fault_error(self, fault: Fault) -> DiscourseError:
        if fault.kind is FaultKind.RATE_LIMIT:
            return _rate_limited(int(fault.seconds) or 60, fault.status or 429)
        if fault.kind is FaultKind.REVOKED_TOKEN:
            return DiscourseError(fault.status or 403, "invalid_access", INVALID_KEY)
        if fault.kind is FaultKind.PERMISSION:
            return DiscourseError(fault.status or 403, "invalid_access", INVALID_ACCESS)
        raise ValueError(f"no Discourse shape for fault {fault.kind}")

    # --- helpers for tests and the demo ----------------------------------------------

    def topic_ids(self) -> list[str]:
        """The category's topics, newest first (the order of `order=created`)."""
        with self._lock:
            return [str(t.id) for t in self._listed_topics()]

    def posts(self, topic_id: str, *, deleted: bool = False) -> list[SandboxPost]:
        """The topic's replies (post #1 left out) in post-number order."""
        with self._lock:
            return [
                self._view(p)
                for p in self._posts_of(self._topic(int(topic_id)))
                if p.seed.number > 1 and (deleted or not p.deleted)
            ]

    def flags(self, post_id: str) -> list[tuple[str, int]]:
        """(username, post_action_type_id) of every flag on the post."""
        with self._lock:
            return list(self._by_id[post_id].flags)

    def delete_comment(self, comment_id: str | int) -> None:
        """The author deletes their post (after Discourse's grace period: soft-deleted)."""
        with self._lock:
            post = self._by_id[str(comment_id)]
            post.mark_deleted(_later(post), post.seed.user, own=True)

    def purge_comment(self, post_id: str) -> None:
        """Remove a post for good (an administrator's permanent delete): 404 from then on."""
        with self._lock:
            self._comments.remove(self._by_id.pop(post_id))

    def add_comment(
        self,
        topic_id: str,
        raw: str,
        *,
        username: str = "sandbox_tester",
        reply_to: str | None = None,
        created: datetime | None = None,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
        raw_bytes: bytes | None = None,
    ) -> str:
        """Add a post and return its id. `reply_to` is the id of the post answered; `extra`
        adds or overwrites raw payload fields (wrong types, unknown fields); `omit` drops
        fields (a missing `username` or `raw`); `raw_bytes` replaces the text with raw bytes in
        the JSON (e.g. invalid UTF-8; they must need no JSON escaping)."""
        with self._lock:
            if raw_bytes is not None:
                raw = self._raw_text(str(self._next_post_id), raw_bytes)
            return self._add_post(
                self._topic(int(topic_id)),
                self._user_named(username, username.replace("_", " ").title()),
                raw,
                self._added_time(created, timedelta(minutes=1)),
                self._by_id[reply_to] if reply_to else None,
                extra=extra,
                omit=omit,
            ).id

    def edit_comment(
        self, comment_id: str | int, new_text: str, when: datetime | None = None
    ) -> None:
        """The author edits the post (after the grace period): a new version."""
        with self._lock:
            post = self._by_id[str(comment_id)]
            post.text, post.version = new_text, post.version + 1
            post.updated = (when or post.created + timedelta(hours=2)).astimezone(UTC)

    # --- handlers ---------------------------------------------------------------------

    def _category(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        # /c/{slug}/{id}.json, or the slug or the id alone.
        if match["path"] not in (CATEGORY_SLUG, str(CATEGORY_ID), f"{CATEGORY_SLUG}/{CATEGORY_ID}"):
            raise _not_found()
        page = _number(request, "page", 0)
        per_page = max(1, min(_number(request, "per_page", DEFAULT_PER_PAGE), 100))
        topics = self._listed_topics(request.query.get("order", "activity"))
        window = topics[page * per_page : (page + 1) * per_page]
        topic_list: dict[str, Any] = {
            "can_create_topic": True,
            "per_page": per_page,
            "top_tags": [],
            "topics": [self._topic_json(t) for t in window],
        }
        if (page + 1) * per_page < len(topics):
            query = {k: v for k, v in request.query.items() if k != "page"}
            more = "&".join(f"{k}={v}" for k, v in {**query, "page": page + 1}.items())
            topic_list["more_topics_url"] = (
                f"{PREFIX}/c/{CATEGORY_SLUG}/{CATEGORY_ID}/l/latest?{more}"
            )
        posters = {p.seed.user.id: p.seed.user for t in window for p in self._posts_of(t)}
        return {
            "users": [_user_json(u) for u in posters.values()],
            "primary_groups": [],
            "flair_groups": [],
            "topic_list": topic_list,
        }

    def _topic_posts(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        topic = self._visible_topic(int(match["topic"]))
        posts = [p for p in self._posts_of(topic) if self._can_see(p)]
        ids = [v for k, v in parse_qsl(request.query_string) if k in ("post_ids[]", "post_ids")]
        if ids:
            chosen = [p for p in posts if p.id in ids]
        else:
            after = _number(request, "post_number", 0)
            ascending = request.query.get("asc", "").lower() == "true"
            if ascending:
                chosen = [p for p in posts if p.seed.number > after][: self.chunk_size]
            elif after:
                chosen = [p for p in posts if p.seed.number < after][-self.chunk_size :]
            else:
                chosen = posts[: self.chunk_size]
        include_raw = "include_raw" in request.query
        return {
            "post_stream": {"posts": [self._post_json(p, raw=include_raw) for p in chosen]},
            "id": topic.id,
        }

    def _by_number(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        topic = self._visible_topic(int(match["topic"]))
        number = int(match["n"])
        for post in self._posts_of(topic):
            if post.seed.number == number and self._can_see(post):
                return self._post_json(post, raw=True)
        raise _not_found()

    def _show(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        return self._post_json(self._seen(match["id"]), raw=True)

    def _flag(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        form = request.form()
        for name in ("id", "post_action_type_id"):
            if not form.get(name):
                raise DiscourseError(
                    400, "invalid_parameters", f"param is missing or the value is empty: {name}"
                )
        if not form["id"].isdigit():
            raise _not_found()
        kind = int(form["post_action_type_id"]) if form["post_action_type_id"].isdigit() else 0
        if kind not in FLAG_TYPES:
            raise DiscourseError(400, "invalid_parameters", "post_action_type_id is invalid")
        post = self._acted_on(form["id"])
        post.flags.append((self._user.username, kind))
        if self._user.staff and form.get("take_action") == "true":
            post.hidden = True
        return self._post_json(post, raw=False)

    def suspension(self, user_id: int) -> tuple[datetime, str] | None:
        """(till, reason) of a member's suspension still running, None when there is none."""
        with self._lock:
            found = self._suspended.get(user_id)
            return found if found is not None and found[0] > datetime.now(UTC) else None

    def _suspend(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        """PUT /admin/users/{id}/suspend: `suspend_until` and `reason` are required."""
        self._require_staff()
        user = self._member(int(match["user"]))
        till_text, reason = _required(request, "suspend_until"), _required(request, "reason")
        try:
            till = datetime.fromisoformat(till_text.replace("Z", "+00:00"))
        except ValueError:
            raise DiscourseError(400, "invalid_parameters", "suspend_until is invalid") from None
        if till.tzinfo is None:
            till = till.replace(tzinfo=UTC)
        if user.staff:
            raise DiscourseError(403, "invalid_access", INVALID_ACCESS)  # staff are not suspended
        if self.suspension(user.id) is not None:
            raise DiscourseError(409, "conflict", f"{user.username} is already suspended.")
        now = datetime.now(UTC).replace(microsecond=0)
        self._suspended[user.id] = (till, reason)
        by = {"id": self._user.id, "username": self._user.username}
        return {"suspension": {"suspend_reason": reason, "full_suspend_reason": reason,
                               "suspended_till": till.isoformat(), "suspended_at": now.isoformat(),
                               "suspended_by": by}}  # fmt: skip

    def _unsuspend(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        self._require_staff()
        user = self._member(int(match["user"]))
        self._suspended.pop(user.id, None)
        return {"suspension": {"suspended_till": None, "suspended_at": None}}

    def _member(self, user_id: int) -> _User:
        user = next((u for u in self._users.values() if u.id == user_id), None)
        if user is None:
            raise _not_found()
        return user

    def _unhide(self, request: Request, match: re.Match[str]) -> None:
        post = self._acted_on(match["id"])
        self._require_staff()
        post.hidden = False

    def _destroy(self, request: Request, match: re.Match[str]) -> None:
        post = self._acted_on(match["id"])
        if not self._user.staff and post.seed.user is not self._user:
            raise DiscourseError(403, "invalid_access", INVALID_ACCESS)
        post.mark_deleted(datetime.now(UTC).replace(microsecond=0), self._user)
        if post.seed.number == 1:  # deleting post #1 deletes the topic
            post.seed.topic.deleted = True

    def _recover(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        post = self._seen(match["id"])
        self._require_staff()
        if post.deleted_at is None:
            raise DiscourseError(403, "invalid_access", INVALID_ACCESS)  # nothing to recover
        post.mark_deleted(None, None)
        post.seed.topic.deleted = False
        return self._post_json(post, raw=True)

    # --- answering (the CommentStore hooks) and checks ----------------------------------

    def _admit(self, request: Request) -> None:
        """Authenticate: the API user answered for is kept until the next request."""
        key = request.headers.get("api-key", "")
        user = self._users.get(request.headers.get("api-username", "").lower())
        if key != self.token or user is None:
            raise DiscourseError(403, "invalid_access", INVALID_KEY)
        self._user = user

    def _error_response(self, request: Request, error: DiscourseError) -> Response:
        body: dict[str, Any] = {"errors": [error.message], "error_type": error.error_type}
        if error.extras is not None:
            body["extras"] = error.extras
        return self._json(error.status, body, error.headers)

    def _require_staff(self) -> None:
        if not self._user.staff:
            raise DiscourseError(403, "invalid_access", INVALID_ACCESS)

    def _can_see(self, post: _Post) -> bool:
        return not post.deleted or self._user.staff

    def _seen(self, post_id: str) -> _Post:
        """A post the API user may read (staff read deleted ones too)."""
        post = self._by_id.get(post_id)
        if post is None or not self._can_see(post):
            raise _not_found()
        return post

    def _acted_on(self, post_id: str) -> _Post:
        """A post that can be acted on: not deleted."""
        post = self._live(post_id)
        if post is None:
            raise _not_found()
        return post

    def _visible_topic(self, topic_id: int) -> _Topic:
        topic = next((t for t in self._topics if t.id == topic_id), None)
        if topic is None or (topic.deleted and not self._user.staff):
            raise _not_found()
        return topic

    # --- state and rendering ------------------------------------------------------------

    def _add_user(self, user: _User) -> None:
        self._users[user.username.lower()] = user

    def _user_named(self, username: str, name: str | None) -> _User:
        user = self._users.get(username.lower())
        if user is None:
            trust = 1 + self._next_user_id % 3
            user = _User(self._next_user_id, username, name, trust_level=trust)
            self._next_user_id += 1
            self._add_user(user)
        return user

    def _add_seed_topic(self, topic_id: int, seed: SeedPost) -> None:
        title = _title(seed.message)
        topic = _Topic(topic_id, title, _slug(title), seed.created_time)
        self._topics.append(topic)
        city = self._users[CITY_USERNAME]
        self._add_post(topic, city, seed.message, seed.created_time, None)

        def made(item: SeedComment, parent: _Post | None) -> _Post:
            # The forum seed names its users by handle; like many forums', theirs have no name.
            user = self._user_named(item.author_name, None)
            upload = None
            if item.attachment is not None:
                digest = hashlib.sha1(item.id.encode(), usedforsecurity=False).hexdigest()
                upload = f"{PREFIX}/uploads/default/original/1X/{digest}.jpeg"
            return self._add_post(
                topic, user, item.message, item.created_time, parent, item, upload
            )

        threaded(self._seed.comments_on(seed.id), made)

    def _add_post(
        self,
        topic: _Topic,
        user: _User,
        raw: str,
        when: datetime,
        parent: _Post | None,
        seed: SeedComment | None = None,
        upload: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
    ) -> _Post:
        number = 1 + max((p.seed.number for p in self._posts_of(topic)), default=0)
        reply_to = parent.seed.number if parent else None
        record = _Record(topic, number, user, reply_to, seed, upload)
        stamp = when.astimezone(UTC).replace(microsecond=0)
        post_id, parent_id = str(self._next_post_id), parent.id if parent else None
        post = _Post(record, post_id, str(topic.id), parent_id, stamp, raw)
        self._next_post_id += 1
        self._add(post, extra, omit)
        return post

    def _topic(self, topic_id: int) -> _Topic:
        return next(t for t in self._topics if t.id == topic_id)

    def _posts_of(self, topic: _Topic) -> list[_Post]:
        """All the topic's posts, deleted ones too, in number order (which is store order)."""
        return [p for p in self._comments if p.seed.topic is topic]

    def _listed_topics(self, order: str = "created") -> list[_Topic]:
        live = [t for t in self._topics if not t.deleted]
        if order == "created":
            return sorted(live, key=lambda t: (t.created, t.id), reverse=True)
        return sorted(live, key=self._bumped, reverse=True)

    def _bumped(self, topic: _Topic) -> tuple[datetime, int]:
        return (max(p.created for p in self._posts_of(topic)), topic.id)

    def _view(self, post: _Post) -> SandboxPost:
        record = post.seed
        parent = post.parent_id if record.reply_to and record.reply_to > 1 else None
        user = record.user.username
        return SandboxPost(
            post.id, post.post_id, record.number, parent, user, post.text, record.seed
        )

    def _topic_json(self, topic: _Topic) -> dict[str, Any]:
        posts = self._posts_of(topic)
        live = [p for p in posts if not p.deleted]
        return {
            "id": topic.id,
            "title": topic.title,
            "fancy_title": html.escape(topic.title, quote=False),
            "slug": topic.slug,
            "posts_count": len(live),
            "reply_count": sum(1 for p in live if p.seed.reply_to),
            "highest_post_number": max(p.seed.number for p in posts),  # staff see every number
            "image_url": None,
            "created_at": _time(topic.created),
            "last_posted_at": _time(max(p.created for p in live)),
            "bumped": True,
            "bumped_at": _time(self._bumped(topic)[0]),
            "archetype": "regular",
            "unseen": False,
            "pinned": False,
            "unpinned": None,
            "visible": True,
            "closed": False,
            "archived": False,
            "bookmarked": None,
            "liked": None,
            "views": 40 + 7 * len(posts),
            "like_count": len(posts) // 2,
            "has_summary": False,
            "last_poster_username": live[-1].seed.user.username,
            "category_id": CATEGORY_ID,
            "pinned_globally": False,
            "featured_link": None,
            "posters": [
                {"extras": None, "description": "Original Poster", "user_id": posts[0].seed.user.id}
            ],
        }

    def _post_json(self, post: _Post, *, raw: bool) -> dict[str, Any]:
        record, number = post.seed, int(post.id)
        user = record.user
        full: dict[str, Any] = {
            "id": number,
            "name": user.name,
            "username": user.username,
            "avatar_template": _avatar(user),
            "created_at": _time(post.created),
            "cooked": _cook(post.text, record.upload),
            "post_number": record.number,
            "post_type": 1,
            "updated_at": _time(post.updated or post.created),
            "reply_count": sum(
                1 for p in self._posts_of(record.topic) if p.seed.reply_to == record.number
            ),
            "reply_to_post_number": record.reply_to,
            "quote_count": 0,
            "incoming_link_count": 0,
            "reads": 3 + number % 11,
            "readers_count": 2 + number % 11,
            "score": 0.2 * (number % 9),
            "yours": user is self._user,
            "topic_id": record.topic.id,
            "topic_slug": record.topic.slug,
            "display_username": user.name,
            "primary_group_name": None,
            "flair_name": None,
            "version": post.version,
            "can_edit": self._user.staff,
            "can_delete": self._user.staff and post.deleted_at is None,
            "can_recover": self._user.staff and post.deleted_at is not None,
            "can_see_hidden_post": self._user.staff,
            "can_wiki": self._user.staff,
            "read": True,
            "user_title": None,
            "bookmarked": False,
            "actions_summary": [
                {"id": kind, "count": 1}
                for kind in sorted({k for _, k in post.flags})
                if self._user.staff
            ],
            "moderator": user.staff,
            "admin": user.id == -1,
            "staff": user.staff,
            "user_id": user.id,
            "hidden": post.hidden,
            "trust_level": user.trust_level,
            "deleted_at": _time(post.deleted_at) if post.deleted_at else None,
            "user_deleted": post.user_deleted,
            "edit_reason": None,
            "can_view_edit_history": True,
            "wiki": False,
        }
        if post.deleted_by is not None:
            full["deleted_by"] = _user_json(post.deleted_by)
        if raw:
            full["raw"] = post.text
        return post.injected(full)


# --- module helpers -------------------------------------------------------------------


def _title(message: str) -> str:
    first = re.split(r"(?<=[.!?])\s", message, maxsplit=1)[0]
    return first if len(first) <= 80 else first[:77].rstrip() + "..."


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].rstrip("-")


def _cook(raw: str, upload: str | None) -> str:
    """Markdown-ish rendering: escaped text in paragraphs, as Discourse sanitises it."""
    paragraphs = [p for p in raw.split("\n\n") if p.strip()] or [""]
    cooked = "\n".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br>\n") + "</p>" for p in paragraphs
    )
    if upload:
        cooked += (
            f'\n<p><img src="{upload}" alt="photo" width="690" height="460" class="lightbox"></p>'
        )
    return cooked


def _later(post: _Post) -> datetime:
    return (post.updated or post.created) + timedelta(hours=1)


def _number(request: Request, name: str, default: int) -> int:
    """A whole-number parameter; missing or empty is `default`."""
    return whole(
        request.query.get(name) or str(default),
        0,
        math.inf,
        lambda _: DiscourseError(400, "invalid_parameters", f"{name} is invalid"),
    )


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _user_json(user: _User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "avatar_template": _avatar(user),
        "trust_level": user.trust_level,
        "moderator": user.staff,
        "admin": user.id == -1,
    }


def _avatar(user: _User) -> str:
    return f"/user_avatar/forum.highlandil.example/{user.username}/{{size}}/1_2.png"


def _required(request: Request, name: str) -> str:
    value = request.param(name)
    if not value:
        raise DiscourseError(
            400, "invalid_parameters", f"param is missing or the value is empty: {name}"
        )
    return value


def _not_found() -> DiscourseError:
    return DiscourseError(404, "not_found", NOT_FOUND)


def _rate_limited(seconds: int, status: int = 429) -> DiscourseError:
    return DiscourseError(
        status,
        "rate_limit",
        f"You’ve performed this action too many times. Please wait {seconds} seconds before "
        "trying again.",
        extras={"wait_seconds": seconds, "time_left": f"{seconds} seconds"},
        headers={
            "Retry-After": str(seconds),
            "Discourse-Rate-Limit-Error-Code": "admin_api_key_rate_limit",
        },
    )


SANDBOX = DiscourseSandbox
