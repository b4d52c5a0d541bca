"""What each platform lets the City do: a word of the domain, so every layer can read it.

Each connector states its platform's capabilities; the services, the window and the command
line read them through `services.connector_factory.capabilities_of`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hsm_console.rules.domain import Action


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
