"""The base of every connector that reaches its platform through the shared `ApiClient`.

It lives apart from `base.py`, which stays the bare interface: a connector that needs no
network (a test double, an import from a file) implements `Connector` without `requests`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hsm_console.connectors.base import Connector, SiteConfig, TokenSource
from hsm_console.connectors.http import AnswerError, ApiClient, ErrorParser, HttpSettings
from hsm_console.errors import ConfigurationError, PlatformError


class HttpConnector(Connector):
    """Owns one `ApiClient` for the site, named as moderators name the platform.

    Subclasses check their own settings first, then call this `__init__` with how their
    platform reports errors and how the site's credential travels.
    """

    def __init__(
        self,
        site: SiteConfig,
        error_parser: ErrorParser,
        *,
        auth_headers: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        answer_error: AnswerError | None = None,
    ) -> None:
        super().__init__(site)
        renewing = _RenewingHeaders(auth_headers, site.token, site.tokens) if site.tokens else None
        self._client = ApiClient(
            site.base_url,
            platform_name=self.platform.label,
            error_parser=error_parser,
            auth_headers=auth_headers,
            headers=headers,
            secrets=secrets,
            settings=HttpSettings.from_settings(site.settings),
            credential=renewing,
            answer_error=answer_error,
        )

    def close(self) -> None:
        self._client.close()


class _RenewingHeaders:
    """The connector's auth headers with its token swapped for the site's current one: each
    platform spells the header its own way, the renewal is the same for all."""

    def __init__(self, template: Mapping[str, str], token: str, tokens: TokenSource) -> None:
        self._template, self._token, self._tokens = dict(template), token, tokens

    def _with(self, token: str) -> dict[str, str]:
        return {name: value.replace(self._token, token) for name, value in self._template.items()}

    def headers(self) -> Mapping[str, str]:
        return self._with(self._tokens.current())

    def renewed(self, refused: Mapping[str, str]) -> Mapping[str, str]:
        for name, value in self._template.items():
            if self._token in value:
                before, _, after = value.partition(self._token)
                token = refused[name].removeprefix(before).removesuffix(after)
                return self._with(self._tokens.renew(token))
        return refused


def page_size_setting(settings: Mapping[str, Any], default: int, most: int, least: int = 1) -> int:
    """The site's `page_size`: a whole number within what the platform accepts."""
    page_size = settings.get("page_size", default)
    if type(page_size) is not int or not least <= page_size <= most:
        raise ConfigurationError(
            f"The site's page_size must be a whole number from {least} to {most}."
        )
    return page_size


@contextmanager
def gone_as(gone_message: str) -> Iterator[None]:
    """Say which object is missing when the platform answers "not found"."""
    try:
        yield
    except PlatformError as exc:
        if not exc.gone:
            raise
        raise PlatformError(gone_message, details=exc.details, gone=True) from exc
