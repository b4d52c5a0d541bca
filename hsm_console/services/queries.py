"""Reading what a person may see: whether a comment is theirs to read.

Every query is narrowed to the departments the person's roles cover; a moderator never sees
another department's comments, whatever the caller asks for.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hsm_console.db.models import Comment
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
