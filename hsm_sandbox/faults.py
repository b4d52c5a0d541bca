"""Injected failures: make the sandbox misbehave on purpose, N times or always.

Usable from Python (`server.faults.add(...)`) and over HTTP (`POST /_sandbox/faults` with
the same fields as JSON). A fault matches a method and a path: a substring of the path and
query as sent, or a regular expression when `regex` is true.
"""

from __future__ import annotations

import enum
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from hsm_sandbox.routing import Response


class FaultKind(enum.StrEnum):
    SERVER_ERROR = "server_error"  # HTTP 500 (or `status`), plain body
    TOO_MANY_REQUESTS = "too_many_requests"  # HTTP 429 with Retry-After: `seconds`
    RATE_LIMIT = "rate_limit"  # the platform's own rate-limit error, wait `seconds`
    SLOW = "slow"  # answer normally, but only after `seconds`
    MALFORMED = "malformed"  # HTTP 200 with `body` (default: cut-off JSON)
    REVOKED_TOKEN = "revoked_token"  # noqa: S105 (a name, not a secret). The platform's expired/revoked token error
    PERMISSION = "permission"  # the platform's missing-permission error


MALFORMED_BODY = '{"data": [{"id": "1", "message": "cut off'


@dataclass
class Fault:
    kind: FaultKind
    method: str = "*"  # or GET, POST, DELETE...
    path: str = ""  # substring of path?query, or a regex when `regex`
    regex: bool = False
    times: int | None = 1  # None: fires on every matching request
    seconds: float = 0.0  # Retry-After / delay / announced wait, per `kind`
    status: int | None = None  # HTTP status instead of the kind's usual one
    code: int | None = None  # platform error code instead of the usual one (e.g. Graph 4)
    body: str | None = None  # MALFORMED: the text to send
    id: int = 0
    fired: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Coerced here because faults also arrive as JSON over HTTP.
        self.method = str(self.method).upper()
        self.seconds = float(self.seconds)
        self.status = None if self.status is None else int(self.status)
        self.code = None if self.code is None else int(self.code)
        self.times = None if self.times is None else int(self.times)
        if self.times is not None and self.times < 1:
            raise ValueError("times must be 1 or more, or null for always")
        self._pattern = re.compile(self.path) if self.regex else None

    def matches(self, method: str, target: str) -> bool:
        if self.method not in ("*", method):
            return False
        if self._pattern is not None:
            return self._pattern.search(target) is not None
        return self.path in target

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "method": self.method,
            "path": self.path,
            "regex": self.regex,
            "times": self.times,
            "seconds": self.seconds,
            "status": self.status,
            "code": self.code,
            "body": self.body,
            "fired": self.fired,
        }


_JSON_FIELDS = {"kind", "method", "path", "regex", "times", "seconds", "status", "code", "body"}


class FaultSet:
    """The faults waiting to fire, in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(
        self,
        kind: FaultKind | str,
        *,
        method: str = "*",
        path: str = "",
        regex: bool = False,
        times: int | None = 1,
        seconds: float = 0.0,
        status: int | None = None,
        code: int | None = None,
        body: str | None = None,
    ) -> Fault:
        fault = Fault(FaultKind(kind), method, path, regex, times, seconds, status, code, body)
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def add_json(self, payload: object) -> Fault:
        """A fault from the JSON of `POST /_sandbox/faults`; ValueError if malformed."""
        if not isinstance(payload, dict) or "kind" not in payload:
            raise ValueError('expected a JSON object with at least "kind"')
        unknown = set(payload) - _JSON_FIELDS
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        try:
            return self.add(**payload)
        except (TypeError, re.error) as exc:
            raise ValueError(str(exc)) from None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, target: str) -> Fault | None:
        """The first fault matching this request, counted as fired (spent ones leave)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, target):
                    fault.fired += 1
                    if fault.times is not None and fault.fired >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None


def generic_response(fault: Fault) -> Response | None:
    """The answer of faults that look the same on every platform (None for the others)."""
    if fault.kind is FaultKind.SERVER_ERROR:
        return Response(
            fault.status or 500, b"Internal Server Error", {"Content-Type": "text/plain"}
        )
    if fault.kind is FaultKind.TOO_MANY_REQUESTS:
        return Response(
            fault.status or 429,
            b"Too Many Requests",
            {"Content-Type": "text/plain", "Retry-After": f"{fault.seconds:g}"},
        )
    if fault.kind is FaultKind.MALFORMED:
        body = MALFORMED_BODY if fault.body is None else fault.body
        return Response(
            fault.status or 200,
            body.encode("utf-8"),
            {"Content-Type": "application/json; charset=UTF-8"},
        )
    return None
