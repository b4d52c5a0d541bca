"""YouTube Data API v3 as the channel's owner sees it, under `/youtube/youtube/v3/...`.

A site's base URL is the sandbox's URL + `/youtube`, as a real one is
`https://youtube.googleapis.com`. Covered: `channels` (the uploads playlist), `playlistItems`,
`commentThreads` (by video or channel, one `moderationStatus` at a time, replies embedded; a
thread is listed under heldForReview or likelySpam when its top comment or any reply is),
`comments` (by `id` or `parentId`) and `comments/setModerationStatus` (204 No Content).
Paging is by `pageToken`; errors have Google's envelope; quota units are counted per Pacific
day and, once spent (or by a `rate_limit` fault), calls answer 403 `quotaExceeded`.

The data are YouTube's own seed (`seed.of("youtube")`): the Parks & Recreation channel's
videos and their comment threads (hostile texts and reason-code ones among them, and the
channel's own replies), some of which YouTube has already held for review or marked as likely
spam.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hsm_sandbox.faults import Fault, FaultKind, generic_response
from hsm_sandbox.paging import Pager
from hsm_sandbox.params import Refuse, bearer, one_of, selection, whole
from hsm_sandbox.routing import Request, Response, Router
from hsm_sandbox.seed import SeedComment, SeedData, SeedPost
from hsm_sandbox.store import Comment, CommentStore, Key, OneToken, threaded

PREFIX = "/youtube"
API = PREFIX + "/youtube/v3"

CHANNEL_ID = "UCHighlandParks000000001"
CHANNEL_TITLE = "Highland Parks & Recreation"
UPLOADS_PLAYLIST = "UU" + CHANNEL_ID[2:]  # YouTube's uploads playlist of a UC... channel
DAILY_QUOTA = 10_000
EMBEDDED_REPLIES = 5  # commentThreads carries only some replies; comments.list has them all

STATUSES = ("published", "heldForReview", "likelySpam", "rejected")
SETTABLE = ("published", "heldForReview", "rejected")  # what setModerationStatus accepts
PACIFIC = ZoneInfo("America/Los_Angeles")

_LIST_COST = 1
_MODERATE_COST = 50

_HTTP_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
_HTTP_STATUS.update({404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"})
_HTTP_STATUS.update({503: "UNAVAILABLE"})
_PAGES = Pager(prefix="Q")

# The refusals in fixed words, by Google's reason: (HTTP status, domain, the parameter or header
# at fault, message). "required" here is the missing credential; a missing parameter's is
# `_required(name)`.
_REFUSALS: dict[str, tuple[int, str, str | None, str]] = {
    "required": (401, "global", "Authorization", "Request is missing required authentication "
        "credential. Expected OAuth 2 access token, login cookie or other valid authentication "
        "credential."),
    "authError": (401, "global", "Authorization", "Request had invalid authentication "
        "credentials. Expected OAuth 2 access token, login cookie or other valid authentication "
        "credential."),
    "quotaExceeded": (403, "youtube.quota", None, "The request cannot be completed because you "
        'have exceeded your <a href="/youtube/v3/getting-started#quota">quota</a>.'),
    "rateLimitExceeded": (429, "usageLimits", None,
        "The request cannot be completed because you have exceeded your rate limit."),
    "forbidden": (403, "youtube.comment", None, "The comment could not be updated due to "
        "insufficient permissions. The request might not be properly authorized."),
    "insufficientPermissions": (403, "global", None, "Request had insufficient scopes."),
    "invalidPageToken": (400, "youtube.parameter", "pageToken",
        "The request specifies an invalid page token."),
    "playlistNotFound": (404, "youtube.playlistItem", "playlistId",
        "The playlist identified with the request's playlistId parameter cannot be found."),
    "videoNotFound": (404, "youtube.commentThread", "videoId",
        "The video identified by the videoId parameter could not be found."),
    "commentsDisabled": (403, "youtube.commentThread", "videoId",
        "The video identified by the videoId parameter has disabled comments."),
    "channelNotFound": (404, "global", "channelId", "The channel could not be found."),
    "invalidModerationStatus": (400, "youtube.comment", "moderationStatus",
        "Only heldForReview, published and rejected can be set."),
    "banWithoutReject": (400, "youtube.comment", "banAuthor",
        "The banAuthor parameter can only be used if moderationStatus is rejected."),
    "commentNotFound": (404, "youtube.comment", "id",
        "One or more comments identified by the id parameter could not be found."),
    "processingFailure": (400, "youtube.comment", None,  # the author deleted the comment
        "The API server failed to successfully process the request."),
    "operationNotSupported": (400, "youtube.comment", "moderationStatus",
        "A rejected comment cannot be published or held for review again."),
}  # fmt: skip


class YouTubeError(Exception):
    """Raised inside a handler; becomes a Google error envelope."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.domain = status, reason, message, domain
        self.location = location

    def response(self, headers: dict[str, str] | None = None) -> Response:
        item: dict[str, Any] = {
            "message": self.message,
            "domain": self.domain,
            "reason": self.reason,
        }
        if self.location:
            kind = "header" if self.location == "Authorization" else "parameter"
            item.update(location=self.location, locationType=kind)
        error: dict[str, Any] = {"code": self.status, "message": self.message, "errors": [item]}
        if self.status in _HTTP_STATUS:
            error["status"] = _HTTP_STATUS[self.status]
        return Response.json(self.status, {"error": error}, headers)


