"""The comment store every platform sandbox extends, so each module keeps only its own API.

A platform module plugs in like this:

1. Its live comment is a `Comment` (or a dataclass subclassing it, for state of its own such
   as YouTube's moderation status or X's edit versions). `Comment.seed` holds the platform's
   frozen record of the comment as seeded or added; the other fields are what every platform
   shares: `id`, `post_id` (the post, video, media, topic or conversation it is on),
   `parent_id`, `created`, the current `text`, `hidden`, `deleted`, and a test's injected
   `extra` and `omit` payload fields (`Comment.injected` applies them to a rendered payload).
2. Its sandbox class subclasses `CommentStore`, parametrised with its comment type and its
   error exception, and mixes in `OneToken` where the account accepts one token (`token`,
   `set_token(token)`; Facebook's Pages have a token each, so Graph keeps its own):
   `class TikTokSandbox(CommentStore[Comment[TtComment], TikTokError], OneToken)`. It sets
   the class attribute `error_type`, calls `super().__init__()` before its own `reset()`, and
   in `reset()` calls `self._load(comments)` (and sets `self.token`) under `self._lock`.
3. It registers routes with `self._route(handler)`: the handler takes `(request, match)`,
   returns the payload and raises `error_type` for a refusal. `_answer` runs it under the lock
   after the `_admit(request)` hook (token check, call counting, quota), and wraps the result
   with the `_ok_response(request, payload)` hook or the error with
   `_error_response(request, error)`. A module whose handlers need more (X's per-family rate
   limits) may call `_answer(request, work)` directly or keep its own wrapper.
4. Test helpers come for free: `comments_on(post_id)` (the seed records of a post's live
   comments, with the current text in `text_field`), `is_hidden`, `is_deleted`,
   `delete_comment` (replies go too:
   override `_delete` where a platform keeps them), `edit_comment(id, text)`; they take the
   id as a string or a number (WordPress's and Discourse's ids are numbers: store
   `str(number)` as `Comment.id`). A module adds its own `add_comment`, which builds a
   `Comment` and passes it to `_add`, with `_added_time(when)` for the default time and
   `_raw_text(id, bytes)` for a text of invalid UTF-8.
5. State helpers: `_live(id)` (None if unknown or deleted), `_on(post_id)` (a post's live
   comments and replies), `_replies_of(comment)` (live, oldest first) and `_splice(body)`,
   which the `_ok_response` hook calls to put the raw bytes in the encoded answer.

Where a platform differs, it overrides rather than adds a flag here: X indexes every edit
version's id (override `_add`, and `Comment.key` for the latest version's time); YouTube
keeps a deleted comment's replies (override `_delete`) and its moderation status as a field
of its own; LinkedIn's helpers take URNs, so its `Comment.id` is the URN.

Pagination, cursors and error bodies stay in the platform modules (each API has its own);
Facebook and Instagram share Graph's in `meta.py`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from hsm_sandbox.routing import Request, Response

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

S = TypeVar("S")
R = TypeVar("R", bound="DataclassInstance")
Key = tuple[float, str]  # (created timestamp, id): a stable sort key and cursor content


@dataclass
class Comment(Generic[S]):
    """One comment's live state; `seed` is the platform's record of it as seeded or added."""

    seed: S
    id: str
    post_id: str
    parent_id: str | None
    created: datetime
    text: str
    extra: dict[str, Any] = field(default_factory=dict)  # injected raw payload fields
    omit: frozenset[str] = frozenset()  # payload fields left out
    hidden: bool = False
    deleted: bool = False

    @property
    def key(self) -> Key:
        return (self.created.timestamp(), self.id)

    def injected(self, rendered: dict[str, Any]) -> dict[str, Any]:
        """`rendered` with the test's `extra` fields put in and its `omit` fields left out."""
        return {k: v for k, v in {**rendered, **self.extra}.items() if k not in self.omit}


C = TypeVar("C", bound=Comment[Any])
E = TypeVar("E", bound=Exception)


