"""The tokens the sandbox's sign-in servers issue (`signin.py`), and the clock that ages them.

One registry serves every platform: the sign-in servers issue and revoke, the platforms'
API routes ask `state(platform, token)` (through `store.OneToken.accepts`, or Graph's own
check for the per-Page tokens). The clock is the real time plus an offset that tests move
forward, so a token expires without anyone sleeping.
"""

from __future__ import annotations

import enum
import itertools
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class Clock:
    """Now, as the sign-in servers see it: real time moved forward by `advance`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("the sandbox's clock only moves forward")
        with self._lock:
            self._offset += delta

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)


class TokenState(enum.StrEnum):
    LIVE = "live"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass
class Grant:
    """What one issued token is: where it opens, until when, and from which consent."""

    platforms: frozenset[str]  # where it is accepted ("facebook-user" for a Login user token)
    kind: str  # "access" or "refresh"
    expires: datetime | None  # None: until revoked (a Facebook Page token)
    family: int  # tokens of one consent (revoking one, where a platform says so, ends all)
    account: str = ""  # the Facebook Page a Page token belongs to
    client_id: str = ""
    scopes: tuple[str, ...] = ()
    long_lived: bool = False  # a Facebook user token from fb_exchange_token
    revoked: bool = False


class TokenRegistry:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._lock = threading.Lock()
        self._grants: dict[str, Grant] = {}
        self._families = itertools.count(1)

    def new_family(self) -> int:
        return next(self._families)

    def issue(
        self,
        platforms: Iterable[str],
        kind: str,
        lifetime: timedelta | None,
        *,
        family: int,
        prefix: str = "",
        account: str = "",
        client_id: str = "",
        scopes: Iterable[str] = (),
        long_lived: bool = False,
    ) -> str:
        """A new random token (after the platform's look-alike `prefix`), registered."""
        token = prefix + secrets.token_urlsafe(32)
        expires = None if lifetime is None else self.clock.now() + lifetime
        grant = Grant(
            frozenset(platforms), kind, expires, family, account, client_id, tuple(scopes),
            long_lived,
        )  # fmt: skip
        with self._lock:
            self._grants[token] = grant
        return token

    def grant(self, token: str | None) -> Grant | None:
        with self._lock:
            return None if token is None else self._grants.get(token)

    def state_of(self, grant: Grant) -> TokenState:
        if grant.revoked:
            return TokenState.REVOKED
        if grant.expires is not None and self.clock.now() >= grant.expires:
            return TokenState.EXPIRED
        return TokenState.LIVE

    def state(self, platform: str, token: str | None, kind: str = "access") -> TokenState | None:
        """The state of a `kind` token issued for `platform`; None if it is not one."""
        grant = self.grant(token)
        if grant is None or platform not in grant.platforms or grant.kind != kind:
            return None
        return self.state_of(grant)

    def revoke(self, token: str, *, family: bool = False) -> bool:
        """Revoke `token` (with `family`, every token of its consent); False if unknown."""
        with self._lock:
            grant = self._grants.get(token)
            if grant is None:
                return False
            grant.revoked = True
        if family:
            self.revoke_family(grant.family)
        return True

    def revoke_family(self, family: int) -> None:
        """Revoke every token of one consent (its code was used twice)."""
        with self._lock:
            for grant in self._grants.values():
                if grant.family == family:
                    grant.revoked = True

    def tokens(self, platform: str, kind: str = "access") -> list[str]:
        """The live `kind` tokens issued for `platform` (for tests and the demo)."""
        with self._lock:
            found = [(t, g) for t, g in self._grants.items() if platform in g.platforms]
        return [t for t, g in found if g.kind == kind and self.state_of(g) is TokenState.LIVE]

    def clear(self) -> None:
        with self._lock:
            self._grants.clear()
        self.clock.reset()
