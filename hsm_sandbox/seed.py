"""Deterministic seed data for the sandbox: each platform's own posts and comments.

Facebook's two City Pages (Parks, Police) and their ~200 comments live in
`resources/demo/seed-comments.json`; every other platform has its own file,
`seed-<platform>.json`, in its own voice (short replies on X, video comments on YouTube,
threads on the forum...), in the same shape. This module gives the texts ids, authors and
times: `build()` returns Facebook's seed, and `SeedData.of(platform)` any platform's.
A fixed random seed and a fixed end time make every run identical, so tests can rely on
ids and order; the demo mode passes `end=now` to make the times look recent.
Each comment carries the reason code a careful moderator would pick (`expected_code`,
None when it breaks no rule). It is for tests only and never reaches an API payload.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hsm_console.host.resources import resource_path

SANDBOX_TOKEN = "sandbox-demo-token"  # noqa: S105 (public on purpose: every seeded Page takes it)
DEFAULT_RANDOM_SEED = 20260302
BASE_TIME = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # the newest seeded comment is before it
CHATTER_REPLIES = 27  # short clean replies scattered by the random seed (Facebook)
PLATFORM_CHATTER_REPLIES = 6  # the other platforms' seeds are smaller
# The platforms with a seed file of their own, besides Facebook's seed-comments.json.
PLATFORM_SEEDS = ("instagram", "youtube", "x", "tiktok", "linkedin", "wordpress", "discourse")


@dataclass(frozen=True)
class SeedPage:
    id: str
    name: str
    token: str
    # The account's profile in the platform's own field names (Page `about`, user
    # `biography`, channel `description`...), served by each platform's profile read.
    profile: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SeedPost:
    id: str  # "{page-id}_{post-number}", as Graph writes post ids
    page_id: str
    message: str
    created_time: datetime
    permalink_url: str
    link: str  # the City web page the announcement points to


@dataclass(frozen=True)
class SeedAttachment:
    type: str  # "photo" or "video_inline"
    url: str
    image_src: str


@dataclass(frozen=True)
class SeedComment:
    id: str  # "{post-number}_{comment-number}"
    post_id: str
    page_id: str
    parent_id: str | None
    author_id: str
    author_name: str
    message: str
    created_time: datetime
    permalink_url: str
    attachment: SeedAttachment | None
    expected_code: str | None  # reason code, None for a comment that breaks no rule
    tags: tuple[str, ...]  # hostile-text markers: html, script, rtl, formula, emoji, long...


@dataclass(frozen=True)
class SeedData:
    pages: tuple[SeedPage, ...]
    posts: tuple[SeedPost, ...]
    comments: tuple[SeedComment, ...]  # chronological within each post
    # The other platforms' seeds, by platform name (empty on those seeds themselves).
    others: Mapping[str, SeedData] = field(default_factory=dict, compare=False, repr=False)

    def of(self, platform: str) -> SeedData:
        """The seed of one platform: this one for Facebook, else that platform's own."""
        return self if platform == "facebook" else self.others[platform]

    def comments_on(self, post_id: str) -> tuple[SeedComment, ...]:
        return tuple(c for c in self.comments if c.post_id == post_id)

    def tagged(self, tag: str) -> tuple[SeedComment, ...]:
        return tuple(c for c in self.comments if tag in c.tags)


def build(
    random_seed: int = DEFAULT_RANDOM_SEED, end: datetime = BASE_TIME, token: str = SANDBOX_TOKEN
) -> SeedData:
    """The seed data of every platform, identical for identical arguments."""
    others = {
        name: _build_file(f"seed-{name}.json", random_seed + number, end, token, number)
        for number, name in enumerate(PLATFORM_SEEDS, start=1)
    }
    facebook = _build_file("seed-comments.json", random_seed, end, token, 0)
    return SeedData(facebook.pages, facebook.posts, facebook.comments, others)


def _build_file(name: str, random_seed: int, end: datetime, token: str, number: int) -> SeedData:
    with resource_path("demo", name).open(encoding="utf-8") as file:
        templates = json.load(file)
    rng = random.Random(random_seed)  # noqa: S311 (demo data, not secrets)
    chatter = PLATFORM_CHATTER_REPLIES if number else CHATTER_REPLIES
    # Post numbers differ per platform, so no two platforms' seeds share an id.
    return _Builder(rng, end, templates, 122_100_000_000_000 + number * 100_000, chatter).build(
        token
    )


