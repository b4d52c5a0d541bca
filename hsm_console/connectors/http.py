"""The one HTTP helper every connector uses: a session, timeouts, retries, rate limits.

Each connector passes an `error_parser` that turns its platform's error answers into a
`PlatformError` a moderator can read. The client then decides what to do with it:
5xx answers, dropped connections and timeouts are retried with exponential back-off;
a rate limit (HTTP 429, or any error that carries `retry_after`) is raised at once, because
hammering a platform that asked us to wait only extends the wait.

A platform that says the site's token expired or was revoked (HTTP 401, or its own code,
which its parser sets as `token_lapsed`; TikTok says so in an HTTP 200 envelope, read by the
connector's `answer_error`) gets one call more with a renewed token, when the site has a
`Credential` that renews.

Secrets travel only in `auth_headers`; their values are scrubbed from every message,
detail and log line the client produces, and never appear in its repr.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from hsm_console import __version__
from hsm_console.connectors.base import JSON
from hsm_console.errors import ConfigurationError, PlatformError

log = logging.getLogger(__name__)

USER_AGENT = f"HSM-Console/{__version__}"

# Turns one non-2xx answer into the error a moderator reads. It must set `retryable` and
# `retry_after` for rate limits: the client raises those instead of retrying them.
ErrorParser = Callable[[requests.Response], PlatformError]
# The error a successful (2xx) answer carries in its body, for platforms that answer HTTP 200
# to a refused call (TikTok's envelope); None when the answer is a success.
AnswerError = Callable[[requests.Response], PlatformError | None]

Params = Mapping[str, str | int]

_EXCERPT = 300  # characters of an unreadable body kept in `details`

# Dropped, refused or cut-off connections: worth another try.
_NETWORK_ERRORS = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class HttpSettings:
    """Network settings of one site, read from `SiteConfig.settings`."""

    timeout: float = 15.0  # seconds per attempt (connect and read)
    retries: int = 3  # extra attempts after the first on 5xx / network errors / timeouts
    backoff: float = 0.5  # first wait in seconds; doubles on each retry

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> HttpSettings:
        try:
            made = cls(
                timeout=float(settings.get("timeout", cls.timeout)),
                retries=int(settings.get("retries", cls.retries)),
                backoff=float(settings.get("backoff", cls.backoff)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                "The site's network settings (timeout, retries, backoff) must be numbers.",
                details=str(exc),
            ) from None
        if made.timeout <= 0 or made.retries < 0 or made.backoff < 0:
            raise ConfigurationError(
                "The site's network settings are out of range: timeout must be above 0, "
                "retries and backoff 0 or more."
            )
        return made

    @property
    def longest_call(self) -> float:
        """Seconds one call can last at most: every attempt timing out (one more after a
        token renewal) and every back-off between them."""
        return (self.retries + 2) * self.timeout + self.backoff * float(2**self.retries - 1)


def retry_after_seconds(response: requests.Response) -> float | None:
    """The `Retry-After` header in seconds (it may be a number or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def wait_text(seconds: float) -> str:
    """How long to wait, as a moderator would say it ("about 15 minutes")."""
    if seconds < 60:
        whole = max(1, math.ceil(seconds))
        return f"about {whole} second{'s' if whole != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    text = f"about {hours} hour{'s' if hours != 1 else ''}"
    return f"{text} {rest} minute{'s' if rest != 1 else ''}" if rest else text


def error_body(response: requests.Response) -> Mapping[str, Any]:
    """The JSON object of an error answer ({} when the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _secrets_in(headers: Mapping[str, str], more: Iterable[str]) -> tuple[str, ...]:
    """Header values to scrub, and the credential alone ("Bearer abc" -> also "abc")."""
    found = set(more)
    for value in headers.values():
        found.add(value)
        _, _, credential = value.partition(" ")
        found.add(credential.strip())
    # Longest first, so a full value is replaced before the credential inside it.
    return tuple(sorted((v for v in found if v), key=len, reverse=True))


class Credential(Protocol):
    """Auth headers that may change between calls (a token that renews itself)."""

    def headers(self) -> Mapping[str, str]: ...

    def renewed(self, refused: Mapping[str, str]) -> Mapping[str, str]:
        """Headers to try once more with after the platform refused `refused` as expired or
        revoked (HTTP 401 or the platform's own code)."""
        ...


class ApiClient:
    """JSON over HTTPS to one platform, with one `requests.Session`."""

    def __init__(
        self,
        base_url: str,
        *,
        platform_name: str,
        error_parser: ErrorParser,
        auth_headers: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        settings: HttpSettings | None = None,
        credential: Credential | None = None,
        answer_error: AnswerError | None = None,
    ) -> None:
        """`headers` are sent as they are (e.g. an API version: an error naming it must still
        name it); `auth_headers` and `secrets` are scrubbed from everything the client says.
        A `credential` replaces `auth_headers` on each call, and is renewed once when the
        platform says the token lapsed. `answer_error` reads errors out of 2xx answers."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"The address of the {platform_name} site must start with https:// "
                f"(it is {base_url!r})."
            )
        self.base_url = base_url.rstrip("/")
        self.platform_name = platform_name  # as moderators say it: "Facebook"
        self.settings = settings or HttpSettings()
        self._error_parser = error_parser
        self._secrets = _secrets_in(auth_headers or {}, secrets)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.headers["Accept"] = "application/json"
        self._session.headers.update(headers or {})
        self._session.headers.update(auth_headers or {})
        self._credential = credential
        self._answer_error = answer_error

    def __repr__(self) -> str:
        return f"ApiClient({self.platform_name!r}, {self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def get(self, path: str, params: Params | None = None) -> JSON:
        return self.request("GET", path, params=params)

    def post(self, path: str, data: Params | None = None, *, json_body: JSON | None = None) -> JSON:
        return self.request("POST", path, data=data, json_body=json_body)

    def delete(self, path: str, params: Params | None = None) -> JSON:
        return self.request("DELETE", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Params | None = None,
        json_body: JSON | None = None,
    ) -> JSON:
        """Send one call (retrying where that can help) and return its JSON object.

        `data` goes form-encoded; `json_body` as JSON, for APIs that want JSON bodies.
        """
        response = self.send(method, path, params=params, data=data, json_body=json_body)
        return self._json_object(response, method, path)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Params | None = None,
        json_body: JSON | None = None,
    ) -> requests.Response:
        """Send one call as `request` does and return the successful response unread: for
        answers without content (HTTP 204) and bodies that are not one JSON object."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        attempts = self.settings.retries + 1
        auth = self._auth_headers()
        renewed = False
        attempt = 0
        while attempt < attempts:
            attempt += 1
            started = time.monotonic()
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    json=json_body,
                    headers=auth,
                    timeout=self.settings.timeout,
                )
            except requests.Timeout:
                failure = PlatformError(
                    f"{self.platform_name} did not answer within {self.settings.timeout:g} "
                    "seconds. It may be busy; try again in a few minutes.",
                    details=f"{method} {path}: timed out after {attempt} attempt(s)",
                    retryable=True,
                )
            except _NETWORK_ERRORS as exc:
                failure = PlatformError(
                    f"The console could not reach {self.platform_name}. Check this "
                    "computer's network connection, then try again.",
                    details=f"{method} {path}: {type(exc).__name__} after {attempt} attempt(s)",
                    retryable=True,
                )
            else:
                log.debug(
                    "%s %s -> %s in %.3f s (attempt %d)",
                    method,
                    path,
                    response.status_code,
                    time.monotonic() - started,
                    attempt,
                )
                if response.ok:
                    refused = self._answer_error(response) if self._answer_error else None
                    if refused is None:
                        return response
                    refused.details = f"{method} {path}: {refused.details}"
                else:
                    refused = self._error_parser(response)
                    refused.token_lapsed = refused.token_lapsed or response.status_code == 401
                if refused.token_lapsed and self._credential and not renewed:
                    # Once per call: a token refused right after renewal is not a lapse.
                    auth = self._auth_headers(self._credential.renewed(auth))
                    renewed = True
                    attempt -= 1
                    continue
                failure = self._scrubbed(refused)
                # A platform that names a wait is rate limiting: retrying now only hurts.
                if response.status_code < 500 or failure.retry_after is not None:
                    raise failure
            if attempt < attempts:
                delay = self.settings.backoff * 2 ** (attempt - 1)
                log.debug("%s %s failed (%s); retrying in %.2f s", method, path, failure, delay)
                time.sleep(delay)
        raise failure

    def _auth_headers(self, given: Mapping[str, str] | None = None) -> dict[str, str]:
        """The credential's headers for the next call; their values join the scrubbed
        secrets (and stay there: an old token may still be quoted by an error)."""
        if self._credential is None:
            return {}
        headers = dict(self._credential.headers() if given is None else given)
        self._secrets = _secrets_in(headers, self._secrets)
        return headers

    def _json_object(self, response: requests.Response, method: str, path: str) -> JSON:
        # JSON is UTF-8 (RFC 8259); without a charset `requests` would guess one for the whole
        # body. Stray invalid bytes become lone surrogates rather than U+FFFD, so the item
        # that holds them is skipped as unreadable (`payload.identified`) instead of being
        # kept with text its author never wrote; the rest of the body stays exact.
        try:
            text = response.content.decode(response.encoding or "utf-8", "surrogateescape")
            body = json.loads(text)
        except (ValueError, LookupError):  # not JSON, or a charset Python does not know
            body = None
        if isinstance(body, dict):
            return body
        raise PlatformError(
            f"{self.platform_name} answered with something the console cannot read. "
            "Try again later; if it keeps happening, tell an administrator.",
            details=self.scrub(
                f"{method} {path}: HTTP {response.status_code}, "
                f"{response.headers.get('Content-Type', 'no content type')}: "
                f"{response.content[:_EXCERPT].decode('utf-8', 'replace')!r}"
            ),
            retryable=True,
        )

    def scrub(self, text: str) -> str:
        """The text with every secret of this client replaced by "[redacted]"."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _scrubbed(self, error: PlatformError) -> PlatformError:
        return PlatformError(
            self.scrub(error.message),
            details=self.scrub(error.details),
            retryable=error.retryable,
            retry_after=error.retry_after,
            gone=error.gone,
            token_lapsed=error.token_lapsed,
        )
