"""A Discourse forum category through Discourse's REST API (design.md, "Platforms").

The site is one category (its slug, id, or "slug/id"). Each topic in it is a "post" of the
City's (its post #1 opens the topic); the topic's other posts are the comments. The key is an
admin or moderator API key (headers `Api-Key`, `Api-Username`): only staff may hide, delete and
recover, and only staff see deleted posts, which Discourse keeps (soft delete).

Discourse has no plain "hide": a staff flag with `take_action` hides a post at once. The
connector flags as "inappropriate" (type 4) by default: it hides without marking the author as
a spammer (type 8 would count toward silencing them), and the City's reason code, not the flag
type, records why. A site may choose "spam" or "off_topic" instead (setting `hide_flag`).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urljoin

import requests

from hsm_console.connectors.base import (
    JSON,
    Page,
    RemoteComment,
    RemotePost,
    SiteConfig,
    SiteProfile,
    site_profile,
)
from hsm_console.connectors.http import error_body, retry_after_seconds, wait_text
from hsm_console.connectors.http_connector import HttpConnector, gone_as, page_size_setting
from hsm_console.connectors.payload import (
    as_int,
    as_text,
    identified,
    iso_utc,
    skip,
    utc_time,
)
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.capabilities import CAPABILITIES
from hsm_console.rules.domain import Platform, PlatformState
from hsm_console.rules.site_checks import find_links

log = logging.getLogger(__name__)

DEFAULT_API_USERNAME = "system"
DEFAULT_PAGE_SIZE = 30  # topics per page, Discourse's own default
FLAG_TYPES: dict[str, int] = {"off_topic": 3, "inappropriate": 4, "spam": 8}
DEFAULT_HIDE_FLAG = "inappropriate"
SMALL_ACTION = 3  # post_type of Discourse's own notes ("closed this topic"): not comments

_CATEGORY = re.compile(r"(?:[a-z0-9][a-z0-9_-]*/)?[a-z0-9][a-z0-9_-]*", re.IGNORECASE)
_POST_ID = re.compile(r"\d+")
_DEFAULT_RATE_LIMIT_WAIT = 60.0  # Discourse's limits are per minute
_POST_GONE = "The post no longer exists on Discourse: its author or a moderator deleted it."
_TOPIC_GONE = "The topic no longer exists on Discourse: a moderator deleted it."
_KEY_REFUSED = (
    "The Discourse API key for this site is not valid any more (revoked, or not for this "
    "API user): ask an administrator to renew it."
)
_USER_GONE = "The member no longer exists on Discourse."
_PERMISSION_MESSAGE = (
    "Discourse refused: the API key for this site may not moderate this category. Ask an "
    "administrator for an admin or moderator API key, or one whose scopes allow it."
)


class DiscourseConnector(HttpConnector):
    platform = Platform.DISCOURSE
    capabilities = CAPABILITIES[Platform.DISCOURSE]

    def __init__(self, site: SiteConfig) -> None:
        category = site.external_id.strip("/")
        if not _CATEGORY.fullmatch(category):
            raise ConfigurationError(
                "The Discourse site id must be the category's slug, its id, or both as "
                f"'slug/id', like 'city-services/5' (it is {site.external_id!r})."
            )
        self._category_path = "/".join(quote(part, safe="") for part in category.split("/"))
        username = str(site.settings.get("api_username", DEFAULT_API_USERNAME)).strip()
        if not username:
            raise ConfigurationError("The site's Discourse api_username must not be empty.")
        flag = str(site.settings.get("hide_flag", DEFAULT_HIDE_FLAG))
        if flag not in FLAG_TYPES:
            raise ConfigurationError(
                f"The site's hide_flag must be one of {', '.join(sorted(FLAG_TYPES))} "
                f"(it is {flag!r})."
            )
        self._flag_type = FLAG_TYPES[flag]
        self._page_size = page_size_setting(site.settings, DEFAULT_PAGE_SIZE, most=100)
        self._public = site.base_url.rstrip("/") + "/"
        super().__init__(
            site, discourse_error, auth_headers={"Api-Key": site.token, "Api-Username": username}
        )
        # What the topic listing and earlier pages told us, to spare calls (60 a minute):
        self._highest: dict[str, int] = {}  # topic id -> highest post number
        self._slugs: dict[str, str] = {}  # topic id -> slug, for permalinks
        self._numbers: dict[str, dict[int, str]] = {}  # topic id -> post number -> post id

    # --- listing ----------------------------------------------------------------------

    def profile(self) -> SiteProfile:
        """The forum's title and description (`/site/basic-info.json`)."""
        body = self._client.get("site/basic-info.json")
        return site_profile([body.get("title"), body.get("description")])

    def post_links(self, post: RemotePost) -> tuple[str, ...]:
        """The topic's link field (`featured_link`), else the links in its post #1: topic
        lists carry titles, not bodies, so the policy's check reads post #1 once per topic,
        and only where the topic names no link of its own."""
        featured = post.raw.get("featured_link")
        if isinstance(featured, str) and featured:
            return (featured,)
        topic = quote(post.external_id, safe="")
        try:
            body = self._client.get(f"posts/by_number/{topic}/1.json")
        except PlatformError as exc:
            if exc.gone:
                return ()
            raise
        finder = _Links()
        try:
            finder.feed(as_text(body.get("cooked")))
            finder.close()
        except (AssertionError, ValueError):  # malformed markup: keep what was found
            pass
        return (*finder.urls, *find_links(as_text(body.get("raw"))))

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        page = _whole(cursor, "page") if cursor else 0
        # order=created: new replies bump topics in the default order, which would move them
        # between pages while we walk them.
        params: dict[str, str | int] = {
            "page": page,
            "order": "created",
            "per_page": self._page_size,
        }
        try:
            body = self._client.get(f"c/{self._category_path}.json", params)
        except PlatformError as exc:
            if exc.gone:
                raise PlatformError(
                    "The Discourse category was not found, or this site's key cannot see it: "
                    "check the site's category slug or id.",
                    details=exc.details,
                ) from exc
            raise
        topic_list = body.get("topic_list")
        topics = topic_list.get("topics") if isinstance(topic_list, dict) else None
        if not isinstance(topic_list, dict) or not isinstance(topics, list):
            raise _unreadable("no topic list", body)
        posts = [post for item in topics if (post := self._topic(item)) is not None]
        more = bool(topic_list.get("more_topics_url")) and bool(topics)
        return Page(posts, str(page + 1) if more else None)

    def list_comments(
        self, post_external_id: str, cursor: str | None = None, since: datetime | None = None
    ) -> Page[RemoteComment]:
        """The topic's posts after post #1, in post-number order.

        The cursor is the last post number read: "the posts after N" neither skips nor repeats
        a post when others are added or deleted between pages. Discourse cannot filter by
        time, so `since` is ignored.
        """
        topic = post_external_id
        after = _whole(cursor, "post number") if cursor else 1
        params: dict[str, str | int] = {"post_number": after, "asc": "true", "include_raw": "true"}
        with gone_as(_TOPIC_GONE):
            body = self._client.get(f"t/{quote(topic, safe='')}/posts.json", params)
        stream = body.get("post_stream")
        items = stream.get("posts") if isinstance(stream, dict) else None
        if not isinstance(items, list):
            raise _unreadable("no post stream", body)
        numbers = self._numbers.setdefault(topic, {})
        last = after
        for item in items:
            if isinstance(item, dict) and (number := as_int(item.get("post_number"))) is not None:
                last = max(last, number)
                if (post_id := _id(item.get("id"))) is not None:
                    numbers[number] = post_id
        comments = [
            comment
            for item in items
            if _is_comment(item) and (comment := self._comment(topic, item)) is not None
        ]
        highest = self._highest.get(topic)
        done = not items or last <= after or (highest is not None and last >= highest)
        return Page(comments, None if done else str(last))

    def fetch_state(self, comment_external_id: str) -> PlatformState:
        try:
            body = self._read(comment_external_id)
        except PlatformError as exc:
            if exc.gone:
                return PlatformState.REMOVED
            raise
        return _state(body)

    def _read(self, comment_external_id: str) -> JSON:
        return self._client.get(self._post_path(comment_external_id, ".json"))

    # --- actions ----------------------------------------------------------------------

    def hide(self, comment_external_id: str) -> None:
        post_id = _post_id(comment_external_id)
        data: dict[str, str | int] = {
            "id": post_id,
            "post_action_type_id": self._flag_type,
            "flag_topic": "false",
            "take_action": "true",  # staff only: hide now instead of waiting for review
        }
        with gone_as(_POST_GONE):
            body = self._client.post("post_actions", data)
        # The answer is the flagged post; should it not say hidden, read the post back once.
        if (
            body.get("hidden") is not True
            and _state(self._read(post_id)) is not PlatformState.HIDDEN
        ):
            raise PlatformError(
                "Discourse recorded the flag but did not hide the post: the site's API user is "
                "probably not staff, so the flag waits in Discourse's review queue.",
                details=f"post {post_id}: answer without hidden=true",
            )

    def unhide(self, comment_external_id: str) -> None:
        self._act("PUT", self._post_path(comment_external_id, "/unhide"))

    def remove(self, comment_external_id: str) -> None:
        self._act("DELETE", self._post_path(comment_external_id))

    def recover(self, comment_external_id: str) -> None:
        """Undo a removal (Discourse deletes softly). Not an `Action`: the console may offer it."""
        try:
            with gone_as(_POST_GONE):
                body = self._client.request("PUT", self._post_path(comment_external_id, "/recover"))
        except PlatformError as exc:
            # Discourse refuses to recover a post that is not deleted as it refuses a key
            # without the right: tell the two apart by looking at the post.
            if (
                not exc.gone
                and exc.message == _PERMISSION_MESSAGE
                and self.fetch_state(comment_external_id) is not PlatformState.REMOVED
            ):
                raise NotPossible(
                    "This post is not deleted on Discourse, so there is nothing to recover."
                ) from exc
            raise
        if body.get("deleted_at"):
            raise PlatformError(
                "Discourse did not confirm the recovery. Check the post on Discourse before "
                "trying again.",
                details=f"post {comment_external_id}: still has deleted_at",
                retryable=True,
            )

    def ban_author(
        self, author_id: str, comment_external_id: str, until: datetime, reason: str
    ) -> None:
        """`PUT /admin/users/{id}/suspend.json` with `suspend_until` and `reason` (shown to
        the member); Discourse ends the suspension itself on that date."""
        data: dict[str, str | int] = {"suspend_until": until.isoformat(), "reason": reason}
        with gone_as(_USER_GONE):
            body = self._client.request("PUT", self._user_path(author_id, "suspend"), data=data)
        suspension = body.get("suspension")
        if not isinstance(suspension, dict) or not suspension.get("suspended_till"):
            raise PlatformError(
                "Discourse did not confirm the suspension. Check the member on Discourse "
                "before trying again.",
                details=f"user {author_id}: answer without suspension.suspended_till",
                retryable=True,
            )

    def lift_ban(self, author_id: str) -> None:
        with gone_as(_USER_GONE):
            self._client.request("PUT", self._user_path(author_id, "unsuspend"))

    @staticmethod
    def _user_path(author_id: str, step: str) -> str:
        if not author_id.isdigit():
            raise NotPossible(
                f"The Discourse member {author_id!r} has no numeric id, which a suspension "
                "needs: suspend them by hand in Discourse's admin pages."
            )
        return f"admin/users/{author_id}/{step}.json"

    def _act(self, method: str, path: str) -> None:
        # Unhide and delete answer HTTP 200 with an empty body (`render body: nil`).
        with gone_as(_POST_GONE):
            self._client.send(method, path)

    def _post_path(self, comment_external_id: str, suffix: str = "") -> str:
        return f"posts/{_post_id(comment_external_id)}{suffix}"

    # --- payloads ---------------------------------------------------------------------

    def _topic(self, item: object) -> RemotePost | None:
        if (found := identified(item, "a Discourse topic", log=log, read_id=_id)) is None:
            return None
        payload, topic_id = found
        slug = payload.get("slug")
        if isinstance(slug, str) and slug:
            self._slugs[topic_id] = slug
        highest = as_int(payload.get("highest_post_number"))
        if highest is not None:
            self._highest[topic_id] = highest
        # Topic lists carry titles, not bodies: reading every post #1 would cost a call per
        # topic against a 60-a-minute limit.
        return RemotePost(
            external_id=topic_id,
            text=as_text(payload.get("title")),
            created_at=_time(payload.get("created_at"), topic_id),
            permalink=self._permalink(topic_id, None),
            raw=payload,
        )

    def _comment(self, topic: str, item: dict[str, Any]) -> RemoteComment | None:
        """One post, tolerant of missing or mistyped fields; `raw` keeps it as received."""
        what = f"a Discourse post in topic {topic}"
        if (found := identified(item, what, log=log, read_id=_id)) is None:
            return None
        item, post_id = found
        username = as_text(item.get("username"))
        name = item.get("name")
        shown = name if isinstance(name, str) and name.strip() else username
        user_id = as_int(item.get("user_id"))
        created = _time(item.get("created_at"), post_id)
        version = as_int(item.get("version"))
        edited = iso_utc(item.get("updated_at")) if version and version > 1 else None
        cooked = item.get("cooked")
        raw_text = item.get("raw")
        if isinstance(raw_text, str):
            text = raw_text  # the author's own text, kept exactly
        elif isinstance(cooked, str):
            text = _html_text(cooked)  # no raw sent: the rendered HTML as plain text
        elif raw_text is None:
            # Every post has a body (an upload alone is markdown in `raw`, HTML in `cooked`):
            # neither sent means the post did not arrive whole.
            skip(item, f"{what} ({post_id})", "without text", log=log)
            return None
        else:
            text = as_text(raw_text)
        if not username and user_id is None:
            skip(item, f"{what} ({post_id})", "without an author", log=log)
            return None
        return RemoteComment(
            external_id=post_id,
            post_external_id=topic,
            parent_external_id=self._parent(topic, item.get("reply_to_post_number")),
            author_id=str(user_id) if user_id is not None else username,
            author_name=shown or "(unknown)",
            text=text,
            created_at=created,
            permalink=self._permalink(topic, as_int(item.get("post_number")), post_id),
            state=_state(item),
            attachments=self._attachments(cooked),
            raw=item,
            updated_at=edited,
        )

    def _parent(self, topic: str, reply_to: object) -> str | None:
        """The id of the post replied to; a reply to post #1 answers the topic itself."""
        number = as_int(reply_to)
        if number is None or number <= 1:
            return None
        numbers = self._numbers.setdefault(topic, {})
        if number not in numbers:
            # Resumed on a later page: ask once for the post by its number.
            try:
                body = self._client.get(f"posts/by_number/{quote(topic, safe='')}/{number}.json")
            except PlatformError as exc:
                if not exc.gone:
                    raise
                log.warning(
                    "Post #%s of topic %s is gone; its replies keep no parent", number, topic
                )
                return None
            found = _id(body.get("id"))
            if found is None:
                return None
            numbers[number] = found
        return numbers[number]

    def _permalink(self, topic: str, number: int | None, post_id: str | None = None) -> str:
        slug = self._slugs.get(topic)
        base = f"t/{quote(slug, safe='')}/{topic}" if slug else f"t/{topic}"
        if number is not None:
            return urljoin(self._public, f"{base}/{number}")
        if post_id is not None:
            return urljoin(self._public, f"p/{post_id}")  # Discourse's short link to a post
        return urljoin(self._public, base)

    def _attachments(self, cooked: object) -> tuple[str, ...]:
        if not isinstance(cooked, str):
            return ()
        finder = _Attachments()
        try:
            finder.feed(cooked)
            finder.close()
        except (AssertionError, ValueError):  # malformed markup: keep what was found
            pass
        # Uploads come as paths from the host's root ("/uploads/...", or "/forum/uploads/..."
        # for a forum in a subfolder) or as CDN URLs: make them all absolute.
        return tuple(dict.fromkeys(urljoin(self._public, url) for url in finder.urls))