class _Builder:
    def __init__(
        self,
        rng: random.Random,
        end: datetime,
        templates: dict[str, Any],
        first_post: int,
        chatter: int,
    ) -> None:
        self.rng = rng
        self.end = end
        self.templates = templates
        self.first_post = first_post
        self.chatter = chatter
        self.author_ids = {
            name: str(rng.randrange(10**14, 10**15)) for name in templates["authors"]
        }
        self.comments: list[SeedComment] = []

    def build(self, token: str) -> SeedData:
        pages: list[SeedPage] = []
        posts: list[SeedPost] = []
        for page_index, page in enumerate(self.templates["pages"]):
            pages.append(SeedPage(page["id"], page["name"], token, page.get("profile", {})))
            for post_index, template in enumerate(page["posts"]):
                post = self._post(
                    page["id"], self.first_post + page_index * 1000 + post_index, template
                )
                posts.append(post)
                when = post.created_time
                for comment in template["comments"]:
                    when += timedelta(seconds=self.rng.randrange(180, 6000))
                    self._comment(post, None, comment, when)
        self._scatter_chatter(posts)
        ordered = sorted(self.comments, key=lambda c: (c.post_id, c.created_time, c.id))
        return SeedData(tuple(pages), tuple(posts), tuple(ordered))

    def _post(self, page_id: str, number: int, template: dict[str, Any]) -> SeedPost:
        created = self.end - timedelta(days=template["days_before"])
        return SeedPost(
            id=f"{page_id}_{number}",
            page_id=page_id,
            message=template["message"],
            created_time=created.replace(microsecond=0),
            permalink_url=f"https://www.facebook.com/{page_id}/posts/{number}",
            link=template["link"],
        )

    def _comment(
        self, post: SeedPost, parent: SeedComment | None, template: dict[str, Any], when: datetime
    ) -> None:
        text = template["text"]
        if "repeat" in template:
            text = text + "\n\n" + "\n\n".join([template["repeat_text"]] * template["repeat"])
        author = template.get("author") or self.rng.choice(self.templates["authors"])
        comment = self._make(post, parent, text, author, when, template)
        reply_time = when
        for reply in template.get("replies", []):
            reply_time += timedelta(seconds=self.rng.randrange(60, 3600))
            self._comment(post, comment, reply, reply_time)

    def _make(
        self,
        post: SeedPost,
        parent: SeedComment | None,
        text: str,
        author: str,
        when: datetime,
        template: dict[str, Any],
    ) -> SeedComment:
        post_number = post.id.split("_")[1]
        number = 7_100_000_000_000_000 + len(self.comments) + 1
        link = f"https://www.facebook.com/{post.page_id}/posts/{post_number}?comment_id="
        link += f"{parent.id.split('_')[1]}&reply_comment_id={number}" if parent else str(number)
        author_id = self.author_ids.setdefault(author, str(self.rng.randrange(10**14, 10**15)))
        kind = template.get("attachment")
        comment = SeedComment(
            id=f"{post_number}_{number}",
            post_id=post.id,
            page_id=post.page_id,
            parent_id=parent.id if parent else None,
            author_id=author_id,
            author_name=author,
            message=text,
            created_time=when.replace(microsecond=0),
            permalink_url=link,
            attachment=_attachment(kind, number) if kind else None,
            expected_code=template.get("code"),
            tags=tuple(template.get("tags", ())),
        )
        self.comments.append(comment)
        return comment

    def _scatter_chatter(self, posts: list[SeedPost]) -> None:
        for _ in range(self.chatter):
            post = self.rng.choice(posts)
            parent = self.rng.choice(
                [c for c in self.comments if c.post_id == post.id and c.parent_id is None]
            )
            when = parent.created_time + timedelta(seconds=self.rng.randrange(60, 7200))
            text = self.rng.choice(self.templates["chatter"])
            self._make(post, parent, text, self.rng.choice(self.templates["authors"]), when, {})


def _attachment(kind: str, number: int) -> SeedAttachment:
    image = f"https://scontent.sandbox.invalid/v/t39.30808-6/{number}_n.jpg"
    if kind == "video":
        return SeedAttachment("video_inline", f"https://www.facebook.com/watch/?v={number}", image)
    return SeedAttachment("photo", f"https://www.facebook.com/photo.php?fbid={number}", image)


DEMO = build()
SEEDED_COMMENTS: tuple[SeedComment, ...] = DEMO.comments
