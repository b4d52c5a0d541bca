"""What each platform lets the City do, in one table every layer reads.

The facts come from each platform's published API reference; the connector of a platform
carries out exactly these actions (`Connector.capabilities` is its row), and the services,
the window and the command line read them here through `capabilities_of`, without loading a
connector.
"""

from __future__ import annotations

from dataclasses import dataclass

from hsm_console.rules.domain import Action, Platform


@dataclass(frozen=True)
class Capabilities:
    """What one platform lets the City do, in words a moderator can read."""

    actions: frozenset[Action]  # platform-side actions available (flag and keep always are)
    hide_means: str
    remove_means: str
    removed_readable: bool  # can a removed comment still be read back from the API?
    rate_limits: str
    instead: str = ""  # what to do where an action is missing
    # Platforms that meter calls in units per day (YouTube): the day's allowance and the
    # cost of each call, so the console can count them and stop before the quota runs out.
    daily_quota: int | None = None
    read_cost: int = 0
    action_cost: int = 0

    def allows(self, action: Action) -> bool:
        return not action.touches_platform or action in self.actions


CAPABILITIES: dict[Platform, Capabilities] = {
    Platform.FACEBOOK: Capabilities(
        actions=frozenset({Action.HIDE, Action.UNHIDE, Action.REMOVE}),
        hide_means=(
            "The comment is hidden from everyone except the author and their friends, "
            "who do not learn that it was hidden. It can be unhidden."
        ),
        remove_means="The comment is deleted from Facebook permanently; it cannot be restored.",
        removed_readable=False,
        rate_limits=(
            "Page tokens fall under Meta's Business Use Case (BUC) limit: 4,800 calls per "
            "engaged user of the Page in a rolling 24 hours. When Facebook says the limit is "
            "reached, the console waits as long as Facebook asks."
        ),
    ),
    Platform.INSTAGRAM: Capabilities(
        actions=frozenset({Action.HIDE, Action.UNHIDE, Action.REMOVE}),
        hide_means=(
            "The comment is hidden from everyone except its author, who is not told that it "
            "was hidden. It can be unhidden."
        ),
        remove_means="The comment is deleted from Instagram permanently; it cannot be restored.",
        removed_readable=False,
        rate_limits=(
            "Instagram counts calls per app and account under Meta's Business Use Case (BUC) "
            "limit: 4,800 calls times the account's impressions in a rolling 24 hours. When "
            "Instagram says the limit is reached (error 80002), the console waits as long as "
            "Instagram asks."
        ),
    ),
    Platform.YOUTUBE: Capabilities(
        actions=frozenset({Action.HIDE, Action.UNHIDE, Action.REMOVE}),
        hide_means="held for review: hidden from the public until published again",
        # Only what Google's reference says: setModerationStatus cannot publish a rejected
        # comment, rejecting hides its replies too, and the API does not list rejected ones.
        remove_means=(
            "rejected: hidden from the public, with its replies; YouTube's API cannot publish "
            "a rejected comment again and no longer lists it"
        ),
        removed_readable=False,
        rate_limits=(
            "10,000 quota units a day for the City's Google Cloud project, reset at midnight "
            "Pacific time: each page read costs 1 unit, each hide, unhide or remove 50."
        ),
        daily_quota=10_000,
        read_cost=1,
        action_cost=50,
    ),
    Platform.X: Capabilities(
        actions=frozenset({Action.HIDE, Action.UNHIDE}),
        hide_means="moved behind 'View hidden replies'; still reachable there",
        remove_means="Not available: X lets the City delete only its own posts.",
        removed_readable=False,
        rate_limits=(
            "50 hide requests per 15 minutes per user; recent search covers 7 days; "
            "reads are billed per post"
        ),
        instead="Hide the reply instead; X lets the City delete only its own posts.",
    ),
    Platform.TIKTOK: Capabilities(
        actions=frozenset({Action.HIDE, Action.UNHIDE}),
        hide_means=(
            "The comment is hidden from everyone except its author, who is not told that it "
            "was hidden. It can be unhidden."
        ),
        remove_means=(
            "TikTok does not let the City delete other people's comments; only hiding is possible."
        ),
        removed_readable=False,
        rate_limits=(
            "TikTok limits calls per app and per endpoint (per second, minute and day). When "
            "TikTok says there are too many requests, the console waits a minute or as long as "
            "TikTok asks."
        ),
        instead="Hide it instead; TikTok lets an account delete only its own comments.",
    ),
    Platform.LINKEDIN: Capabilities(
        actions=frozenset({Action.REMOVE}),
        hide_means="LinkedIn has no hide",
        remove_means=(
            "The comment is deleted from LinkedIn permanently. LinkedIn lets the page delete its "
            "own comments; it may refuse to delete other members' comments."
        ),
        removed_readable=False,
        rate_limits=(
            "Daily per-application and per-member quotas, set in LinkedIn's developer portal "
            "and reset at midnight UTC. LinkedIn sends no usage figures, so when it says the "
            "quota is used up the console waits until midnight UTC."
        ),
        instead="Flag it and open the permalink; LinkedIn offers no hide.",
    ),
    Platform.WORDPRESS: Capabilities(
        actions=frozenset({Action.HIDE, Action.UNHIDE, Action.REMOVE}),
        hide_means=(
            "The comment is held for moderation (pending): not shown on the site. "
            "It can be approved again."
        ),
        remove_means=(
            "The comment is moved to the trash: WordPress keeps it for 30 days (unless the "
            "site is set otherwise), then deletes it for good. Until then it can be restored."
        ),
        removed_readable=True,
        rate_limits=(
            "WordPress itself does not limit API calls, but the site's host or firewall may. "
            "When it asks the console to wait, the console waits as long as it asks."
        ),
    ),
    Platform.DISCOURSE: Capabilities(
        actions=frozenset({Action.HIDE, Action.UNHIDE, Action.REMOVE}),
        hide_means=(
            "Hidden by a staff flag: collapsed for readers until unhidden. Discourse also "
            "sends the author a system message saying the post was hidden, and unlists a "
            "topic once all its posts are hidden."
        ),
        remove_means="deleted (soft): staff can still see and recover it",
        removed_readable=True,
        rate_limits=(
            "60 admin API requests per minute (Discourse's default, set by the forum's "
            "administrators). When Discourse asks the console to wait, it waits as long as asked."
        ),
    ),
}


def capabilities_of(platform: Platform | str) -> Capabilities:
    """What `platform` lets the City do (ValueError for a platform the console does not know)."""
    return CAPABILITIES[Platform(platform)]
