"""The one small interface every platform connector implements.

Connectors speak HTTP and nothing else: they know no database, no Qt and no policy. They
return plain values and raise `PlatformError` (from `hsm_console.errors`) with a message a
moderator can read.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

# Re-exported: the connectors import Capabilities from here.
from hsm_console.rules.capabilities import Capabilities as Capabilities
from hsm_console.rules.domain import Action, Platform, PlatformState

T = TypeVar("T")

JSON = dict[str, Any]


class TokenSource(Protocol):
    """A site's access token that renews itself (`services.tokens`): read before each call."""

    def current(self) -> str: ...

    def renew(self, refused: str) -> str:
        """A token to use instead of `refused`, which the platform just refused (HTTP 401)."""
        ...


@dataclass(frozen=True)
class SiteConfig:
    """What a connector needs to reach one site (an account or page on one platform)."""

    external_id: str  # the platform's id of the page / account / channel / blog
    base_url: str  # e.g. https://graph.facebook.com or the sandbox's http://127.0.0.1:PORT
    token: str  # from the keyring; never logged, never stored in the database
    settings: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"api_version": "v25.0"}
    tokens: TokenSource | None = None  # set where `token` expires and can be renewed

    def __repr__(self) -> str:  # keep the token out of tracebacks and logs
        return f"SiteConfig(external_id={self.external_id!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class RemotePost:
    """Content the City published on a site."""

    external_id: str
    text: str
    created_at: datetime  # aware, UTC
    permalink: str
    raw: JSON


@dataclass(frozen=True)
class RemoteComment:
    """A comment exactly as the platform returned it (text stored as received)."""

    external_id: str
    post_external_id: str
    parent_external_id: str | None  # set on replies
    author_id: str
    author_name: str
    text: str
    created_at: datetime  # aware, UTC
    permalink: str
    state: PlatformState
    attachments: tuple[str, ...]  # URLs
    raw: JSON  # the platform's payload for this comment, kept in the retained record
    updated_at: datetime | None = None  # when the author last edited it, where the API says


@dataclass(frozen=True)
class SiteProfile:
    """What a site's profile says about itself, for the policy's checks (`rules.site_checks`):
    its words as the platform gives them, and the links the platform keeps beside them
    (website fields, expanded short links)."""

    text: str
    links: tuple[str, ...] = ()


def site_profile(texts: Iterable[object], links: Iterable[object] = ()) -> SiteProfile:
    """A profile from the platform's fields as received: text fields joined by lines, link
    fields split on white space (a Facebook Page's `website` may hold several); anything
    that is not text (a field missing or of another type) is left out."""
    words = "\n".join(t for t in texts if isinstance(t, str) and t.strip())
    found = tuple(part for link in links if isinstance(link, str) for part in link.split())
    return SiteProfile(words, found)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing. `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None


class Connector(abc.ABC):
    platform: ClassVar[Platform]
    capabilities: ClassVar[Capabilities]

    def __init__(self, site: SiteConfig) -> None:
        self.site = site

    @abc.abstractmethod
    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        """The City's own posts on the site, newest first."""

    @abc.abstractmethod
    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        """Comments and replies on one post; `since` narrows to newer ones where supported.

        `since` is aware: it comes from the database, whose time columns return aware UTC.
        """

    @abc.abstractmethod
    def fetch_state(self, comment_external_id: str) -> PlatformState:
        """The comment's current visibility on the platform (REMOVED if it is gone)."""

    def profile(self) -> SiteProfile | None:
        """The site's own profile; None where the platform publishes nothing to check."""
        return None

    def post_links(self, post: RemotePost) -> tuple[str, ...]:
        """Links a post carries beside its text (the text's own are found by the checks)."""
        return ()

    def hide(self, comment_external_id: str) -> None:
        raise self._unsupported(Action.HIDE)

    def unhide(self, comment_external_id: str) -> None:
        raise self._unsupported(Action.UNHIDE)

    def remove(self, comment_external_id: str) -> None:
        raise self._unsupported(Action.REMOVE)

    def ban_author(
        self, author_id: str, comment_external_id: str, until: datetime, reason: str
    ) -> None:
        """Ban a comment's author from the site until `until` (where the platform keeps an end
        date; otherwise the ban is lifted with `lift_ban`, or by hand where that is missing).
        `comment_external_id` is the comment the ban is made through (YouTube's way)."""
        raise self._no_ban("ban its authors")

    def lift_ban(self, author_id: str) -> None:
        """End a ban before or on its end date."""
        raise self._no_ban("lift a ban")

    def apply(self, action: Action, comment_external_id: str) -> None:
        """Carry out a platform-side action (the moderation service's step 3)."""
        if action is Action.HIDE:
            self.hide(comment_external_id)
        elif action is Action.UNHIDE:
            self.unhide(comment_external_id)
        elif action is Action.REMOVE:
            self.remove(comment_external_id)
        else:
            raise ValueError(f"{action} does not touch the platform")

    def close(self) -> None:
        """Release network resources (connectors that hold none keep this default)."""
        return None

    @classmethod
    def _no_ban(cls, doing: str) -> Exception:
        from hsm_console.errors import NotPossible

        return NotPossible(
            f"{cls.platform.label} does not let the City {doing} through its API. "
            f"{cls.capabilities.ban_means}".strip()
        )

    @classmethod
    def _unsupported(cls, action: Action) -> Exception:
        from hsm_console.errors import NotPossible

        caps = cls.capabilities
        return NotPossible(
            f"{cls.platform.label} does not allow the City to {action.value} "
            f"a comment through its API. {caps.instead}".strip()
        )
