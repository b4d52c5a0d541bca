"""The comment store every platform sandbox extends, so each module keeps only its own API.

How a platform module plugs in:

1. Comments. Its live comment is a `Comment[Record]`, `Record` being the module's frozen
   dataclass for a comment as seeded or added (`IgComment`), kept in `Comment.seed`. The
   other fields are what every platform has: `id` (what the test helpers take), `post_id`
   (the post, video, media, topic or conversation it is on), `parent_id`, `created`, the
   current `text`, `hidden`, `deleted`, and a test's `extra` and `omit` payload fields, which
   `Comment.injected(rendered)` applies. State of its own (YouTube's moderation status, X's
   edit versions, Discourse's deleted_at) goes in a dataclass subclassing `Comment`; `key`
   ((created timestamp, id): sort key and cursor content) may be overridden there.
2. The class. `class TikTokSandbox(CommentStore[Comment[TtComment], TikTokError], OneToken)`:
   `CommentStore` parametrised with the comment type and the platform's error exception,
   plus the `OneToken` mixin (`token`, `set_token(token)`) where the account accepts one
   token, and checks a request's with `self.accepts(token)`, which also takes the live
   tokens the sandbox's sign-in issued (`signin.py`) (Facebook's Pages have a token each, so
   Graph keeps its own `set_token` and check). It sets
   the class attribute `error_type`, calls `super().__init__()` before its own `reset()`, and
   `reset()` calls `self._load(comments)` (and sets `self.token`) under `self._lock`.
3. Routes. `router.add(method, pattern, self._route(handler), self)`: the handler takes
   `(request, match)`, returns the payload and raises `error_type` to refuse. `_answer` runs
   it under the lock after the hook `_admit(request)` (token check, call counting, quota),
   then answers with the hook `_ok_response(request, payload)` or `_error_response(request,
   error)`. The inherited `_ok_response` sends the payload through `_json` (the class
   attributes `json_headers` and `json_utf8` say how the platform writes JSON; the raw bytes
   of `_raw_text` are put back) and None, from a delete, as the body-less `empty`. A platform
   answering otherwise builds its answer with `_json` too (headers of the route, an
   envelope), or passes JSON of its own (WordPress's PHP-style) through `_spliced`. The
   hooks see the request, so what depends on the route (YouTube's quota cost, X's rate-limit
   family) is found from its path. A module with more to do around a handler calls
   `_answer(request, work)` from its own wrapper. Facebook and Instagram share all of this,
   and their hide and delete handlers, as `meta.GraphStore`.
   Injected faults: the inherited `fault_response` answers the kinds every platform shares
   alike (`faults.generic_response`) and the others with the hook `_fault_error(fault)`,
   the refusal it stands for, through `_error_response`.
4. Test helpers, inherited: `comments_on(post_id)` (the records of a post's live comments,
   with the current text put in the record's `text_field`), `is_hidden`, `is_deleted`,
   `delete_comment` (its replies go too) and `edit_comment(id, text)`, which take the id as a
   string or a number (WordPress and Discourse number theirs: store `str(number)` as `id`).
   The module writes its own `add_comment`: it builds the comment and passes it to
   `_add(comment, extra, omit)`, with `_added_time(when)` for the default time and
   `_raw_text(id, raw)` for a text of invalid UTF-8; an edit helper taking a time (`at`)
   uses `_edited_time(comment, at)`.
5. State helpers: `_live(id)` (None if unknown or deleted), `_on(post_id)` (a post's live
   comments and replies, in store order), `_replies_of(comment)` (live, oldest first).
6. Seeding: `threaded(seed_comments, make)` turns a seed's comments into the platform's,
   handing `make` what it made of the parent, so the module says only how one is made.

A platform that differs overrides instead of adding a flag here: X indexes every edit
version's id (override `_add`) and its `edit_comment` returns the new id; YouTube keeps a
deleted comment's replies but hides them (override `_delete`); LinkedIn's helpers take
URNs, so its `Comment.id` is the URN. An override keeps the base's parameter types
(`comment_id: str | int`) and may add keyword parameters with defaults (an edit's time), so
that mypy --strict accepts it.

Keyset paging with opaque tokens is `paging.Pager`, and reading parameters (selections,
ranges, choices, bearer tokens) is `params`: each API passes its token look, parameter names
and errors. Time formats and error bodies are each API's own and stay in its module (Graph's
in `meta.py`); `epoch_ms` is here because TikTok and LinkedIn both send it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from hsm_sandbox.faults import Fault, FaultKind, generic_response
from hsm_sandbox.routing import Request, Response
from hsm_sandbox.seed import SeedComment
from hsm_sandbox.tokens import TokenRegistry, TokenState

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

S = TypeVar("S")
T = TypeVar("T")
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
    # How `_json` writes answers: headers over Response.json's, and raw UTF-8 or \u escapes.
    json_headers: ClassVar[Mapping[str, str]] = {}
    json_utf8: ClassVar[bool] = False
    empty: ClassVar[tuple[int, Mapping[str, str]]] = (204, {})  # a delete's status and headers

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._comments: list[C] = []
        self._by_id: dict[str, C] = {}
        self._raw_bytes: dict[str, bytes] = {}  # marker -> the bytes sent in its place

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """The answer to an injected fault: the shape every platform shares for the generic
        kinds, else the hook `_fault_error(fault)` rendered as a refusal."""
        with self._lock:
            generic = generic_response(fault)
            if generic is not None:
                return generic
            return self._error_response(request, self._fault_error(fault))

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

    def edit_comment(self, comment_id: str | int, new_text: str) -> str | None:
        """Change a comment's text as an author's edit would. The id stays, so this returns
        None; a platform whose edits get a new id (X) returns that instead."""
        with self._lock:
            self._by_id[str(comment_id)].text = new_text
        return None

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

    def _added_time(self, when: datetime | None, later: timedelta = timedelta(0)) -> datetime:
        """A new comment's time: `when`, or `later` than the newest comment's, to whole UTC
        seconds (a platform whose listings need a strict order passes a second)."""
        moment = when or max(c.created for c in self._comments) + later
        return moment.astimezone(UTC).replace(microsecond=0)

    def _edited_time(self, comment: C, at: datetime | None) -> datetime:
        """An author's edit of `comment`: `at`, or now but a second after the comment at the
        least, to whole UTC seconds."""
        when = at or max(datetime.now(UTC), comment.created + timedelta(seconds=1))
        return when.astimezone(UTC).replace(microsecond=0)

    def _raw_text(self, comment_id: str, raw: bytes) -> str:
        """The text standing in for `raw`, which `_spliced` puts back byte for byte (invalid
        UTF-8 on purpose; the bytes must hold no quotes or backslashes, as JSON escapes
        those and the splice would not)."""
        if b'"' in raw or b"\\" in raw:
            raise ValueError("raw text must not contain a quote or a backslash")
        marker = self.raw_marker.format(id=comment_id)
        self._raw_bytes[marker] = raw
        return marker

    def _spliced(self, response: Response) -> Response:
        """`response` with the raw bytes of `_raw_text` put back."""
        for marker, raw in self._raw_bytes.items():
            response.body = response.body.replace(marker.encode("ascii"), raw)
        return response

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

    def _json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> Response:
        """`payload` as the platform writes JSON, with the raw bytes of `_raw_text` put back."""
        merged = {**self.json_headers, **(headers or {})}
        return self._spliced(Response.json(status, payload, merged, utf8=self.json_utf8))

    def _ok_response(self, request: Request, payload: Any) -> Response:
        """The handler's payload as JSON; None (a delete) as the body-less `empty` answer."""
        if payload is None:
            status, headers = self.empty
            return Response(status, b"", dict(headers))
        return self._json(200, payload)

    def _error_response(self, request: Request, error: E) -> Response:
        raise NotImplementedError

    def _fault_error(self, fault: Fault) -> E:
        """The refusal a non-generic fault (rate limit, revoked token, permission) stands for;
        raise ValueError for a kind the platform has no shape for."""
        raise NotImplementedError


