"""The browser's way back to the console after a sign-in: a loopback redirect (RFC 8252).

A desktop program signs in through the system browser (never an embedded one) and receives
the answer on `http://127.0.0.1:PORT/callback`, a one-shot listener on an ephemeral port of
this computer's loopback address, which nothing off this computer can reach. It takes the
first request to that path, answers the browser with a short plain page, and ends: after the
answer, the timeout, or a cancel (a `threading.Event` set from another thread). The port is
always freed on the way out.

The state sent back must equal the one the sign-in began with (compared in constant time);
otherwise the answer did not come from that sign-in and is refused, code and all. No request
line, code or state is logged: `BaseHTTPRequestHandler` would print each request line, code
included, to the terminal.
"""

from __future__ import annotations

import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from hsm_console.errors import PlatformError, UserError

CALLBACK_PATH = "/callback"
_POLL = 0.1  # seconds between looks at the cancel flag and the clock

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HSM Console</title></head>
<body style="font-family: sans-serif; margin: 3em;"><h1>HSM Console</h1><p>{text}</p>
<p>You can close this window.</p></body></html>
"""


class SignInCancelled(UserError):
    """The person cancelled: in the browser (the platform said `access_denied`) or in the
    console. Nothing was stored."""


class SignInTimedOut(UserError):
    """No answer came back from the browser in time. Nothing was stored."""


class StateMismatch(UserError):
    """An answer came back that the sign-in did not ask for. Nothing was stored."""


class LoopbackRedirect:
    """One sign-in's redirect listener; `redirect_uri` is known as soon as it is made."""

    def __init__(self, path: str = CALLBACK_PATH) -> None:
        self._path = path
        self._server = HTTPServer(("127.0.0.1", 0), _Handler)
        self._server.timeout = _POLL
        self._server.answer = None  # type: ignore[attr-defined]
        self._server.state = None  # type: ignore[attr-defined]
        self._server.callback_path = path  # type: ignore[attr-defined]

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{self._path}"

    def __enter__(self) -> LoopbackRedirect:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Free the port (again harmless)."""
        self._server.server_close()

    def wait(
        self, state: str, timeout: float, cancel: threading.Event | None = None, *, platform: str
    ) -> str:
        """The code the browser brings back for the sign-in that sent `state`.

        Raises `SignInCancelled` (denied in the browser, or `cancel` set), `SignInTimedOut`,
        `StateMismatch`, or `PlatformError` for another error the platform sent back.
        """
        deadline = time.monotonic() + timeout
        self._server.state = state  # type: ignore[attr-defined]
        try:
            while self._server.answer is None:  # type: ignore[attr-defined]
                if cancel is not None and cancel.is_set():
                    raise SignInCancelled("The sign-in was cancelled. Nothing was stored.")
                if time.monotonic() >= deadline:
                    raise SignInTimedOut(
                        f"No answer came back from the {platform} sign-in in the browser within "
                        f"{timeout:g} seconds. Nothing was stored; connect the site again when "
                        "ready."
                    )
                self._server.handle_request()  # returns after one request or `_POLL`
            answer: dict[str, str] = self._server.answer  # type: ignore[attr-defined]
        finally:
            self.close()
        return _code(answer, state, platform)


def _code(answer: dict[str, str], state: str, platform: str) -> str:
    if not _same(answer.get("state", ""), state):
        raise StateMismatch(
            f"The answer that came back from the browser does not belong to this {platform} "
            "sign-in (its state does not match), so it was refused and nothing was stored. "
            "Connect the site again; if this repeats, tell the City's IT."
        )
    error = answer.get("error")
    if error == "access_denied":
        raise SignInCancelled(
            f"The {platform} sign-in was cancelled in the browser. Nothing was stored."
        )
    if error:
        raise PlatformError(
            f"{platform} ended the sign-in with an error, so nothing was stored. Connect the "
            "site again; if it repeats, tell the City's IT.",
            details=f"authorization error: {error[:100]}",
        )
    code = answer.get("code", "")
    if not code:
        raise PlatformError(
            f"{platform} sent the browser back without a sign-in code. Nothing was stored.",
            details="redirect without code or error",
        )
    return code


def _same(sent: str, state: str) -> bool:
    return hmac.compare_digest(sent.encode(), state.encode())


class _Handler(BaseHTTPRequestHandler):
    """Takes the redirect; any other path (a favicon) gets 404 and the wait goes on."""

    server: HTTPServer
    timeout = 5.0  # a browser's idle pre-connection must not hold the one-shot listener

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.callback_path:  # type: ignore[attr-defined]
            self._send(404, "Not found.")
            return
        answer = {key: values[0] for key, values in parse_qs(parts.query).items()}
        self.server.answer = answer  # type: ignore[attr-defined]
        expected: str | None = self.server.state  # type: ignore[attr-defined]
        if expected is None or not _same(answer.get("state", ""), expected):
            self._send(400, "This answer does not belong to the sign-in HSM Console started, "
                       "so it was refused.")  # fmt: skip
        elif answer.get("code") and not answer.get("error"):
            self._send(200, "The sign-in is complete: HSM Console is finishing the connection.")
        else:
            self._send(200, "The sign-in did not complete. HSM Console says why.")

    def _send(self, status: int, text: str) -> None:
        body = _PAGE.format(text=text).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request line holds the code."""
