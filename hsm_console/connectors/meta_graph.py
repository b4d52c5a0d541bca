"""Meta's Graph API as Facebook Pages and Instagram share it: errors, paging, confirmations."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from hsm_console.connectors.base import JSON
from hsm_console.connectors.http import retry_after_seconds
from hsm_console.connectors.payload import as_int
from hsm_console.errors import PlatformError


@contextmanager
def gone_as(gone_message: str) -> Iterator[None]:
    """Say which object is missing when Graph answers "does not exist"."""
    try:
        yield
    except PlatformError as exc:
        if not exc.gone:
            raise
        raise PlatformError(gone_message, details=exc.details, gone=True) from exc


def error_object(response: requests.Response) -> Mapping[str, Any]:
    """The `error` object of a Graph error answer ({} when there is none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
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