class OneToken:
    """Mixed in after the store class by a platform whose account accepts one token: its
    seeded `token`, and those the sandbox's sign-in issued for it (`accept_issued`)."""

    _lock: threading.RLock
    token = ""
    _issued: TokenRegistry | None = None
    _platform = ""
    _lapsed_codes: Mapping[TokenState, int] = {}

    def set_token(self, token: str) -> None:
        """The account's valid token (e.g. a secret-looking one, to test scrubbing)."""
        with self._lock:
            self.token = token

    def accept_issued(
        self, tokens: TokenRegistry, platform: str, lapsed_codes: Mapping[TokenState, int]
    ) -> None:
        """Accept the live tokens `tokens` issued for `platform` too; one that expired or was
        revoked is refused as the platform's revoked-token fault with the code
        `lapsed_codes` gives its state (a platform without a distinct code for it refuses it
        as any unknown token)."""
        self._issued, self._platform, self._lapsed_codes = tokens, platform, lapsed_codes

    def token_state(self, token: str | None) -> TokenState | None:
        """LIVE for the seeded token, the sign-in's state of one it issued, else None."""
        if token and token == self.token:
            return TokenState.LIVE
        return None if self._issued is None else self._issued.state(self._platform, token)

    def accepts(self, token: str | None) -> bool:
        """Whether `token` opens the account (raising the platform's error for a lapsed one
        where it has a code of its own)."""
        state = self.token_state(token)
        if state is not None and state in self._lapsed_codes:
            code = self._lapsed_codes[state]
            raise self._fault_error(Fault(FaultKind.REVOKED_TOKEN, code=code))
        return state is TokenState.LIVE

    def _fault_error(self, fault: Fault) -> Exception:
        raise NotImplementedError  # the store's own comes first in the platform's MRO


def threaded(
    comments: Iterable[SeedComment], make: Callable[[SeedComment, T | None], T]
) -> list[T]:
    """What `make(comment, parent)` makes of each seed comment, `parent` being what it made of
    the comment replied to (a seed lists parents first); a platform whose threads are one level
    deep replies to that one's parent, if it has one."""
    made: dict[str, T] = {}
    for comment in comments:
        made[comment.id] = make(comment, made[comment.parent_id] if comment.parent_id else None)
    return list(made.values())


def epoch_ms(moment: datetime) -> int:
    """A time as the milliseconds since the epoch that TikTok and LinkedIn send."""
    return int(moment.timestamp() * 1000)
