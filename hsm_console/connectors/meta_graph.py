"""Meta's Graph API as Facebook Pages and Instagram share it: errors, paging, confirmations,
and the moderation calls both make alike (`GraphConnector`)."""

from __future__ import annotations

import abc
import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlsplit

import requests

from hsm_console.connectors.base import JSON, SiteConfig, SiteProfile, site_profile
from hsm_console.connectors.http import ErrorParser, error_body, retry_after_seconds
from hsm_console.connectors.http_connector import HttpConnector, gone_as, page_size_setting
from hsm_console.connectors.payload import as_int, graph_time, is_true, utc_time
from hsm_console.errors import ConfigurationError, PlatformError
from hsm_console.rules.domain import PlatformState

DEFAULT_API_VERSION = "v25.0"

# Every permission the reading and moderating calls need, named in full in a refusal so an
# administrator can grant them all at once instead of one refusal at a time.
FACEBOOK_PERMISSIONS = (
    "pages_read_engagement",
    "pages_read_user_content",
    "pages_manage_engagement",
)
INSTAGRAM_PERMISSIONS = (*FACEBOOK_PERMISSIONS, "instagram_basic", "instagram_manage_comments")
# The same calls through graph.instagram.com (Instagram Login) name their own permissions.
INSTAGRAM_LOGIN_PERMISSIONS = ("instagram_business_basic", "instagram_business_manage_comments")

_VERSION = re.compile(r"v\d+\.\d+")


def api_version(settings: Mapping[str, Any]) -> str:
    """The site's Graph API version (setting `api_version`), checked before any call."""
    version = str(settings.get("api_version", DEFAULT_API_VERSION))
    if not _VERSION.fullmatch(version):
        raise ConfigurationError(
            f"The Graph API version {version!r} is not valid: write it like "
            f"{DEFAULT_API_VERSION!r}."
        )
    return version


class GraphConnector(HttpConnector):
    """A comment's hidden flag read back by id, deletes confirmed by {"success": true}, and
    every path under the site's API version."""

    hidden_field: ClassVar[str]  # the comment field that says whether it is hidden
    comment_gone: ClassVar[str]  # what to say when the comment no longer exists
    # The account node's fields that describe it, and those that hold its web address.
    profile_text_fields: ClassVar[tuple[str, ...]]
    profile_link_fields: ClassVar[tuple[str, ...]]

    def __init__(
        self, site: SiteConfig, error_parser: ErrorParser, *, default_page_size: int, most: int
    ) -> None:
        self._version = api_version(site.settings)
        self._page_size = page_size_setting(site.settings, default_page_size, most=most)
        super().__init__(site, error_parser, auth_headers={"Authorization": f"Bearer {site.token}"})

    def fetch_state(self, comment_external_id: str) -> PlatformState:
        fields = f"id,{self.hidden_field}"
        try:
            body = self._client.get(self._path(comment_external_id), {"fields": fields})
        except PlatformError as exc:
            if exc.gone:
                return PlatformState.REMOVED
            raise
        hidden = is_true(body.get(self.hidden_field))
        return PlatformState.HIDDEN if hidden else PlatformState.VISIBLE

    def profile(self) -> SiteProfile:
        fields = ",".join(("id", *self.profile_text_fields, *self.profile_link_fields))
        body = self._client.get(self._path(self.site.external_id), {"fields": fields})
        return site_profile(
            (body.get(name) for name in self.profile_text_fields),
            (body.get(name) for name in self.profile_link_fields),
        )

    def hide(self, comment_external_id: str) -> None:
        self._set_hidden(comment_external_id, hidden=True)

    def unhide(self, comment_external_id: str) -> None:
        self._set_hidden(comment_external_id, hidden=False)

    def remove(self, comment_external_id: str) -> None:
        with gone_as(self.comment_gone):
            body = self._client.delete(self._path(comment_external_id))
        require_success(body, "delete", self.platform.label)

    def ban_author(
        self, author_id: str, comment_external_id: str, until: datetime, reason: str
    ) -> None:
        """The Page's `blocked` edge: POST `user` (a list of ids) answers {id: true}. A block
        has no end date; the console lifts it on the ban's date."""
        if not self.capabilities.can_ban:
            raise self._no_ban("ban its authors")
        body = self._client.post(self._blocked(), {"user": json.dumps([author_id])})
        if body.get(author_id) is not True:
            raise PlatformError(
                f"{self.platform.label} did not confirm the block. Check the Page's blocked "
                "list before trying again.",
                details=f"answer: {json.dumps(body)[:300]}",
                retryable=True,
            )

    def lift_ban(self, author_id: str) -> None:
        """DELETE on the `blocked` edge with `user` answers {"success": true}."""
        if not self.capabilities.can_lift_ban:
            raise self._no_ban("lift a ban")
        body = self._client.delete(self._blocked(), {"user": author_id})
        require_success(body, "unblock", self.platform.label)

    def _blocked(self) -> str:
        return self._path(self.site.external_id, "blocked")

    @abc.abstractmethod
    def _set_hidden(self, comment_external_id: str, *, hidden: bool) -> None:
        """Hide or unhide, as the platform's API asks for it."""

    def _path(self, *parts: str) -> str:
        # Ids come from the platform or the database: never let one change the path.
        return "/".join((self._version, *(quote(part, safe="") for part in parts)))


