"""Requests, responses and the router the sandbox's platform modules plug into.

Each platform is one module with a class following `PlatformSandbox`: it registers its
routes on the shared `Router` and renders the faults that have a platform-specific shape
(a revoked token looks different on Facebook and on YouTube).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from hsm_sandbox.faults import Fault


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query_string: str  # as sent, still URL-encoded
    headers: Mapping[str, str]  # names in lower case
    body: bytes = b""

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    @property
    def target(self) -> str:
        """Path and query as sent, which faults match against."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    def form(self) -> dict[str, str]:
        """Body parameters, form-encoded or JSON (as Graph accepts both)."""
        if not self.body:
            return {}
        if self.headers.get("content-type", "").startswith("application/json"):
            try:
                loaded = json.loads(self.body)
            except ValueError:
                return {}
            if not isinstance(loaded, dict):
                return {}
            return {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in loaded.items()}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def param(self, name: str) -> str | None:
        """A parameter from the query string or, failing that, the body."""
        return self.query.get(name, self.form().get(name))


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        *,
        utf8: bool = False,
    ) -> Response:
        """`payload` with \\u escapes, as Graph writes them, or in raw UTF-8 (`utf8`); `headers`
        add to or replace the Content-Type."""
        body = json.dumps(payload, ensure_ascii=not utf8).encode()
        return cls(
            status, body, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
        )


Handler = Callable[[Request, "re.Match[str]"], Response]


class PlatformSandbox(Protocol):
    """What one platform module provides to the server."""

    def register(self, router: Router) -> None: ...

    def reset(self) -> None:
        """Back to the seed data."""

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """The answer a fault gives on this platform's routes."""


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    owner: PlatformSandbox


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, owner: PlatformSandbox) -> None:
        """Route `method` on paths fully matching the regex `pattern` (first added wins)."""
        self._routes.append(Route(method.upper(), re.compile(pattern), handler, owner))

    def match(self, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
        for route in self._routes:
            if route.method == method and (found := route.pattern.fullmatch(path)):
                return route, found
        return None