@dataclass(frozen=True)
class YouTubeVideo:
    id: str
    title: str
    description: str
    published_at: datetime


@dataclass(frozen=True)
class YouTubeComment:
    """A comment as the sandbox holds it (a snapshot, for tests and the demo)."""

    id: str
    video_id: str
    parent_id: str | None
    author_name: str
    author_channel_id: str
    text: str
    published_at: datetime
    updated_at: datetime
    status: str  # published | heldForReview | likelySpam | rejected
    deleted: bool  # by its author
    expected_code: str | None  # the seed's reason code; never in a payload
    tags: tuple[str, ...]


@dataclass
class _Comment(Comment[YouTubeComment]):
    """The live state YouTube adds: the moderation status, the last edit, the likes."""

    status: str = "published"
    updated_at: datetime | None = None  # None until its author edits it
    like_count: int = 0
    resource_extra: dict[str, Any] = field(default_factory=dict)  # injected resource fields

    def snapshot(self) -> YouTubeComment:
        return replace(
            self.seed,
            text=self.text,
            status=self.status,
            updated_at=self.updated_at or self.created,
            deleted=self.deleted,
        )


class YouTubeSandbox(CommentStore[_Comment, YouTubeError], OneToken):
    """The YouTube part of the sandbox: its state, routes, quota and fault shapes."""

    error_type = YouTubeError

    def __init__(self, seed: SeedData) -> None:
        super().__init__()
        self._seed = seed.of("youtube")
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        router.add("GET", API + "/channels", self._route(self._channels), self)
        router.add("GET", API + "/playlistItems", self._route(self._playlist_items), self)
        router.add("GET", API + "/commentThreads", self._route(self._list_threads), self)
        router.add("GET", API + "/comments", self._route(self._list_comments), self)
        router.add("POST", API + "/comments/setModerationStatus", self._route(self._moderate), self)

    def reset(self) -> None:
        with self._lock:
            videos, comments = _build(self._seed)
            self._videos = {v.id: v for v in videos}
            self._load(comments)
            self.token = self._seed.pages[0].token if self._seed.pages else ""
            # The channel's `snippet.description`; tests change it here.
            self.profile = dict(self._seed.pages[0].profile) if self._seed.pages else {}
            self._added = 0
            self._banned: set[str] = set()
            self._comments_off: set[str] = set()
            self.daily_quota = DAILY_QUOTA
            self.embedded_replies = EMBEDDED_REPLIES
            self._quota_day = _pacific_day()
            self._quota_used = 0

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind is FaultKind.SERVER_ERROR:
            status = fault.status or 503
            reason = "backendError" if status >= 500 else "badRequest"
            return YouTubeError(status, reason, "The service is currently unavailable.").response()
        if fault.kind is FaultKind.TOO_MANY_REQUESTS:
            error = _refusal("rateLimitExceeded", fault.status)
            return error.response({"Retry-After": f"{fault.seconds:g}"})
        if fault.kind is FaultKind.RATE_LIMIT:
            return _refusal("quotaExceeded", fault.status).response()
        if fault.kind is FaultKind.REVOKED_TOKEN:
            return _refusal("authError").response()
        if fault.kind is FaultKind.PERMISSION:
            moderating = request.path.endswith("/setModerationStatus")
            reason = "forbidden" if moderating else "insufficientPermissions"
            return _refusal(reason, fault.status).response()
        generic = generic_response(fault)
        if generic is not None:
            return generic
        raise ValueError(f"no YouTube shape for fault {fault.kind}")

    # --- helpers for tests and the demo ----------------------------------------------

    @property
    def quota_used(self) -> int:
        """Units spent today (Pacific time), as YouTube counts them per project."""
        with self._lock:
            self._roll_quota_day()
            return self._quota_used

    def set_quota_used(self, units: int) -> None:
        with self._lock:
            self._roll_quota_day()
            self._quota_used = units

    @property
    def videos(self) -> tuple[YouTubeVideo, ...]:
        """The channel's videos, newest first (as its uploads playlist lists them)."""
        with self._lock:
            return tuple(sorted(self._videos.values(), key=_video_key, reverse=True))

    def comments(self, video_id: str | None = None) -> list[YouTubeComment]:
        """Every comment the sandbox holds (rejected and deleted ones too), oldest first."""
        with self._lock:
            return [
                c.snapshot()
                for c in sorted(self._comments, key=lambda c: c.key)
                if video_id is None or c.post_id == video_id
            ]

    def listed_ids(self, video_id: str) -> set[str]:
        """Ids the owner can still list on a video: neither rejected nor deleted."""
        with self._lock:
            return {c.id for c in self._comments if c.post_id == video_id and self._live(c.id)}

    def moderation_status(self, comment_id: str) -> str:
        with self._lock:
            return self._by_id[comment_id].status

    def is_hidden(self, comment_id: str | int) -> bool:
        """Held for review or likely spam: not shown to the public."""
        return self.moderation_status(str(comment_id)) in ("heldForReview", "likelySpam")

    def banned_authors(self) -> set[str]:
        with self._lock:
            return set(self._banned)

    def set_status(self, comment_id: str, status: str) -> None:
        """Change a status as YouTube's own filters (or the owner in YouTube Studio) would."""
        with self._lock:
            self._by_id[comment_id].status = _settable(status)

    def disable_comments(self, video_id: str) -> None:
        with self._lock:
            self._comments_off.add(video_id)

    def edit_comment(
        self, comment_id: str | int, new_text: str, *, at: datetime | None = None
    ) -> None:
        """Edit a comment's text as its author would: `updatedAt` moves on."""
        with self._lock:
            comment = self._by_id[str(comment_id)]
            comment.text = new_text
            comment.updated_at = self._edited_time(comment, at)

    def add_comment(
        self,
        video_id: str,
        text: str,
        *,
        parent_id: str | None = None,
        author_name: str = "Sandbox Tester",
        status: str = "published",
        published_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
        omit: Iterable[str] = (),
        resource_extra: dict[str, Any] | None = None,
        raw_text: bytes | None = None,
    ) -> str:
        """Add a comment (or a reply, with `parent_id`) and return its id.

        `extra` adds or overwrites snippet fields (wrong types, unknown fields), `omit` drops
        snippet fields (a missing author or text), `resource_extra` does the same one level up
        (e.g. `{"id": None}`), and `raw_text` replaces the text in the JSON with these bytes
        exactly (invalid UTF-8; they must contain no `"` or backslash).
        """
        _settable(status)
        with self._lock:
            if video_id not in self._videos:
                raise KeyError(video_id)
            self._added += 1
            comment_id = _comment_id(parent_id, f"added:{self._added}")
            if raw_text is not None:
                text = self._raw_text(comment_id, raw_text)
            when = self._added_time(published_at, timedelta(seconds=1))
            seed = YouTubeComment(
                comment_id, video_id, parent_id, author_name, _author_channel(author_name),
                text, when, when, status, False, None, (),
            )  # fmt: skip
            comment = _stored(seed)
            comment.resource_extra = dict(resource_extra or {})
            self._add(comment, extra, omit)
            return comment_id

    # --- handlers ---------------------------------------------------------------------

    def _channels(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        query = request.query
        parts = _parts(query, {"id", "snippet", "contentDetails"})
        mine = query.get("mine") == "true"
        ids = [i for i in query.get("id", "").split(",") if i]
        if not mine and not ids:
            raise _required("id")
        items = []
        if mine or CHANNEL_ID in ids:
            channel: dict[str, Any] = {
                "kind": "youtube#channel",
                "etag": _etag(CHANNEL_ID),
                "id": CHANNEL_ID,
            }
            if "snippet" in parts:
                channel["snippet"] = {
                    "title": CHANNEL_TITLE,
                    "description": self.profile.get("description", ""),
                    "customUrl": "@highlandparks",
                }
            if "contentDetails" in parts:
                channel["contentDetails"] = {
                    "relatedPlaylists": {"likes": "", "uploads": UPLOADS_PLAYLIST}
                }
            items.append(channel)
        return _list_body("youtube#channelListResponse", items, None, len(items))

    def _playlist_items(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        query = request.query
        parts = _parts(query, {"id", "snippet", "contentDetails", "status"})
        playlist = query.get("playlistId")
        if not playlist:
            raise _required("playlistId")
        if playlist != UPLOADS_PLAYLIST:
            raise _refusal("playlistNotFound")
        videos = sorted(self._videos.values(), key=_video_key, reverse=True)
        keyed = [(_video_key(v), v) for v in videos]
        window, next_token = _page(query, keyed, default=5, maximum=50, newest_first=True)
        position = {v.id: i for i, v in enumerate(videos)}
        items = [_playlist_item(v, position[v.id], parts) for v in window]
        return _list_body(
            "youtube#playlistItemListResponse", items, next_token, len(videos), per_page=5
        )

    # --- listings ---------------------------------------------------------------------

    def _list_threads(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        query = request.query
        parts = _parts(query, {"id", "snippet", "replies"})
        html_text = _text_format(query)
        pattern = "'(heldForReview|likelySpam|published|rejected)'"
        refuse = _invalid_value(
            "moderationStatus", f"match the following regular expression: {pattern}"
        )
        status = one_of(query.get("moderationStatus", "published"), STATUSES, refuse)
        order = ("time", "relevance", "orderUnspecified")
        one_of(query.get("order", "time"), order, lambda _: _invalid("order"))
        filters = [k for k in ("videoId", "allThreadsRelatedToChannelId", "id") if query.get(k)]
        if len(filters) != 1:
            raise _parameters(
                "Exactly one of videoId, allThreadsRelatedToChannelId or id is required.",
                "incompatibleParameters" if filters else "missingRequiredParameter",
            )
        if "id" in filters and "moderationStatus" in query:
            raise _parameters("The id parameter cannot be combined with moderationStatus.")
        if filters == ["videoId"]:
            video = query["videoId"]
            if video not in self._videos:
                raise _refusal("videoNotFound")
            if video in self._comments_off:
                raise _refusal("commentsDisabled")
            scope = [c for c in self._comments if c.post_id == video]
        elif filters == ["id"]:
            wanted = set(query["id"].split(","))
            scope = [c for c in self._comments if c.id in wanted]
            status = ""  # by id: any listable status, none reported
        else:
            if query["allThreadsRelatedToChannelId"] != CHANNEL_ID:
                raise _refusal("channelNotFound")
            scope = list(self._comments)
        # Rejected comments cannot be listed or discovered at all (not even by asking for them).
        threads = sorted(
            (
                c
                for c in scope
                if c.parent_id is None
                and self._live(c.id)
                and c.status != "rejected"
                and (not status or self._listed_under(c, status))
            ),
            key=lambda c: c.key,
            reverse=True,
        )
        keyed = [(c.key, c) for c in threads]
        window, next_token = _page(query, keyed, default=20, maximum=100, newest_first=True)
        items = [self._thread_json(c, parts, html_text, with_status=bool(status)) for c in window]
        return _list_body("youtube#commentThreadListResponse", items, next_token, len(threads))

    def _list_comments(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        query = request.query
        parts = _parts(query, {"id", "snippet"})
        html_text = _text_format(query)
        if query.get("id") and query.get("parentId"):
            raise _parameters("The id and parentId parameters cannot be used together.")
        if query.get("id"):
            if "maxResults" in query or "pageToken" in query:
                raise _parameters("maxResults and pageToken cannot be used with id.")
            # moderationStatus is not set when comments are requested by id.
            items = [
                self._comment_json(found, parts, html_text, with_status=False)
                for comment_id in query["id"].split(",")
                if (found := self._by_id.get(comment_id)) is not None and self._listable(found)
            ]
            return _list_body("youtube#commentListResponse", items, None, len(items))
        parent_id = query.get("parentId")
        if not parent_id:
            raise _required("id")
        replies = sorted(
            (c for c in self._comments if c.parent_id == parent_id and self._listable(c)),
            key=lambda c: c.key,
        )
        keyed = [(c.key, c) for c in replies]
        window, next_token = _page(query, keyed, default=20, maximum=100, newest_first=False)
        items = [self._comment_json(c, parts, html_text, with_status=True) for c in window]
        return _list_body("youtube#commentListResponse", items, next_token, len(replies))

    def _moderate(self, request: Request, match: re.Match[str]) -> None:
        query = request.query
        ids = [i for i in (query.get("id") or "").split(",") if i]
        status = query.get("moderationStatus")
        if not ids:
            raise _required("id")
        if not status:
            raise _required("moderationStatus")
        if len(ids) > 50:
            raise _invalid("id")
        one_of(status, SETTABLE, lambda _: _refusal("invalidModerationStatus"))
        ban = query.get("banAuthor", "false")
        one_of(ban, ("true", "false"), lambda _: _invalid("banAuthor"))
        if ban == "true" and status != "rejected":
            raise _refusal("banWithoutReject")
        found: list[_Comment] = []
        for comment_id in ids:
            comment = self._by_id.get(comment_id)
            if comment is None:
                raise _refusal("commentNotFound")
            if not self._live(comment.id):
                raise _refusal("processingFailure")
            if comment.status == "rejected" and status != "rejected":
                raise _refusal("operationNotSupported")
            found.append(comment)
        for comment in found:  # all or nothing, as one request
            comment.status = status
            if ban == "true":
                self._banned.add(comment.seed.author_channel_id)
        return None

    # --- state and rendering ------------------------------------------------------------

    def _live(self, comment_id: str) -> _Comment | None:
        """Not deleted, and (for a reply) its thread's top comment not deleted either."""
        comment = super()._live(comment_id)
        if comment is None or comment.parent_id is None:
            return comment
        return comment if super()._live(comment.parent_id) is not None else None

    def _delete(self, comment: _Comment) -> None:
        comment.deleted = True  # its replies stay, hidden by `_live`, as on YouTube

    def _listable(self, comment: _Comment) -> bool:
        """What the API can still return: rejecting a comment also hides its replies."""
        if not self._live(comment.id) or comment.status == "rejected":
            return False
        parent = self._by_id.get(comment.parent_id) if comment.parent_id else None
        return parent is None or parent.status != "rejected"

    def _listed_under(self, top: _Comment, status: str) -> bool:
        """As YouTube lists threads: under published for a published top-level comment;
        under heldForReview or likelySpam when the top-level comment *or any reply* has it."""
        if top.status == status:
            return True
        return status != "published" and any(
            c.parent_id == top.id and c.status == status and self._listable(c)
            for c in self._comments
        )

    def _thread_json(
        self, top: _Comment, parts: set[str], html_text: bool, *, with_status: bool
    ) -> dict[str, Any]:
        replies = sorted(
            (c for c in self._comments if c.parent_id == top.id and self._listable(c)),
            key=lambda c: c.key,
        )
        thread: dict[str, Any] = {
            "kind": "youtube#commentThread",
            "etag": _etag(top.id + top.text),
            "id": top.id,
        }
        if "snippet" in parts:
            thread["snippet"] = {
                "channelId": CHANNEL_ID,
                "videoId": top.post_id,
                "topLevelComment": self._comment_json(
                    top, {"snippet"}, html_text, with_status=with_status
                ),
                "canReply": True,
                "totalReplyCount": len(replies),
                "isPublic": True,
            }
        if "replies" in parts and replies:
            thread["replies"] = {
                "comments": [
                    self._comment_json(r, {"snippet"}, html_text, with_status=with_status)
                    for r in replies[: self.embedded_replies]
                ]
            }
        return thread

    def _comment_json(
        self, comment: _Comment, parts: set[str], html_text: bool, *, with_status: bool
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "kind": "youtube#comment",
            "etag": _etag(comment.id + comment.text),
            "id": comment.id,
        }
        if "snippet" in parts:
            text, author = comment.text, comment.seed.author_channel_id
            display = html.escape(text).replace("\n", "<br>") if html_text else text
            snippet: dict[str, Any] = {
                "channelId": CHANNEL_ID,
                "videoId": comment.post_id,
                "textDisplay": display,
                "textOriginal": text,
                "authorDisplayName": comment.seed.author_name,
                "authorProfileImageUrl": f"https://yt3.ggpht.sandbox.invalid/{author}=s48",
                "authorChannelUrl": f"http://www.youtube.com/channel/{author}",
                "authorChannelId": {"value": author},
                "canRate": True,
                "viewerRating": "none",
                "likeCount": comment.like_count,
                "publishedAt": _google_time(comment.created),
                "updatedAt": _google_time(comment.updated_at or comment.created),
            }
            if comment.parent_id:
                snippet["parentId"] = comment.parent_id
            if with_status:  # only listings tell the owner; a request by id does not
                snippet["moderationStatus"] = comment.status
            resource["snippet"] = comment.injected(snippet)
        resource.update(comment.resource_extra)
        return resource

    # --- answering (the CommentStore hooks) ---------------------------------------------

    def _admit(self, request: Request) -> None:
        """Check the token, then spend the call's quota units."""
        token = bearer(request)
        if not token:
            raise _refusal("required")
        if not self.accepts(token):
            raise _refusal("authError")
        moderating = request.path.endswith("/setModerationStatus")
        self._spend(_MODERATE_COST if moderating else _LIST_COST)

    def _error_response(self, request: Request, error: YouTubeError) -> Response:
        return error.response()

    def _roll_quota_day(self) -> None:
        today = _pacific_day()
        if today != self._quota_day:  # YouTube's quota resets at midnight Pacific time
            self._quota_day, self._quota_used = today, 0

    def _spend(self, cost: int) -> None:
        self._roll_quota_day()
        if self._quota_used + cost > self.daily_quota:
            raise _refusal("quotaExceeded")
        self._quota_used += cost


# --- errors ---------------------------------------------------------------------------


def _refusal(reason: str, status: int | None = None) -> YouTubeError:
    """One of `_REFUSALS`, with another HTTP status where a fault gives one."""
    default, domain, location, message = _REFUSALS[reason]
    return YouTubeError(status or default, reason, message, domain=domain, location=location)


def _required(name: str) -> YouTubeError:
    return YouTubeError(400, "required", f"Required parameter: {name}", location=name)


def _invalid(name: str) -> YouTubeError:
    return YouTubeError(400, "invalidParameter", f"Invalid value for {name}.", location=name)


def _invalid_value(name: str, rule: str) -> Refuse:
    """The refusal of a value of `name` that breaks `rule` (what values must do)."""
    return lambda raw: YouTubeError(
        400, "invalidValue", f"Invalid value '{raw}'. Values must {rule}", location=name
    )


def _parameters(message: str, reason: str = "incompatibleParameters") -> YouTubeError:
    """Parameters that do not go together (or none of those one must give)."""
    return YouTubeError(400, reason, message, domain="youtube.parameter")


# --- request parameters -----------------------------------------------------------------


def _parts(query: dict[str, str], known: set[str]) -> set[str]:
    asked = selection(query.get("part"), known, _unknown_part)
    if not asked:
        raise _required("part")
    return asked


def _unknown_part(part: str) -> YouTubeError:
    return YouTubeError(400, "unknownPart", f"'{part}'", domain="youtube.part", location="part")


def _text_format(query: dict[str, str]) -> bool:
    """True for HTML (the default), False for plain text."""
    formats = ("html", "plainText", "textFormatUnspecified")
    value = one_of(query.get("textFormat", "html"), formats, lambda _: _invalid("textFormat"))
    return value != "plainText"


def _page(
    query: dict[str, str],
    keyed: Sequence[tuple[Key, Any]],
    *,
    default: int,
    maximum: int,
    newest_first: bool,
) -> tuple[list[Any], str | None]:
    """One page of `keyed` (already in answer order) and the next page's token."""
    refuse = _invalid_value("maxResults", f"be within the range: [1, {maximum}]")
    size = whole(query.get("maxResults", str(default)), 1, maximum, refuse)
    return _PAGES.page(
        keyed,
        query.get("pageToken"),
        size,
        newest_first=newest_first,
        invalid=lambda _: _refusal("invalidPageToken"),
    )


def _list_body(
    kind: str, items: list[Any], next_token: str | None, total: int, per_page: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind, "etag": _etag(kind + str(total))}
    if next_token:
        body["nextPageToken"] = next_token
    body["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page or len(items)}
    body["items"] = items
    return body


# --- seed ---------------------------------------------------------------------------------


def _build(seed: SeedData) -> tuple[list[YouTubeVideo], list[_Comment]]:
    """The channel's videos and comments. YouTube threads are one level deep, so a reply's
    parent is its thread's top comment; the seed's channel-authored replies are the owner's."""
    videos = {post.id: _video(post) for post in seed.posts}
    owner = seed.pages[0].name if seed.pages else None

    def made(comment: SeedComment, parent: _Comment | None) -> _Comment:
        top = (parent.parent_id or parent.id) if parent else None
        return _comment(videos[comment.post_id].id, comment, top, comment.author_name == owner)

    return list(videos.values()), threaded(seed.comments, made)


def _video(post: SeedPost) -> YouTubeVideo:
    first_line = post.message.split("\n", 1)[0]
    title = first_line if len(first_line) <= 100 else first_line[:99] + "…"
    return YouTubeVideo(_hashed(f"video:{post.id}", 11), title, post.message, post.created_time)


def _comment(video_id: str, seed: SeedComment, parent_id: str | None, owner: bool) -> _Comment:
    comment_id = _comment_id(parent_id, f"{'reply' if parent_id else 'comment'}:{seed.id}")
    # YouTube's own filters already caught some: spam as likely spam, profanity held.
    status = "published"
    if seed.expected_code == "SPM":
        status = "likelySpam"
    elif seed.expected_code in ("PRF", "SEX", "THR") and not parent_id:
        status = "heldForReview"
    author = CHANNEL_TITLE if owner else seed.author_name
    record = YouTubeComment(
        comment_id, video_id, parent_id, author, CHANNEL_ID if owner else _author_channel(author),
        seed.message, seed.created_time, seed.created_time, status, False, seed.expected_code,
        seed.tags,
    )  # fmt: skip
    return _stored(record, like_count=int(hashlib.sha256(seed.id.encode()).hexdigest()[:2], 16) % 9)


def _stored(record: YouTubeComment, like_count: int = 0) -> _Comment:
    return _Comment(
        record, record.id, record.video_id, record.parent_id, record.published_at, record.text,
        status=record.status, like_count=like_count,
    )  # fmt: skip


def _playlist_item(video: YouTubeVideo, position: int, parts: set[str]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": "youtube#playlistItem",
        "etag": _etag(video.id),
        "id": _hashed(f"playlistItem:{video.id}", 32),
    }
    if "snippet" in parts:
        item["snippet"] = {
            "publishedAt": _google_time(video.published_at),
            "channelId": CHANNEL_ID,
            "title": video.title,
            "description": video.description,
            "thumbnails": {
                "default": {
                    "url": f"https://i.ytimg.sandbox.invalid/vi/{video.id}/default.jpg",
                    "width": 120,
                    "height": 90,
                }
            },
            "channelTitle": CHANNEL_TITLE,
            "playlistId": UPLOADS_PLAYLIST,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": video.id},
            "videoOwnerChannelTitle": CHANNEL_TITLE,
            "videoOwnerChannelId": CHANNEL_ID,
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {
            "videoId": video.id,
            "videoPublishedAt": _google_time(video.published_at),
        }
    if "status" in parts:
        item["status"] = {"privacyStatus": "public"}
    return item


def _comment_id(parent_id: str | None, key: str) -> str:
    """A top-level comment's id looks like YouTube's; a reply's is its thread's id and more."""
    return f"{parent_id}.{_hashed(key, 22)}" if parent_id else f"Ugz{_hashed(key, 16)}4AaABAg"


def _settable(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"not a moderation status: {status!r}")
    return status


def _video_key(video: YouTubeVideo) -> Key:
    return (video.published_at.timestamp(), video.id)


def _hashed(key: str, length: int) -> str:
    digest = hashlib.sha256(key.encode()).digest() * 2
    return base64.urlsafe_b64encode(digest).decode()[:length]


def _author_channel(name: str) -> str:
    return "UC" + _hashed(f"author:{name}", 22)


def _etag(key: str) -> str:
    return _hashed(f"etag:{key}", 27)


def _google_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pacific_day() -> date:
    return datetime.now(PACIFIC).date()


# server.py's registry (platforms.py) builds the sandbox from this name.
SANDBOX = YouTubeSandbox

__all__ = [
    "API",
    "CHANNEL_ID",
    "PREFIX",
    "SANDBOX",
    "UPLOADS_PLAYLIST",
    "YouTubeComment",
    "YouTubeSandbox",
    "YouTubeVideo",
]