def error_object(response: requests.Response) -> Mapping[str, Any]:
    """The `error` object of a Graph error answer ({} when there is none)."""
    error = error_body(response).get("error")
    return error if isinstance(error, dict) else {}


def rate_limit_wait(
    response: requests.Response, *, default: float, usage_type: str | None = None
) -> float:
    """Seconds to wait: the BUC header's `estimated_time_to_regain_access` (minutes), counting
    only entries of `usage_type` when given (an entry without a type counts), else Retry-After,
    else `default`."""
    minutes = 0
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage", "{}"))
    except ValueError:
        usage = {}
    for entries in usage.values() if isinstance(usage, dict) else ():
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            if usage_type is not None and entry.get("type", usage_type) != usage_type:
                continue
            minutes = max(minutes, as_int(entry.get("estimated_time_to_regain_access")) or 0)
    if minutes > 0:
        return minutes * 60.0
    after = retry_after_seconds(response)
    return after if after is not None else default


def require_success(body: JSON, what: str, platform_label: str) -> None:
    """Graph confirms a change with {"success": true}; anything else is not a confirmation."""
    if body.get("success") is not True:
        raise PlatformError(
            f"{platform_label} did not confirm the {what}. Check the comment on "
            f"{platform_label} before trying again.",
            details=f"answer: {json.dumps(body)[:300]}",
            retryable=True,
        )


def graph_data(body: JSON, platform_label: str) -> list[Any]:
    """The page's `data` list; a clear, retryable error when there is none."""
    data = body.get("data")
    if not isinstance(data, list):
        raise PlatformError(
            f"{platform_label} answered with something the console cannot read (no list of "
            "items). Try again later; if it keeps happening, tell an administrator.",
            details=f"top-level keys: {sorted(body)[:10]}",
            retryable=True,
        )
    return data


def graph_next_cursor(body: JSON, platform_label: str) -> str | None:
    """The `after` cursor, but only while `paging.next` says more exists."""
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    if isinstance(after, str) and after:
        return after
    # Some edges give only the `next` URL; its `after` parameter is the same cursor.
    from_url = parse_qs(urlsplit(str(paging["next"])).query).get("after")
    if from_url:
        return from_url[0]
    raise PlatformError(
        f"{platform_label} said more items exist but gave no way to fetch them. Try again later.",
        details="paging.next present without an `after` cursor",
        retryable=True,
    )


def graph_item_time(
    value: object, platform_label: str, external_id: object, *, log: logging.Logger, field: str
) -> datetime:
    """An aware UTC time from Graph's ISO 8601 ("2026-03-02T14:05:11+0000") or unix time;
    now, with a warning on the connector's `log`, when unreadable."""
    return utc_time(value, platform_label, external_id, log=log, field=field, parse=graph_time)
