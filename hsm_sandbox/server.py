"""The sandbox's HTTP server: loopback only, one thread per request, faults on demand.

Platform modules (`graph.py` for Facebook, and one per platform) register their
routes on one `Router`, and so does `signin.SignIn` (each platform's sign-in, tokens and
clock: `server.signin`); this module owns the sockets, the request log, the fault set and
the control endpoints under `/_sandbox/`:

    POST   /_sandbox/faults   add a fault (JSON with the fields of `FaultSet.add`)
    GET    /_sandbox/faults   list the faults still waiting to fire
    DELETE /_sandbox/faults   clear them
    POST   /_sandbox/reset    back to the seed data, no faults, empty request log
    POST   /_sandbox/clock    move the sign-in's clock: {"advance_seconds": N} (tokens age)
    POST   /_sandbox/revoke   revoke every token of a platform: {"platform": "x"} (as a person
                              removing the app would)
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from hsm_sandbox.faults import FaultKind, FaultSet
from hsm_sandbox.graph import GraphSandbox
from hsm_sandbox.platforms import other_platforms
from hsm_sandbox.routing import PlatformSandbox, Request, Response, Router
from hsm_sandbox.seed import DEMO, SeedData
from hsm_sandbox.signin import SignIn

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox/"


class SandboxState:
    """Every platform's data; each platform module guards its own with a lock.

    Facebook answers at the root (`/{version}/...`); every other platform under its own
    prefix (`/instagram/...`, `/youtube/...`), which a site's base URL includes.
    """

    def __init__(self, seed: SeedData) -> None:
        self.facebook = GraphSandbox(seed)
        self.others: dict[str, PlatformSandbox] = other_platforms(seed)

    def __getitem__(self, platform: str) -> PlatformSandbox:
        return self.facebook if platform == "facebook" else self.others[platform]

    @property
    def platforms(self) -> tuple[PlatformSandbox, ...]:
        return (self.facebook, *self.others.values())


@dataclass(frozen=True)
class SeenRequest:
    """A platform request as the sandbox received it (for tests to count and inspect)."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # names in lower case


class SandboxServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: SeedData | None = None):
        try:
            loopback = ipaddress.IPv4Address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"The sandbox listens on 127.x.x.x only, not on {host!r}.")
        self.faults = FaultSet()
        self.state = SandboxState(seed or DEMO)
        self.router = Router()
        # Sign-in first: Facebook Login's paths sit among Graph's.
        self.signin = SignIn(seed or DEMO, self.state.facebook, self.state.others)
        self.signin.register(self.router)
        for platform in self.state.platforms:
            platform.register(self.router)
        self._seen: list[SeenRequest] = []
        self._seen_lock = threading.Lock()
        self._stopping = threading.Event()  # wakes SLOW faults so stop() is quick
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Serve on a background daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="hsm-sandbox",
            daemon=True,
        )
        self._thread.start()
        log.info("Sandbox serving at %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted (for the command line)."""
        log.info("Sandbox serving at %s", self.url)
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._stopping.set()
            self._httpd.server_close()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        for platform in self.state.platforms:
            platform.reset()
        self.signin.reset()
        self.faults.clear()
        with self._seen_lock:
            self._seen.clear()

    def requests_seen(
        self, method: str | None = None, path_contains: str = ""
    ) -> list[SeenRequest]:
        """Platform requests received so far (control requests are not counted)."""
        with self._seen_lock:
            return [
                seen
                for seen in self._seen
                if (method is None or seen.method == method) and path_contains in seen.path
            ]

    def handle(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        with self._seen_lock:
            self._seen.append(
                SeenRequest(
                    request.method, request.path, request.query_string, dict(request.headers)
                )
            )
        found = self.router.match(request.method, request.path)
        if found is None:
            return Response.json(
                404,
                {
                    "error": {
                        "message": f"The sandbox has no route for {request.method} {request.path}"
                    }
                },
            )
        route, match = found
        fault = self.faults.take(request.method, request.target)
        if fault is not None and fault.kind is FaultKind.SLOW:
            self._stopping.wait(fault.seconds)
            fault = None
        if fault is not None:
            return route.owner.fault_response(fault, request)
        return route.handler(request, match)

    def _control(self, request: Request) -> Response:
        action = (request.method, request.path.removeprefix(CONTROL_PREFIX).rstrip("/"))
        if action == ("POST", "faults"):
            try:
                fault = self.faults.add_json(json.loads(request.body or b"null"))
            except ValueError as exc:
                return Response.json(400, {"error": {"message": f"Bad fault: {exc}"}})
            return Response.json(201, fault.to_json())
        if action == ("GET", "faults"):
            return Response.json(200, {"data": [f.to_json() for f in self.faults.active()]})
        if action == ("DELETE", "faults"):
            self.faults.clear()
            return Response.json(200, {"success": True})
        if action == ("POST", "clock"):
            payload = _object(request.body)
            seconds = payload.get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                message = 'Bad clock move: expected {"advance_seconds": a number >= 0}'
                return Response.json(400, {"error": {"message": message}})
            self.signin.advance(timedelta(seconds=seconds))
            return Response.json(200, {"now": self.signin.clock.now().isoformat()})
        if action == ("POST", "revoke"):
            platform = _object(request.body).get("platform")
            if not isinstance(platform, str) or platform not in self.signin.providers:
                known = ", ".join(self.signin.providers)
                message = f'Bad revoke: expected {{"platform": one of {known}}}'
                return Response.json(400, {"error": {"message": message}})
            return Response.json(200, {"revoked": self.signin.revoke_all(platform)})
        if action == ("POST", "reset"):
            self.reset()
            return Response.json(200, {"success": True})
        return Response.json(404, {"error": {"message": f"No sandbox control {action}"}})


def _object(body: bytes) -> dict[str, Any]:
    """A control request's JSON object; {} for anything else, which the control refuses."""
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a client that hangs up mid-answer must not block stop()

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are part of the fault tests, not news.
        log.debug("Sandbox connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs and `requests` use it
    timeout = 30  # idle keep-alive connections close after this
    disable_nagle_algorithm = True  # headers and body go out separately: no 40 ms ACK waits
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path,
            query_string=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        try:
            response = self.server.sandbox.handle(request)
        except Exception:
            log.exception("Sandbox failed on %s %s", request.method, request.path)
            response = Response.json(500, {"error": {"message": "sandbox bug, see its log"}})
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The path only: a query string may carry an access_token.
        log.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("Sandbox: " + format, *args)
