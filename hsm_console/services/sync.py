"""Sync: pull each site's new posts and comments into the queue.

Idempotent (a comment is keyed by site and platform id, so running twice adds nothing twice),
site by site (one failing site does not stop the others; its error is kept), reporting
progress as it goes and stopping between pages when cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.connectors.base import Connector, RemoteComment, RemotePost
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, Post, Site, SyncState, utcnow
from hsm_console.domain import CommentStatus
from hsm_console.errors import PermissionDenied, UserError
from hsm_console.services.connections import ConnectorFactory
from hsm_console.services.moderation import ModerationService

log = logging.getLogger(__name__)

# Read a little before the last comment seen, in case of clock skew on the platform's side.
OVERLAP = timedelta(hours=1)


@dataclass
class SiteResult:
    site_id: int
    site_name: str
    new_posts: int = 0
    new_comments: int = 0
    seen_comments: int = 0
    reconciled: int = 0
    error: str = ""
    cancelled: bool = False


@dataclass(frozen=True)
class SyncProgress:
    site_index: int  # 1-based
    site_count: int
    site_name: str
    new_comments: int
    seen_comments: int
    message: str


@dataclass
class _Counts:
    result: SiteResult
    parents: dict[str, str] = field(default_factory=dict)  # child external id -> parent's


class SyncCancelled(Exception):
    pass


class SyncService:
    def __init__(
        self, db: Database, connectors: ConnectorFactory, moderation: ModerationService
    ) -> None:
        self.db = db
        self.connectors = connectors
        self.moderation = moderation

    def sites(self, site_ids: Sequence[int] | None = None) -> list[Site]:
        """The active sites of the departments the person moderates."""
        with self.db.session() as session:
            actor = self.moderation.actor(session)
            if not actor.moderates:
                raise PermissionDenied(
                    f"{actor.describe()} moderates no department, so there is nothing to sync."
                )
            query = (
                select(Site)
                .where(Site.active, Site.department_id.in_(actor.moderates))
                .order_by(Site.id)
            )
            if site_ids:
                query = query.where(Site.id.in_(site_ids))
            sites = list(session.scalars(query))
            session.expunge_all()
            return sites

    def sync(
        self,
        site_ids: Sequence[int] | None = None,
        progress: Callable[[SyncProgress], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> list[SiteResult]:
        sites = self.sites(site_ids)
        results = []
        for index, site in enumerate(sites, start=1):
            if cancelled():
                break

            def report(
                message: str, counts: SiteResult, index: int = index, site: Site = site
            ) -> None:
                if progress is not None:
                    progress(
                        SyncProgress(
                            index, len(sites), site.name, counts.new_comments,
                            counts.seen_comments, message,
                        )
                    )  # fmt: skip

            results.append(self._sync_site(site, report, cancelled))
        return results

    def _sync_site(
        self,
        site: Site,
        report: Callable[[str, SiteResult], None],
        cancelled: Callable[[], bool],
    ) -> SiteResult:
        counts = _Counts(SiteResult(site.id, site.name))
        result = counts.result
        report("starting", result)
        connector: Connector | None = None
        try:
            connector = self.connectors(site)
            with self.db.session() as session:
                state = session.get(SyncState, site.id)
                high_water = state.high_water if state else None
            since = high_water - OVERLAP if high_water else None
            newest = self._pull(site, connector, since, counts, report, cancelled)
            self._finish(site, newest or high_water, "")
            result.reconciled = len(self.moderation.reconcile([site.id]))
        except SyncCancelled:
            result.cancelled = True
            report("cancelled", result)
        except UserError as exc:
            result.error = exc.message
            log.warning("sync of site %s failed: %s", site.id, exc.message)
            self._finish(site, None, exc.message)
            report(f"failed: {exc.message}", result)
        finally:
            if connector is not None:
                connector.close()
        if not result.error and not result.cancelled:
            report("done", result)
        return result

    def _pull(
        self,
        site: Site,
        connector: Connector,
        since: datetime | None,
        counts: _Counts,
        report: Callable[[str, SiteResult], None],
        cancelled: Callable[[], bool],
    ) -> datetime | None:
        newest: datetime | None = None
        cursor: str | None = None
        while True:
            page = connector.list_posts(cursor)
            post_ids = self._store_posts(site, page.items, counts.result)
            for post in page.items:
                comment_cursor: str | None = None
                while True:
                    if cancelled():
                        raise SyncCancelled
                    comments = connector.list_comments(post.external_id, comment_cursor, since)
                    latest = self._store_comments(
                        site, post_ids[post.external_id], comments.items, counts
                    )
                    if latest and (newest is None or latest > newest):
                        newest = latest
                    report(f"post {post.external_id}", counts.result)
                    comment_cursor = comments.next_cursor
                    if comment_cursor is None:
                        break
            cursor = page.next_cursor
            if cursor is None:
                break
        self._link_parents(site, counts)
        return newest

    def _store_posts(
        self, site: Site, posts: list[RemotePost], result: SiteResult
    ) -> dict[str, int]:
        with self.db.transaction() as session:
            ids = _existing(session, Post, site.id, [p.external_id for p in posts])
            for post in posts:
                if post.external_id in ids:
                    continue
                row = Post(
                    site_id=site.id,
                    external_id=post.external_id,
                    text=storable(post.text),
                    permalink=post.permalink,
                    created_at=post.created_at,
                    raw=post.raw,
                )
                session.add(row)
                session.flush()
                ids[post.external_id] = row.id
                result.new_posts += 1
            return ids

    def _store_comments(
        self, site: Site, post_id: int, comments: list[RemoteComment], counts: _Counts
    ) -> datetime | None:
        if not comments:
            return None
        result = counts.result
        with self.db.transaction() as session:
            existing = _existing(session, Comment, site.id, [c.external_id for c in comments])
            for remote in comments:
                result.seen_comments += 1
                if remote.external_id in existing:
                    continue
                session.add(
                    Comment(
                        site_id=site.id,
                        post_id=post_id,
                        external_id=remote.external_id,
                        author_id=storable(remote.author_id),
                        author_name=storable(remote.author_name),
                        text=storable(remote.text),
                        created_at=remote.created_at,
                        permalink=remote.permalink,
                        attachments=list(remote.attachments),
                        raw=remote.raw,
                        platform_state=remote.state.value,
                        status=CommentStatus.NEW.value,
                    )
                )
                existing[remote.external_id] = -1
                result.new_comments += 1
                if remote.parent_external_id:
                    counts.parents[remote.external_id] = remote.parent_external_id
        return max(c.created_at for c in comments)

    def _link_parents(self, site: Site, counts: _Counts) -> None:
        """Replies may arrive before their parent (another page): link them at the end."""
        if not counts.parents:
            return
        wanted = set(counts.parents) | set(counts.parents.values())
        with self.db.transaction() as session:
            ids = _existing(session, Comment, site.id, sorted(wanted))
            for child, parent in counts.parents.items():
                if child in ids and parent in ids:
                    session.query(Comment).filter(Comment.id == ids[child]).update(
                        {Comment.parent_id: ids[parent]}, synchronize_session=False
                    )

    def _finish(self, site: Site, high_water: datetime | None, error: str) -> None:
        with self.db.transaction() as session:
            state = session.get(SyncState, site.id)
            if state is None:
                state = SyncState(site_id=site.id, cursor={})
                session.add(state)
            if high_water is not None:
                state.high_water = high_water
            state.last_sync_at = utcnow()
            state.last_error = error


def storable(text: str) -> str:
    """Text as a database column can hold it on SQLite and PostgreSQL alike.

    PostgreSQL text cannot contain NUL, so a NUL becomes U+FFFD (the replacement character)
    on both databases; the platform's raw payload, kept beside it, still holds it exactly.
    """
    return text.replace("\x00", "\ufffd")


def _existing(
    session: Session, model: type[Post] | type[Comment], site_id: int, external_ids: list[str]
) -> dict[str, int]:
    if not external_ids:
        return {}
    rows = session.execute(
        select(model.external_id, model.id).where(
            model.site_id == site_id, model.external_id.in_(external_ids)
        )
    )
    return {external_id: row_id for external_id, row_id in rows}
