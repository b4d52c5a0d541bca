"""What Facebook's and Instagram's sandboxes share because both are Meta's Graph API: its
errors, tokens, time format, cursor paging, usage headers, and the comment actions."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from hsm_sandbox.faults import Fault, FaultKind, generic_response
from hsm_sandbox.paging import Pager, beyond
from hsm_sandbox.params import bearer
from hsm_sandbox.routing import Request, Response
from hsm_sandbox.store import C, CommentStore, Key
from hsm_sandbox.tokens import TokenState

VERSION = r"/(?P<version>v\d+\.\d+)"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
_CURSORS = Pager(separator=":")

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

    def body(self, trace_id: str, *, transient: bool | None = None) -> dict[str, Any]:
        """The answer's JSON; Instagram adds `is_transient`, Facebook does not."""
        body: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code}
        if transient is not None:
            body["is_transient"] = transient
        body["fbtrace_id"] = trace_id
        if self.subcode is not None:
            body["error_subcode"] = self.subcode
        return {"error": body}


class GraphStore(CommentStore[C, GraphError]):
    """A Graph comment store: Graph's answers, usage headers, faults, hiding and deleting.

    A platform sets the class attributes and implements `_owner` (whose usage a request
    counts against), `_authorise` and `_fault_error` (and `_fault_owner` where a fault counts
    against another owner); its `reset` clears `_calls`.
    """

    error_type = GraphError
    hide_param: ClassVar[str]  # the boolean a hide call sends: `is_hidden`, or `hide`
    trace_prefix: ClassVar[str]  # of `fbtrace_id`
    usage_type: ClassVar[str]  # in `X-Business-Use-Case-Usage`
    transient_code: ClassVar[int | None] = None  # the one error code marked `is_transient`

    def __init__(self) -> None:
        super().__init__()
        self._trace = 0
        self._calls: dict[str, int] = {}  # owner id -> calls since the last reset

    def fault_response(self, fault: Fault, request: Request) -> Response:
        with self._lock:
            owner = self._fault_owner(request)
            generic = generic_response(fault)
            if generic is not None:
                generic.headers.update(self._usage_headers(owner))
                return generic
            error = self._fault_error(fault)
            if fault.kind is FaultKind.RATE_LIMIT:
                minutes = math.ceil(fault.seconds / 60)
                return self._error(error, owner, regain_minutes=minutes, used=100)
            return self._error(error, owner)

    # --- handlers ---------------------------------------------------------------------

    def _set_hidden(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        comment = self._live_comment(match["id"], "post")
        value = request.param(self.hide_param)
        if value is None:
            raise GraphError(400, 100, "(#100) No supported parameter was provided")
        if value.lower() not in ("true", "false", "1", "0"):
            raise GraphError(400, 100, f"(#100) Param {self.hide_param} must be a boolean")
        comment.hidden = value.lower() in ("true", "1")
        return {"success": True}

    def _delete_object(self, request: Request, match: re.Match[str]) -> dict[str, Any]:
        self._delete(self._live_comment(match["id"], "delete"))
        return {"success": True}

    def _live_comment(self, comment_id: str, method: str) -> C:
        comment = self._live(comment_id)
        if comment is None:
            raise gone(method.upper(), comment_id)
        return comment

    # --- answering ----------------------------------------------------------------------

    def _owner(self, request: Request) -> str:
        raise NotImplementedError

    def _fault_owner(self, request: Request) -> str:
        return self._owner(request)

    def _authorise(self, request: Request, owner: str) -> None:
        raise NotImplementedError

    def _admit(self, request: Request) -> None:
        owner = self._owner(request)
        self._calls[owner] = self._calls.get(owner, 0) + 1
        self._authorise(request, owner)

    def _ok_response(self, request: Request, payload: Any) -> Response:
        return self._json(200, payload, self._usage_headers(self._owner(request)))

    def _error_response(self, request: Request, error: GraphError) -> Response:
        return self._error(error, self._owner(request))

    def _error(
        self, error: GraphError, owner: str, *, regain_minutes: int = 0, used: int | None = None
    ) -> Response:
        self._trace += 1
        transient = None if self.transient_code is None else error.code == self.transient_code
        body = error.body(f"{self.trace_prefix}{self._trace:06d}", transient=transient)
        headers = self._usage_headers(owner, regain_minutes=regain_minutes, used=used)
        return Response.json(error.status, body, headers)

    def _usage_headers(
        self, owner: str, *, regain_minutes: int = 0, used: int | None = None
    ) -> dict[str, str]:
        """Plausible usage percentages, growing with the calls seen since the last reset."""
        percent = used if used is not None else min(99, self._calls.get(owner, 0) // 20)
        app = {"call_count": percent, "total_cputime": percent // 2, "total_time": percent // 2}
        buc = {
            owner: [
                {
                    "type": self.usage_type,
                    "call_count": percent,
                    "total_cputime": percent // 2,
                    "total_time": percent // 2,
                    "estimated_time_to_regain_access": regain_minutes,
                }
            ]
        }
        return {"X-App-Usage": json.dumps(app), "X-Business-Use-Case-Usage": json.dumps(buc)}


def checked_token(
    request: Request, state: Callable[[str], TokenState | None], platform: str
) -> str:
    """The request's token, refused unless `state` says it is live: one that lapsed as
    Graph refuses an expired or invalidated session, any other as unparseable."""
    token = token_of(request)
    if token is None:
        raise GraphError(400, 190, "An access token is required to request this resource.")
    found = state(token)
    if found is TokenState.REVOKED:
        raise revoked(190, 400, platform)
    if found is TokenState.EXPIRED:
        raise GraphError(
            400, 190, "Error validating access token: Session has expired.", subcode=463
        )
    if found is None:
        raise GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")
    return token


def token_of(request: Request) -> str | None:
    token = bearer(request)
    return token if token is not None else request.param("access_token")


def gone(method: str, object_id: str) -> GraphError:
    return GraphError(
        400,
        100,
        GONE_MESSAGE.format(method=method.lower(), id=object_id),
        kind="GraphMethodException",
        subcode=33,
    )


def revoked(code: int, status: int, platform: str) -> GraphError:
    return GraphError(
        status,
        code,
        "Error validating access token: The session has been invalidated because the user "
        f"changed their password or {platform} has changed the session for security reasons.",
        subcode=460,
    )


def unknown_field(name: str, node: str) -> GraphError:
    return GraphError(
        400, 100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})"
    )


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


encode_cursor = _CURSORS.encode


def _decode_cursor(cursor: str) -> Key:
    key = _CURSORS.decode(cursor)
    if key is None:
        raise GraphError(400, 100, "(#100) The cursor is invalid")
    return key


def _limit(request: Request) -> int:
    value = request.query.get("limit", str(DEFAULT_LIMIT))
    if not value.isdigit() or int(value) < 1:
        raise GraphError(400, 100, "(#100) Param limit must be a positive integer")
    return min(int(value), MAX_LIMIT)


def paginate(
    request: Request,
    keyed: Sequence[tuple[Key, Any]],
    *,
    newest_first: bool,
    render: Callable[[Any], dict[str, Any]],
    backward: bool,
) -> dict[str, Any]:
    """One page of `keyed` (already in answer order), with Graph's cursor paging: `after`
    and `next`, and with `backward` (Facebook, not Instagram) `before` and `previous` too.

    Cursors hold the sort key, not a position, so comments deleted or added between calls
    neither skip nor repeat any of the rest.
    """
    after = request.query.get("after")
    before = request.query.get("before") if backward else None
    items = list(keyed)
    if after:
        cut = _decode_cursor(after)
        items = [item for item in keyed if beyond(item[0], cut, newest_first=newest_first)]
    elif before:
        cut = _decode_cursor(before)
        items = [item for item in keyed if beyond(cut, item[0], newest_first=newest_first)]
    limit = _limit(request)
    window = items[-limit:] if before and not after else items[:limit]
    answer: dict[str, Any] = {"data": [render(value) for _, value in window]}
    if not window:
        return answer
    first, last = encode_cursor(window[0][0]), encode_cursor(window[-1][0])
    paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
    base = f"http://{request.headers.get('host', '127.0.0.1')}{request.path}"
    dropped = ("after", "before", "access_token") if backward else ("after", "access_token")
    params = {k: v for k, v in request.query.items() if k not in dropped}
    if any(beyond(item[0], window[-1][0], newest_first=newest_first) for item in keyed):
        paging["next"] = f"{base}?{urlencode({**params, 'after': last})}"
    if backward and any(beyond(window[0][0], item[0], newest_first=newest_first) for item in keyed):
        paging["previous"] = f"{base}?{urlencode({**params, 'before': first})}"
    answer["paging"] = paging
    return answer