# --- errors ---------------------------------------------------------------------------


def discourse_error(response: requests.Response) -> PlatformError:
    """A Discourse error answer as a message a moderator can act on."""
    body = error_body(response)
    status = response.status_code
    kind = str(body.get("error_type") or "")
    errors = body.get("errors")
    said = " ".join(str(e) for e in errors) if isinstance(errors, list) else ""
    details = f"HTTP {status}, Discourse {kind or 'no error_type'}: {said[:300]}"
    if status == 429 or kind == "rate_limit":
        wait = _rate_limit_wait(response, body)
        return PlatformError(
            f"Discourse is limiting how many calls the City may make. Try again in "
            f"{wait_text(wait)}.",
            details=details,
            retryable=True,
            retry_after=wait,
        )
    if status in (401, 403) and ("key is invalid" in said or status == 401):
        return PlatformError(_KEY_REFUSED, details=details)
    if status == 403:
        return PlatformError(_PERMISSION_MESSAGE, details=details)
    if status == 404:
        return PlatformError("This no longer exists on Discourse.", details=details, gone=True)
    if status == 422 and said:
        return PlatformError(f"Discourse refused the request: {said[:200]}", details=details)
    if status >= 500:
        return PlatformError(
            "Discourse had a temporary problem. Try again in a few minutes.",
            details=details,
            retryable=True,
        )
    return PlatformError(
        f"Discourse refused the request (HTTP {status}). If it keeps happening, tell an "
        "administrator.",
        details=details,
    )


