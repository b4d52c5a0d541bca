"""The domain's one answer to "may this action run on this comment now?" and its words."""

from __future__ import annotations

import pytest

from hsm_console.rules.actions import refusal, unsupported
from hsm_console.rules.capabilities import Capabilities
from hsm_console.rules.domain import Action, Platform, PlatformState

# A platform that can hide but not remove, like X.
HIDE_ONLY = Capabilities(
    actions=frozenset({Action.HIDE, Action.UNHIDE}),
    hide_means="hidden behind a link",
    remove_means="not possible",
    removed_readable=False,
    rate_limits="some",
    instead="Hide the reply instead.",
)


def why(
    action: Action,
    state: PlatformState = PlatformState.VISIBLE,
    *,
    acting: str | None = None,
    caps: Capabilities = HIDE_ONLY,
) -> str | None:
    return refusal(action, platform=Platform.X, platform_state=state, acting=acting, caps=caps)


@pytest.mark.parametrize("action", list(Action))
def test_nothing_runs_while_someone_is_acting_on_the_comment(action: Action) -> None:
    assert why(action, acting="Bob Moderator (bob)") == (
        "Bob Moderator (bob) is acting on this comment right now; look again in a moment."
    )


@pytest.mark.parametrize("action", list(Action))
def test_nothing_runs_on_a_removed_comment_not_even_flag(action: Action) -> None:
    words = why(action, PlatformState.REMOVED)
    assert words is not None
    assert words.startswith("This comment no longer exists on X (removed)")


def test_what_the_platform_lacks_is_refused_with_what_to_do_instead() -> None:
    assert why(Action.REMOVE) == (
        "X does not allow the City to remove a comment. Hide the reply instead."
    )
    assert unsupported(Action.REMOVE, Platform.X, HIDE_ONLY) == why(Action.REMOVE)
    assert unsupported(Action.HIDE, Platform.X, HIDE_ONLY) is None


def test_without_anything_instead_the_words_end_at_the_sentence() -> None:
    bare = Capabilities(frozenset(), "", "", False, "")
    assert why(Action.HIDE, caps=bare) == "X does not allow the City to hide a comment."


def test_hide_and_unhide_follow_the_platform_state() -> None:
    assert why(Action.HIDE, PlatformState.HIDDEN) == "This comment is already hidden on X."
    assert why(Action.UNHIDE) == "This comment is not hidden on X, so it cannot be unhidden."
    assert why(Action.UNHIDE, PlatformState.UNKNOWN) is not None
    assert why(Action.UNHIDE, PlatformState.HIDDEN) is None
    assert why(Action.HIDE, PlatformState.UNKNOWN) is None  # X cannot tell: hiding may help


@pytest.mark.parametrize("action", [Action.FLAG, Action.KEEP])
def test_flag_and_keep_need_nothing_of_the_platform(action: Action) -> None:
    bare = Capabilities(frozenset(), "", "", False, "")
    assert why(action, PlatformState.HIDDEN, caps=bare) is None
    assert why(action, PlatformState.UNKNOWN, caps=bare) is None
