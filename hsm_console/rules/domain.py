"""The words of the design (docs/design.md, "Words") as types shared by every layer."""

from __future__ import annotations

import enum


class Platform(enum.StrEnum):
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    X = "x"
    YOUTUBE = "youtube"
    TIKTOK = "tiktok"
    LINKEDIN = "linkedin"
    WORDPRESS = "wordpress"
    DISCOURSE = "discourse"

    @property
    def label(self) -> str:
        """The platform's name as its owner spells it."""
        return _PLATFORM_LABELS[self]


_PLATFORM_LABELS = {
    Platform.FACEBOOK: "Facebook",
    Platform.INSTAGRAM: "Instagram",
    Platform.X: "X",
    Platform.YOUTUBE: "YouTube",
    Platform.TIKTOK: "TikTok",
    Platform.LINKEDIN: "LinkedIn",
    Platform.WORDPRESS: "WordPress",
    Platform.DISCOURSE: "Discourse",
}


class Action(enum.StrEnum):
    """What a moderator does to a comment."""

    FLAG = "flag"  # local only: marked for review
    HIDE = "hide"
    UNHIDE = "unhide"
    REMOVE = "remove"  # irreversible on the platform
    KEEP = "keep"  # reviewed, no action needed

    @property
    def touches_platform(self) -> bool:
        return self in (Action.HIDE, Action.UNHIDE, Action.REMOVE)

    @property
    def needs_reason(self) -> bool:
        return self in (Action.FLAG, Action.HIDE, Action.REMOVE)


class CommentStatus(enum.StrEnum):
    """Where a comment stands in the City's triage (the queue shows NEW)."""

    NEW = "new"
    FLAGGED = "flagged"
    HIDDEN = "hidden"
    REMOVED = "removed"
    KEPT = "kept"
    DISPOSED = "disposed"  # its content destroyed under a disposal certificate (retention)


# The status a comment takes once an action is applied.
STATUS_AFTER: dict[Action, CommentStatus] = {
    Action.FLAG: CommentStatus.FLAGGED,
    Action.HIDE: CommentStatus.HIDDEN,
    Action.UNHIDE: CommentStatus.KEPT,
    Action.REMOVE: CommentStatus.REMOVED,
    Action.KEEP: CommentStatus.KEPT,
}


class PlatformState(enum.StrEnum):
    """A comment's visibility on the platform itself, as last seen."""

    VISIBLE = "visible"
    HIDDEN = "hidden"
    REMOVED = "removed"  # deleted by the City or by its author
    UNKNOWN = "unknown"  # the platform cannot tell (e.g. X has no hidden flag)


# The platform state each platform-changing action produces.
STATE_AFTER: dict[Action, PlatformState] = {
    Action.HIDE: PlatformState.HIDDEN,
    Action.UNHIDE: PlatformState.VISIBLE,
    Action.REMOVE: PlatformState.REMOVED,
}


class EntryState(enum.StrEnum):
    """The kind of an action-log entry."""

    PENDING = "pending"  # recorded; the platform has not been told yet
    APPLIED = "applied"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"  # the platform cannot say whether it took effect


class EntryKind(enum.StrEnum):
    """What a log entry records. One hash chain holds every kind, so one head certifies all."""

    ACTION = "action"  # a moderator's action on a comment, or its outcome
    ADMIN = "admin"  # a change to departments, people, roles or sites
    REVIEW = "review"  # a supervisor's verdict on an action (`refers_to` it): ReviewVerdict
    NOTE = "note"  # a note on a comment, for its department
    NOTICE = "notice"  # the notice sent to a commenter about an action (`refers_to` it)
    APPEAL = "appeal"  # an appeal of an action, or the decision on one: AppealStep
    # The records officer's (issue 10); each names what it is about in `subject`.
    REQUEST = "request"  # a records request received, extended, answered... or exported
    HOLD = "hold"  # a legal hold placed or lifted
    DISPOSAL = "disposal"  # a disposal certificate recorded, or records disposed under one
    BAN = "ban"  # an author's ban proposed, approved, refused, carried out or lifted
    SEAL = "seal"  # the chain head sealed, so the log cannot be quietly rewound
    # A moderator's word that screening's suggestion (`reason_code`) was wrong on a comment.
    SCREENING = "screening"


class ReviewVerdict(enum.StrEnum):
    """The `action` of a review entry: the reviewer's verdict."""

    CONCUR = "concur"
    QUESTION = "question"


class AppealStep(enum.StrEnum):
    """The `action` of an appeal entry: the appeal as received (`refers_to` the action), or
    the decision on it (`refers_to` the appeal)."""

    APPEAL = "appeal"
    UPHOLD = "uphold"  # the action stands
    OVERTURN = "overturn"  # the action is reversed (unhide) through the record-first path


class ReviewState(enum.StrEnum):
    """Where an action stands in review (the log view's filter)."""

    NEEDS_REVIEW = "needs_review"  # under a second-review code, applied, not yet reviewed
    CONCURRED = "concurred"
    QUESTIONED = "questioned"
    NOT_NEEDED = "not_needed"  # not under a second-review code, and not reviewed

    @property
    def label(self) -> str:
        return _REVIEW_STATE_LABELS[self]


_REVIEW_STATE_LABELS = {
    ReviewState.NEEDS_REVIEW: "Needs review",
    ReviewState.CONCURRED: "Concurred",
    ReviewState.QUESTIONED: "Questioned",
    ReviewState.NOT_NEEDED: "Not needing review",
}


class AdminChange(enum.StrEnum):
    """The `action` of an administrative log entry."""

    INIT = "init"  # the first administrator, on an empty database
    ADD = "add"
    CHANGE = "change"
    GRANT = "grant"
    REVOKE = "revoke"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    CONNECT = "connect"  # a site's credential stored by an administrator (never the credential)


class Role(enum.StrEnum):
    MODERATOR = "moderator"
    SUPERVISOR = "supervisor"
    RECORDS_OFFICER = "records_officer"  # answers records requests, keeps retention (issue 10)
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        """As people say it: "records officer"."""
        return self.value.replace("_", " ")
