"""Reading what a person may see: whether a comment is theirs to read, the action log.

Every query is narrowed to the departments the person's roles cover; a moderator never sees
another department's comments, whatever the caller asks for.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db.models import Comment, LogEntry
from hsm_console.errors import NotFound, PermissionDenied
from hsm_console.services.access import Actor


def readable_comment(session: Session, actor: Actor, comment_id: int) -> Comment:
    """A comment the person may see (moderators: their departments; supervisors: theirs)."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(f"There is no comment {comment_id}.")
    department_id = comment.site.department_id
    if not (actor.may_moderate(department_id) or actor.may_read_log(department_id)):
        raise PermissionDenied(
            f"Comment {comment_id} belongs to a department {actor.describe()} does not work for."
        )
    return comment


def action_log(
    session: Session,
    actor: Actor,
    comment_id: int | None = None,
    limit: int = 200,
    after_id: int = 0,
) -> list[LogEntry]:
    """Log entries the person may read, oldest first (the chain's order)."""
    query = select(LogEntry).where(LogEntry.id > after_id).order_by(LogEntry.id).limit(limit)
    if not (actor.administers or actor.supervises is None):
        visible = set(actor.moderates) | set(actor.supervises)
        query = query.where(LogEntry.department_id.in_(visible))
    if comment_id is not None:
        readable_comment(session, actor, comment_id)
        query = query.where(LogEntry.comment_id == comment_id)
    return list(session.scalars(query))
