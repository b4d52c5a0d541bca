"""Keyset paging with opaque tokens, as YouTube, X and Graph page their listings.

A token holds the sort key (created timestamp, id) of the last item sent, not a position, so
comments deleted, rejected or added between two calls make none of the others skip or
repeat. What differs is each API's own: how its tokens look (a `Pager`), the parameters
that carry them and the page size, and the error a bad token gets (the caller's `invalid`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from hsm_sandbox.params import Refuse
from hsm_sandbox.store import Key

T = TypeVar("T")


@dataclass(frozen=True)
class Pager:
    """Tokens written as `prefix` + "{timestamp}{separator}{id}" in URL-safe base64, or in
    lower-case base32 (X's look), without padding."""

    prefix: str = ""
    separator: str = "|"
    base32: bool = False

    def encode(self, key: Key) -> str:
        raw = f"{key[0]:.0f}{self.separator}{key[1]}".encode()
        if self.base32:
            return self.prefix + base64.b32encode(raw).decode().rstrip("=").lower()
        return self.prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str) -> Key | None:
        """The key `token` holds; None if it is not one of this pager's tokens."""
        if not token.startswith(self.prefix):
            return None
        body = token[len(self.prefix) :]
        try:
            if self.base32:
                raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
            else:
                raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            stamp, _, object_id = raw.decode().partition(self.separator)
            return (float(stamp), object_id)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None

    def page(
        self,
        keyed: Sequence[tuple[Key, T]],
        token: str | None,
        size: int,
        *,
        newest_first: bool,
        invalid: Refuse,
    ) -> tuple[list[T], str | None]:
        """The first `size` of `keyed` (already in answer order) after `token`'s key, and the
        next page's token (None on the last page); a token not ours raises `invalid(token)`."""
        items = list(keyed)
        if token:
            cut = self.decode(token)
            if cut is None:
                raise invalid(token)
            items = [item for item in keyed if beyond(item[0], cut, newest_first=newest_first)]
        window = items[:size]
        more = len(items) > size
        return [value for _, value in window], self.encode(window[-1][0]) if more else None


def beyond(key: Key, cut: Key, *, newest_first: bool) -> bool:
    """Whether `key` comes after `cut` in a listing's order."""
    return key < cut if newest_first else key > cut
