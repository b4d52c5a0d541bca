"""May this action run on this comment now? One answer, in words a moderator can read.

The window disables an action and shows these words; the moderation service refuses with the
same words before anything is recorded. What needs the database (another moderator acted
first, a platform's wait or quota) the service checks on top.
"""

from __future__ import annotations

from hsm_console.rules.capabilities import Capabilities
from hsm_console.rules.domain import Action, Platform, PlatformState


def refusal(
    action: Action,
    *,
    platform: Platform,
    platform_state: PlatformState,
    acting: str | None,
    caps: Capabilities,
    reconnect_site: str | None = None,
    disposed: bool = False,
) -> str | None:
    """Why `action` cannot run on the comment now, or None when it can.

    `acting` names whoever is carrying out an action on the comment right now (None: nobody);
    `reconnect_site` names the comment's site when its platform refused its sign-in;
    `disposed`: the City's copy was destroyed under a disposal certificate.
    """
    if disposed:
        return (
            "This comment's content was disposed of under a records disposal certificate; "
            "nothing can be done to it here. Its log entries and their hashes remain."
        )
    if acting is not None:
        return f"{acting} is acting on this comment right now; look again in a moment."
    if reconnect_site is not None and action.touches_platform:
        return needs_reconnecting(reconnect_site) + " Nothing was recorded."
    if platform_state is PlatformState.REMOVED:
        return (
            f"This comment no longer exists on {platform.label} (removed); nothing can be done "
            "to it there. Its retained records and history remain."
        )
    missing = unsupported(action, platform, caps)
    if missing is not None:
        return missing
    if action is Action.HIDE and platform_state is PlatformState.HIDDEN:
        return f"This comment is already hidden on {platform.label}."
    if action is Action.UNHIDE and platform_state is not PlatformState.HIDDEN:
        return f"This comment is not hidden on {platform.label}, so it cannot be unhidden."
    return None


def unsupported(action: Action, platform: Platform, caps: Capabilities) -> str | None:
    """Why the platform never lets the City take `action`, or None when it does."""
    if caps.allows(action):
        return None
    words = f"{platform.label} does not allow the City to {action.value} a comment. {caps.instead}"
    return words.rstrip()


def needs_reconnecting(site_name: str) -> str:
    """A site whose platform no longer accepts the console's sign-in, in `sync`, the window
    and a refused action alike."""
    return (
        f"The site {site_name!r} needs reconnecting: its platform no longer accepts the "
        "console's sign-in. Ask an administrator to connect it again; other sites are not "
        "affected."
    )
