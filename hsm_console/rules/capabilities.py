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
    # Banning a comment's author (issue 10's blocked-accounts register): whether the API bans,
    # whether it lifts a ban again (if not, the ban's end is carried out by hand in the
    # platform's own screens and recorded), and what a ban is there, in words.
    can_ban: bool = False
    can_lift_ban: bool = False
    ban_removes_comment: bool = False  # the ban rejects the comment it is made through
    ban_means: str = ""

    @property
    def ban_end_by_hand(self) -> bool:
        """The ban's end date must be carried out by a person: the API cannot lift it."""
        return not self.can_lift_ban

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
        # Graph's Page `blocked` edge: POST user=[id] blocks, DELETE user=id unblocks; a block
        # has no end date of its own, so the console lifts it on the ban's date.
        can_ban=True,
        can_lift_ban=True,
        ban_means=(
            "The person is blocked from the Page: they can no longer comment on or react to "
            "its posts. Facebook blocks have no end date: the console unblocks them on the "
            "ban's end date (bans lift-due, or the next sync)."
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
        ban_means=(
            "Instagram's API cannot block or restrict an account: an approved ban is carried "
            "out by hand in the Instagram app (Block or Restrict), and its end likewise."
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
        # comments.setModerationStatus with banAuthor=true, valid only with rejected: the ban
        # is made through one of the author's comments, which is rejected with it. Google
        # documents no end date and no way to lift the ban through the API.
        can_ban=True,
        ban_removes_comment=True,
        ban_means=(
            "The comment is rejected and its author banned from the channel: YouTube rejects "
            "their future comments automatically. YouTube's API gives a ban no end date and "
            "cannot lift it: on the end date a person removes the author from the channel's "
            "hidden users in YouTube Studio, and records it here."
        ),
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
        ban_means=(
            "The console's access to X (hide replies) does not block accounts: an approved ban "
            "is carried out by hand in X (Block), and its end likewise."
        ),
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
        ban_means=(
            "TikTok's Business API has no block: an approved ban is carried out by hand in the "
            "TikTok app (Block), and its end likewise."
        ),
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
        ban_means=(
            "LinkedIn's Community Management API has no block: an approved ban is carried out "
            "by hand where LinkedIn allows it, and its end likewise."
        ),
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
        # Core's REST API has no per-person ban, and its "Disallowed Comment Keys" setting is
        # not in the REST settings; it matches words anywhere in any comment, so it is no
        # ban of one person and the console does not write it.
        ban_means=(
            "WordPress has no ban of one person through its API: an approved ban is carried out "
            "by hand, by an administrator who adds the commenter's e-mail address to Settings "
            "> Discussion > Disallowed Comment Keys (their comments then go to the trash), "
            "and removes it on the end date; both are recorded here."
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
        # PUT /admin/users/{id}/suspend.json (suspend_until, reason), .../unsuspend.json.
        can_ban=True,
        can_lift_ban=True,
        ban_means=(
            "The member is suspended until the end date: they cannot sign in or post, and "
            "Discourse shows them the reason. Discourse ends the suspension on that date; a "
            "supervisor can lift it earlier."
        ),
    ),
}


def capabilities_of(platform: Platform | str) -> Capabilities:
    """What `platform` lets the City do (ValueError for a platform the console does not know)."""
    return CAPABILITIES[Platform(platform)]