def _rate_limit_wait(response: requests.Response, body: Mapping[str, Any]) -> float:
    after = retry_after_seconds(response)
    if after is not None:
        return after
    extras = body.get("extras")
    seconds = as_int(extras.get("wait_seconds")) if isinstance(extras, dict) else None
    return float(seconds) if seconds is not None and seconds >= 0 else _DEFAULT_RATE_LIMIT_WAIT


def _unreadable(what: str, body: JSON) -> PlatformError:
    return PlatformError(
        f"Discourse answered with something the console cannot read ({what}). "
        "Try again later; if it keeps happening, tell an administrator.",
        details=f"top-level keys: {sorted(body)[:10]}",
        retryable=True,
    )


# --- values ---------------------------------------------------------------------------


def _post_id(comment_external_id: str) -> str:
    # Ids come from the platform or the database: never let one change the path.
    if not _POST_ID.fullmatch(comment_external_id):
        raise PlatformError(
            "This is not a Discourse post id the console can act on.",
            details=f"expected digits, got {comment_external_id[:100]!r}",
        )
    return comment_external_id


def _whole(cursor: str, what: str) -> int:
    if not cursor.isdigit():
        raise PlatformError(
            "The console's place in the Discourse listing is not readable; sync again from "
            "the start.",
            details=f"cursor {cursor[:50]!r} is not a {what}",
        )
    return int(cursor)


