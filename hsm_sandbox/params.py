"""Request parameters read as the platforms' APIs read them, each refusing in its own words.

The checks are the same everywhere: a comma-separated selection of known names (YouTube's
`part`, X's `tweet.fields`), a whole number in a range (a page size), one of a few values, a
bearer token. How a platform refuses is its own, so each passes `refuse`, which builds its
error from the value sent.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Set

from hsm_sandbox.routing import Request

Refuse = Callable[[str], Exception]  # the value sent -> the platform's error for it


def selection(raw: str | None, known: Set[str], refuse: Refuse) -> set[str]:
    """The names in a comma-separated list; the first unknown one (sorted) is refused."""
    asked = {name.strip() for name in (raw or "").split(",") if name.strip()}
    unknown = sorted(asked - known)
    if unknown:
        raise refuse(unknown[0])
    return asked


def whole(raw: str, low: int, high: float, refuse: Refuse) -> int:
    """`raw` as a whole number from `low` to `high`."""
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise refuse(raw)
    return int(raw)


def one_of(raw: str, choices: Collection[str], refuse: Refuse) -> str:
    if raw not in choices:
        raise refuse(raw)
    return raw


def bearer(request: Request) -> str | None:
    """The credential of an `Authorization: Bearer` header, if the request has one."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" and credential else None
