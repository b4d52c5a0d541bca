"""Errors a person should read. Everything else is a bug and goes to the debug log."""

from __future__ import annotations


class UserError(Exception):
    """A problem explained in plain words, with what to do about it where we know."""

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details  # technical text an engineer may need; never a secret

    def __str__(self) -> str:
        return self.message


class ConfigurationError(UserError):
    """Settings, policy file or credentials are missing or malformed."""


class PermissionDenied(UserError):
    """The acting person may not do this."""


class PolicyViolation(UserError):
    """The City's comment policy does not allow this action with this reason code."""


class NotPossible(UserError):
    """The platform, or the comment's current state, does not allow this action."""


class ConcurrentAction(UserError):
    """Someone else handled the comment first; nothing was sent."""


class InvalidInput(UserError):
    """What was entered cannot be used as it is; the message says what is expected."""


class NotFound(UserError):
    """No such comment, site, department or person."""


class PlatformError(UserError):
    """A platform call failed. `retryable` says whether trying later may help.

    `token_lapsed`: the platform said, by its own code (HTTP 401, Graph 190, a TikTok token
    code), that the site's access token expired or was revoked; the client renews it once."""

    def __init__(
        self,
        message: str,
        *,
        details: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
        gone: bool = False,
        token_lapsed: bool = False,
    ) -> None:
        super().__init__(message, details=details)
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the platform asked us to wait
        self.gone = gone  # the content no longer exists on the platform
        self.token_lapsed = token_lapsed


class NeedsReconnecting(ConfigurationError):
    """The platform no longer accepts the site's sign-in; an administrator must connect it
    again. Nothing is sent to or recorded for that site until then; other sites go on."""