class CommentStore(Generic[C, E]):
    """A platform's comments behind one lock, the helpers tests call, and request answering."""

    error_type: type[E]  # what handlers raise for a refusal (set as a class attribute)
    raw_marker: ClassVar[str] = "@@raw-bytes-{id}@@"  # ASCII text standing in for raw bytes
    text_field: ClassVar[str] = "text"  # the seed record's field for the text

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._comments: list[C] = []
        self._by_id: dict[str, C] = {}
        self._raw_bytes: dict[str, bytes] = {}  # marker -> the bytes sent in its place

    # --- helpers for tests and the demo ----------------------------------------------

    def comments_on(self: CommentStore[Comment[R], Any], post_id: str) -> list[R]:
        """The post's live comments and replies as they stand (edited text included)."""
        with self._lock:
            return [replace(c.seed, **{self.text_field: c.text}) for c in self._on(post_id)]

    def is_hidden(self, comment_id: str | int) -> bool:
        with self._lock:
            return self._by_id[str(comment_id)].hidden

    def is_deleted(self, comment_id: str | int) -> bool:
        with self._lock:
            return self._by_id[str(comment_id)].deleted

    def delete_comment(self, comment_id: str | int) -> None:
        """Delete a comment as its author would (its replies go with it)."""
        with self._lock:
            self._delete(self._by_id[str(comment_id)])

    def edit_comment(self, comment_id: str | int, new_text: str) -> None:
        """Change a comment's text as an author's edit would (the id stays)."""
        with self._lock:
            self._by_id[str(comment_id)].text = new_text

    # --- state --------------------------------------------------------------------------

    def _load(self, comments: Iterable[C]) -> None:
        """Start over with `comments` (from `reset`)."""
        self._comments, self._by_id, self._raw_bytes = [], {}, {}
        for comment in comments:
            self._add(comment)

    def _add(
        self, comment: C, extra: dict[str, Any] | None = None, omit: Iterable[str] = ()
    ) -> None:
        """Store `comment`, with a test's `extra` payload fields and the fields to `omit`."""
        comment.extra.update(extra or {})
        comment.omit |= frozenset(omit)
        self._comments.append(comment)
        self._by_id[comment.id] = comment

    def _live(self, comment_id: str) -> C | None:
        comment = self._by_id.get(comment_id)
        return None if comment is None or comment.deleted else comment

    def _on(self, post_id: str) -> list[C]:
        return [c for c in self._comments if c.post_id == post_id and not c.deleted]

    def _replies_of(self, comment: C) -> list[C]:
        return sorted(
            (c for c in self._comments if c.parent_id == comment.id and not c.deleted),
            key=lambda c: c.key,
        )

    def _delete(self, comment: C) -> None:
        comment.deleted = True
        for reply in self._comments:
            if reply.parent_id == comment.id and not reply.deleted:
                self._delete(reply)

    def _added_time(self, when: datetime | None) -> datetime:
        """A new comment's time: `when`, or the newest comment's, to whole UTC seconds."""
        moment = when or max(c.created for c in self._comments)
        return moment.astimezone(UTC).replace(microsecond=0)

    def _raw_text(self, comment_id: str, raw: bytes) -> str:
        """The text standing in for `raw`, which `_splice` puts back byte for byte (invalid
        UTF-8 on purpose; the bytes must hold no quotes or backslashes)."""
        marker = self.raw_marker.format(id=comment_id)
        self._raw_bytes[marker] = raw
        return marker

    def _splice(self, body: bytes) -> bytes:
        for marker, raw in self._raw_bytes.items():
            body = body.replace(marker.encode("ascii"), raw)
        return body

    # --- answering ----------------------------------------------------------------------

    def _route(
        self, work: Callable[[Request, re.Match[str]], Any]
    ) -> Callable[[Request, re.Match[str]], Response]:
        """A router handler answering with `work`'s payload or refusal."""
        return lambda request, match: self._answer(request, lambda: work(request, match))

    def _answer(self, request: Request, work: Callable[[], Any]) -> Response:
        with self._lock:
            try:
                self._admit(request)
                payload = work()
            except self.error_type as error:
                return self._error_response(request, error)
            return self._ok_response(request, payload)

    def _admit(self, request: Request) -> None:
        """Raise `error_type` for a request the platform refuses before any work."""
        raise NotImplementedError

    def _ok_response(self, request: Request, payload: Any) -> Response:
        raise NotImplementedError

    def _error_response(self, request: Request, error: E) -> Response:
        raise NotImplementedError


class OneToken:
    """Mixed in after the store class by a platform whose account accepts one token."""

    _lock: threading.RLock
    token = ""

    def set_token(self, token: str) -> None:
        """The account's valid token (e.g. a secret-looking one, to test scrubbing)."""
        with self._lock:
            self.token = token