def _is_comment(item: object) -> bool:
    """Every post but the topic's opening post #1 and Discourse's own notes."""
    if not isinstance(item, dict):
        log.warning("Skipped a Discourse post that is not an object: %.200r", item)
        return False
    return as_int(item.get("post_number")) != 1 and as_int(item.get("post_type")) != SMALL_ACTION


def _state(item: Mapping[str, Any]) -> PlatformState:
    if item.get("deleted_at") or item.get("user_deleted") is True:
        return PlatformState.REMOVED
    if item.get("hidden") is True:
        return PlatformState.HIDDEN
    return PlatformState.VISIBLE


class _Attachments(HTMLParser):
    """Uploaded images and files in cooked HTML (not emoji, which are images too)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "img" and "emoji" not in classes and found.get("src"):
            self.urls.append(str(found["src"]))
        elif tag == "a" and "attachment" in classes and found.get("href"):
            self.urls.append(str(found["href"]))


class _Links(HTMLParser):
    """Every link's address in cooked HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.urls.append(href)


class _Text(HTMLParser):
    """Cooked HTML as the plain text a reader sees (the fallback when `raw` is missing)."""

    _BLOCKS = frozenset({"p", "div", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")
        elif tag == "img":
            self.parts.append(dict(attrs).get("alt") or "")
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        # Line breaks in HTML source are mere spaces; only <pre> keeps them.
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def _html_text(cooked: str) -> str:
    parser = _Text()
    try:
        parser.feed(cooked)
        parser.close()
    except (AssertionError, ValueError):
        return html.unescape(re.sub(r"<[^>]*>", "", cooked))
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(parser.parts))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _time(value: object, external_id: str) -> datetime:
    return utc_time(value, "Discourse", external_id, log=log)


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and _POST_ID.fullmatch(value):
        return value
    return None
