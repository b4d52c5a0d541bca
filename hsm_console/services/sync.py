"""Sync: pull each site's posts and comments into the queue.

- Idempotent: a comment is keyed by site and platform id, so nothing is added twice.
- Incremental: posts older than the site's `active_days` are not read again; comments on
  posts younger than `full_days` are read in full (so edits and deletions are seen), older
  active posts only since the site's high-water mark.
- Resumable: a failure in the middle of a listing stores the last good cursor; the next sync
  starts there, so nothing is skipped.
- Faithful: an author's edit keeps the earlier text beside the new (`comment_versions`); a
  comment its author deleted is marked gone, never dropped.
- Polite: waits a platform announced are stored and respected; metered calls are counted.
- Site by site: one failing site does not stop the others; its error is kept and shown.
- Gapless: every interval a site could not be read is recorded (`services.health`), and the
  sync that reads it again reads back from before the gap began.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    Dialect,
    Integer,
    Select,
    String,
    bindparam,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from hsm_console.connectors.base import Connector, RemoteComment, RemotePost
from hsm_console.connectors.payload import skips_collected
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Comment,
    CommentSuggestion,
    CommentVersion,
    DisposedRecord,
    Post,
    Site,
    SyncState,
    utcnow,
)
from hsm_console.display import local_time
from hsm_console.errors import NotPossible, PermissionDenied, PlatformError, UserError
from hsm_console.rules.capabilities import Capabilities, capabilities_of
from hsm_console.rules.domain import CommentStatus, Platform, PlatformState
from hsm_console.rules.screening import RepeatDetector, Screener, Suggestion, screen_thread
from hsm_console.rules.search_words import document
from hsm_console.services import health, limits, suggestions
from hsm_console.services.access import Actor
from hsm_console.services.bans import BanService
from hsm_console.services.connector_factory import ConnectorFactory
from hsm_console.services.moderation import ModerationService
from hsm_console.services.site_checks import SiteChecker

log = logging.getLogger(__name__)
T = TypeVar("T")

# Read a little before the last comment seen, in case of clock skew on the platform's side.
OVERLAP = timedelta(hours=1)
ACTIVE_DAYS = 30  # posts older than this are not read again
FULL_DAYS = 7  # comments of posts younger than this are read in full each time
GONE_CHECKS_PER_POST = 50  # bounds the read-backs of comments missing from a listing
# A sync that adds this many comments (a site's first) refreshes PostgreSQL's statistics, so
# the queue's plans see the comments now there rather than wait for autovacuum. The whole
# table: ANALYZE with a column list skips the full-text index's expression, and the log's and
# the records' searches plan by it (with it stale, the Log tab's search of a common word at
# 1,000,000 comments probed each entry's comment, 605 ms, against 91 ms). At that size it
# costs 0.65-0.95 s of the server's CPU, once, after a site's first sync.
ANALYZE_AFTER = 10_000
_ANALYZED = "comments, posts"
LINK_BATCH = 1000  # replies linked to parents a statement, well under the drivers' limits


@dataclass
class SiteResult:
    site_id: int
    site_name: str
    platform: str = ""
    new_posts: int = 0
    new_comments: int = 0
    seen_comments: int = 0
    edited: int = 0
    gone: int = 0
    reconciled: int = 0
    bans_ended: int = 0  # bans whose end date came, lifted on the platform
    error: str = ""
    cancelled: bool = False
    skipped_until: datetime | None = None
    # Items the platform sent that could not be kept (no id, text or author; not UTF-8):
    # how many, and the latest in plain words. Never stored as comments.
    unreadable: int = 0
    unreadable_latest: str = ""
    checks_problem: str = ""  # why the policy's site checks could not run ("" if they did)

    def unreadable_note(self, platform: str) -> str:
        """The site's record of unreadable items, in words a supervisor can read ("" if none)."""
        if not self.unreadable:
            return ""
        return (
            f"{self.unreadable} item(s) from {platform} could not be read and were not "
            f"stored; the latest: {self.unreadable_latest}. The program's log has the "
            "details for IT."
        )


@dataclass(frozen=True)
class SyncProgress:
    site_index: int  # 1-based
    site_count: int
    site_name: str
    new_comments: int
    seen_comments: int
    message: str


class SyncCancelled(Exception):
    pass


@dataclass
class _Run:
    """One site's sync in progress."""

    site: Site
    caps: Capabilities
    connector: Connector
    result: SiteResult
    report: Callable[[str], None]
    cancelled: Callable[[], bool]
    resume: dict[str, Any]
    parents: dict[str, str] = field(default_factory=dict)  # child external id -> parent's
    newest: datetime | None = None
    read_back: datetime | None = None  # after a gap: read every active post since then
    posts_read: list[RemotePost] = field(default_factory=list)  # for the site checks

    def setting(self, name: str, default: int) -> int:
        value = self.site.settings.get(name, default)
        return value if isinstance(value, int) else default


class SyncService:
    def __init__(
        self,
        db: Database,
        connectors: ConnectorFactory,
        moderation: ModerationService,
        screener: Screener | None = None,
        checker: SiteChecker | None = None,
        bans: BanService | None = None,
        after: Callable[[], object] | None = None,
        refused: str | None = None,
    ) -> None:
        self.db = db
        # Why this program does not sync, in words (the City-wide mode: the agent does).
        self.refused = refused
        self.bans = bans  # ends the site's bans whose date has come, after each sync
        self.after = after  # run after a sync that was not cancelled: the daily seal
        self.connectors = connectors
        self.moderation = moderation
        self.screener = screener or Screener.default()
        self.checker = checker or SiteChecker()
        # Per site: one resident posting the same words on Facebook and on X is not spam.
        self.repeats: dict[int, RepeatDetector] = {}

    def sites(self, site_ids: Sequence[int] | None = None) -> list[Site]:
        """The active sites of the departments the person moderates."""
        with self.db.session() as session:
            actor = self.moderation.actor(session)
            if not actor.moderates:
                raise PermissionDenied(
                    f"{actor.describe()} moderates no department, so there is nothing to sync. "
                    "Sync reads the sites of the departments you moderate: ask an administrator "
                    "for the moderator role (admin role grant ACCOUNT moderator --department "
                    "CODE)."
                )
            query = (
                select(Site)
                .where(Site.active, Site.department_id.in_(actor.moderates))
                .order_by(Site.id)
            )
            if site_ids:
                _refuse_unreachable(
                    actor, session.scalars(select(Site).where(Site.id.in_(site_ids)))
                )
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
        if self.refused is not None:
            raise NotPossible(self.refused)
        return self.sync_sites(self.sites(site_ids), progress, cancelled)

    def sync_sites(
        self,
        sites: Sequence[Site],
        progress: Callable[[SyncProgress], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> list[SiteResult]:
        """Sync these sites, already checked (the agent's, by its leases)."""
        results = []
        for index, site in enumerate(sites, start=1):
            if cancelled():
                break
            result = SiteResult(site.id, site.name, site.platform)

            def report(
                message: str, index: int = index, site: Site = site, result: SiteResult = result
            ) -> None:
                if progress is not None:
                    progress(
                        SyncProgress(
                            index, len(sites), site.name, result.new_comments,
                            result.seen_comments, message,
                        )
                    )  # fmt: skip

            results.append(self._sync_site(site, result, report, cancelled))
        if self.after is not None and not cancelled():
            self.after()
        return results

    # --- one site --------------------------------------------------------------------------

    def _sync_site(
        self,
        site: Site,
        result: SiteResult,
        report: Callable[[str], None],
        cancelled: Callable[[], bool],
    ) -> SiteResult:
        with self.db.transaction() as session:
            until = limits.waiting_until(session, site.id)
            state = session.get(SyncState, site.id)
            high_water = state.high_water if state else None
            resume = dict(state.cursor) if state and state.cursor else {}
            read_back = None if until else health.starting(session, site)
        if until is not None:
            result.skipped_until = until
            name = Platform(site.platform).label
            result.error = (
                f"{name} asked the City to wait until {local_time(until)}; this site is skipped "
                "until then."
            )
            with self.db.transaction() as session:
                health.failed(session, site, health.GapKind.WAIT, result.error)
            report(f"skipped: {result.error}")
            return result
        report("starting")
        connector: Connector | None = None
        try:
            connector = self.connectors(site)
            run = _Run(
                site, capabilities_of(site.platform), connector, result, report, cancelled, resume
            )
            if read_back is not None:
                run.read_back = read_back - OVERLAP
            self._pull(run, high_water)
            if result.new_comments >= ANALYZE_AFTER:
                self._analyze()
            # A clean sync clears the last error; one that lost items says so instead.
            note = result.unreadable_note(Platform(site.platform).label)
            self._finish(site, run.newest or high_water, note, {})
            result.reconciled = len(self.moderation.reconcile([site.id]))
            if self.bans is not None:
                result.bans_ended = len(self.bans.lift_due([site.id]).lifted)
            self._check(run)
            report("done")
        except SyncCancelled:
            result.cancelled = True
            report("cancelled")
        except PlatformError as exc:
            self._failed(site, result, exc, report)
            if exc.retry_after is not None:
                with self.db.transaction() as session:
                    limits.note_wait(session, site.id, exc.retry_after)
        except UserError as exc:
            self._failed(site, result, exc, report)
        finally:
            if connector is not None:
                connector.close()
        return result

    def _analyze(self) -> None:
        if self.db.is_sqlite:  # SQLite's plans are made without statistics (`queue_view`)
            return
        with self.db.transaction() as session:
            session.execute(text(f"ANALYZE {_ANALYZED}"))

    def _failed(
        self, site: Site, result: SiteResult, exc: UserError, report: Callable[[str], None]
    ) -> None:
        result.error = exc.message
        log.warning("sync of site %s failed: %s", site.id, exc.message)
        with self.db.transaction() as session:
            state = health.state_of(session, site.id)
            state.last_sync_at = utcnow()
            note = result.unreadable_note(Platform(site.platform).label)
            state.last_error = f"{exc.message} {note}".strip()
            health.failed(session, site, health.kind_of(exc), exc.message)
        report(f"failed: {exc.message}")

    def _pull(self, run: _Run, high_water: datetime | None) -> None:
        now = utcnow()
        active_since = now - timedelta(days=run.setting("active_days", ACTIVE_DAYS))
        full_since = now - timedelta(days=run.setting("full_days", FULL_DAYS))
        cursor: str | None = None
        while True:
            page = self._read(run, partial(run.connector.list_posts, cursor))
            run.posts_read.extend(page.items)
            post_ids = self._store_posts(run, page.items)
            active = [p for p in page.items if p.created_at >= active_since]
            for post in active:
                since = None
                if post.created_at < full_since and high_water is not None:
                    since = high_water - OVERLAP
                    if run.read_back is not None:
                        since = min(since, run.read_back)
                self._pull_post(run, post, post_ids[post.external_id], since)
            cursor = page.next_cursor
            # Posts come newest first: a page with nothing active means the rest is older.
            if cursor is None or not active:
                break
        self._link_parents(run)

    def _pull_post(self, run: _Run, post: RemotePost, post_id: int, since: datetime | None) -> None:
        start = None
        if run.resume.get("post") == post.external_id:
            start = run.resume.get("cursor")
        self._pull_pages(run, post, post_id, since, start)
        if start is not None and run.read_back is not None:
            # The pages before the cursor were read before the gap; what arrived since may sit
            # on them (newest-first listings), so the post is read again from its start.
            self._pull_pages(run, post, post_id, since, None)

    def _pull_pages(
        self, run: _Run, post: RemotePost, post_id: int, since: datetime | None, start: Any
    ) -> None:
        complete = since is None and start is None
        seen: set[str] = set()
        cursor = start
        while True:
            if run.cancelled():
                raise SyncCancelled
            try:
                page = self._read(
                    run, partial(run.connector.list_comments, post.external_id, cursor, since)
                )
            except UserError:
                # Keep the last good cursor: the next sync resumes here.
                with self.db.transaction() as session:
                    health.state_of(session, run.site.id).cursor = {
                        "post": post.external_id, "cursor": cursor
                    }  # fmt: skip
                raise
            self._store_comments(run, post_id, page.items)
            seen.update(c.external_id for c in page.items)
            run.report(f"post {post.external_id}")
            cursor = page.next_cursor
            if cursor is None:
                break
        if complete:
            self._find_gone(run, post_id, seen)

    def _check(self, run: _Run) -> None:
        """The policy's checks on the site (Section 2), once its comments are stored: a
        profile that cannot be read is reported and stops nothing."""

        def read(call: Callable[[], T]) -> T:
            return self._read(run, call)

        problem = self.checker.run(
            self.db.transaction, run.site, run.connector, run.posts_read, read
        )
        if problem:
            run.result.checks_problem = problem
            run.report(f"site checks: {problem}")

    def _read(self, run: _Run, call: Callable[[], T]) -> T:
        """One listing call, counted against a metered platform's quota."""
        if run.caps.daily_quota is not None:
            with self.db.session() as session:
                limits.require_quota(session, run.site, run.caps, run.caps.read_cost)
        with skips_collected() as skipped:
            answer = call()
        for item in skipped:
            run.result.unreadable += 1
            run.result.unreadable_latest = str(item)
            run.report(f"could not read {item}")
        if run.caps.read_cost:
            with self.db.transaction() as session:
                limits.spend(session, run.site.platform, run.caps, run.caps.read_cost)
        return answer

    # --- storing ---------------------------------------------------------------------------

    def _store_posts(self, run: _Run, posts: list[RemotePost]) -> dict[str, int]:
        with self.db.transaction() as session:
            ids = _existing_ids(session, Post, run.site.id, [p.external_id for p in posts])
            for post in posts:
                if post.external_id in ids:
                    continue
                row = Post(
                    site_id=run.site.id,
                    external_id=post.external_id,
                    text=storable(post.text),
                    permalink=post.permalink,
                    created_at=post.created_at,
                    raw=post.raw,
                )
                session.add(row)
                session.flush()
                ids[post.external_id] = row.id
                run.result.new_posts += 1
            return ids

    def _store_comments(self, run: _Run, post_id: int, comments: list[RemoteComment]) -> None:
        """One page: one look-up of the page's comments and their parents, one multi-row
        insert, one batch of parent links (ORM objects only for comments already stored).

        On PostgreSQL a page of new comments alone (a site's first sync, the new replies of a
        later one) is stored by one statement (`_PG_INSERT`), so it needs no transaction of
        its own: the look-up and that statement run in autocommit, a round trip each, and
        BEGIN and COMMIT are not sent. Its READ COMMITTED transaction took no lock and saw
        what a statement just before it sees, so nothing else changes. A page holding
        comments already stored updates them in one transaction, begun after the look-up."""
        if not comments:
            return
        with self.db.transaction() as session:
            _autocommit(session, True)
            try:
                self._store_page(session, run, post_id, comments)
            finally:
                _autocommit(session, False)

    def _store_page(
        self, session: Session, run: _Run, post_id: int, comments: list[RemoteComment]
    ) -> None:
        result = run.result
        wanted = {c.external_id for c in comments} | {
            c.parent_external_id for c in comments if c.parent_external_id
        }
        ids = _existing_ids(session, Comment, run.site.id, sorted(wanted))
        stored_ids = [ids[c.external_id] for c in comments if c.external_id in ids]
        if stored_ids:
            _autocommit(session, False)  # their updates, the insert and links: one transaction
        known = _stored(session, stored_ids)
        new: dict[str, dict[str, Any]] = {}
        parents: dict[str, str | None] = {}  # of the new ones
        screened: dict[str, list[Suggestion]] = {}
        for remote in comments:
            result.seen_comments += 1
            if run.newest is None or remote.created_at > run.newest:
                run.newest = remote.created_at
            stored = known.get(remote.external_id)
            if stored is not None:
                self._update(session, run, stored, remote)
            elif remote.external_id not in new and remote.external_id not in ids:
                new[remote.external_id] = self._new_row(run, post_id, remote, screened)
                parents[remote.external_id] = remote.parent_external_id
        if not new:
            return
        _insert_parents_first(session, new, parents, ids, screened)
        result.new_comments += len(new)
        links = []
        for remote in comments:
            parent = remote.parent_external_id
            if parent and remote.external_id in new:
                if parent not in ids:  # on a later page: linked at the end
                    run.parents[remote.external_id] = parent
                elif new[remote.external_id]["parent_id"] != ids[parent]:
                    # SQLite alone: PostgreSQL's statement gave every reply its parent's id
                    links.append({"id": ids[remote.external_id], "parent_id": ids[parent]})
        if links:
            session.execute(update(Comment), links)

    def _new_row(
        self,
        run: _Run,
        post_id: int,
        remote: RemoteComment,
        screened: dict[str, list[Suggestion]],
    ) -> dict[str, Any]:
        text = storable(remote.text)
        found = self._suggest(run.site.id, remote.external_id, text, remote.author_id)
        screened[remote.external_id] = found
        code, why = (found[0].code, found[0].why) if found else (None, "")
        author_name = storable(remote.author_name)
        return dict(
            site_id=run.site.id,
            post_id=post_id,
            external_id=remote.external_id,
            author_id=storable(remote.author_id),
            author_name=author_name,
            text=text,
            created_at=remote.created_at,
            permalink=remote.permalink,
            attachments=list(remote.attachments),
            raw=remote.raw,
            platform_state=remote.state.value,
            status=CommentStatus.NEW.value,
            edited_at=remote.updated_at,
            gone_seen_at=utcnow() if remote.state is PlatformState.REMOVED else None,
            suggested_code=code,
            suggestion_why=why,
            fetched_at=utcnow(),
            version=0,
            search_words=document(author_name, text),  # the model's default, made here
        )

    def _update(self, session: Session, run: _Run, stored: Comment, remote: RemoteComment) -> None:
        text = storable(remote.text)
        if text != stored.text:
            session.add(
                CommentVersion(
                    comment_id=stored.id,
                    author_name=stored.author_name,
                    text=stored.text,
                    raw=stored.raw,
                    edited_at=remote.updated_at,
                    replaced_seen_at=utcnow(),
                )
            )
            stored.text = text
            stored.author_name = storable(remote.author_name)
            stored.raw = remote.raw
            stored.edited_at = remote.updated_at or utcnow()
            found = self._suggest(run.site.id, stored.external_id, text, stored.author_id)
            stored.suggested_code, stored.suggestion_why = (
                (found[0].code, found[0].why) if found else (None, "")
            )
            suggestions.replace_all(
                session, stored.id, stored.site_id, stored.status, stored.created_at, found
            )
            if stored.status == CommentStatus.KEPT.value:
                stored.status = CommentStatus.NEW.value  # reviewed before the edit: look again
            run.result.edited += 1
        # UNKNOWN (X cannot say whether a reply is hidden) never replaces what we know.
        if (
            stored.pending_entry_id is None
            and remote.state is not PlatformState.UNKNOWN
            and remote.state.value != stored.platform_state
        ):
            stored.platform_state = remote.state.value
            if remote.state is PlatformState.REMOVED:
                stored.gone_seen_at = utcnow()
                run.result.gone += 1

    def _suggest(self, site_id: int, key: str, text: str, author: str | None) -> list[Suggestion]:
        """Every suggestion for the text, most harmful first (all are stored). Every comment
        goes through the site's detector, so a flood is seen even when its comments also hold
        a link or a price."""
        detector = self.repeats.setdefault(site_id, RepeatDetector())
        return screen_thread(self.screener, detector, key, text, author)

    def _find_gone(self, run: _Run, post_id: int, seen: set[str]) -> None:
        """Comments missing from a complete listing: ask the platform what became of them."""
        with self.db.session() as session:
            missing = [
                (comment_id, external_id)
                for comment_id, external_id in session.execute(
                    select(Comment.id, Comment.external_id)
                    .where(
                        Comment.post_id == post_id,
                        Comment.platform_state != PlatformState.REMOVED.value,
                        Comment.pending_entry_id.is_(None),
                    )
                    .order_by(Comment.id)
                )
                if external_id not in seen
            ][:GONE_CHECKS_PER_POST]
        for comment_id, external_id in missing:
            state = self._read(run, partial(run.connector.fetch_state, external_id))
            if state is PlatformState.UNKNOWN:
                continue
            with self.db.transaction() as session:
                comment = session.get(Comment, comment_id)
                if comment is None or comment.pending_entry_id is not None:
                    continue
                if state.value != comment.platform_state:
                    comment.platform_state = state.value
                    if state is PlatformState.REMOVED:
                        comment.gone_seen_at = utcnow()
                        run.result.gone += 1

    def _link_parents(self, run: _Run) -> None:
        """Replies that arrived before their parent (on a later page): linked at the end."""
        children = sorted(run.parents)
        for first in range(0, len(children), LINK_BATCH):
            batch = children[first : first + LINK_BATCH]
            wanted = sorted(set(batch) | {run.parents[child] for child in batch})
            with self.db.transaction() as session:
                ids = _existing_ids(session, Comment, run.site.id, wanted)
                links = [
                    {"id": ids[child], "parent_id": ids[run.parents[child]]}
                    for child in batch
                    if child in ids and run.parents[child] in ids
                ]
                if links:
                    session.execute(update(Comment), links)
        run.parents.clear()

    def _finish(
        self, site: Site, high_water: datetime | None, error: str, cursor: dict[str, Any]
    ) -> None:
        with self.db.transaction() as session:
            state = health.state_of(session, site.id)
            if high_water is not None:
                state.high_water = high_water
            state.last_sync_at = utcnow()
            state.last_error = error
            state.cursor = cursor
            health.succeeded(session, site)


def storable(text: str) -> str:
    """Text as a database column can hold it on SQLite and PostgreSQL alike.

    PostgreSQL text cannot contain NUL, so a NUL becomes U+FFFD (the replacement character)
    on both databases; the platform's raw payload, kept beside it, still holds it exactly.
    """
    return text.replace("\x00", "\ufffd")


def _refuse_unreachable(actor: Actor, asked: Iterable[Site]) -> None:
    """Sites named by the person that sync would pass over: said by name, before any call."""
    for site in asked:
        if not actor.may_moderate(site.department_id):
            raise PermissionDenied(
                f"{site.name!r} belongs to {site.department.name}, which {actor.describe()} "
                "does not moderate; nothing was synced."
            )
        if not site.active:
            raise NotPossible(
                f"{site.name!r} is deactivated, so it is not synced; nothing was synced. An "
                f"administrator can reactivate it: hsm-console admin site reactivate {site.id}"
            )


def _autocommit(session: Session, on: bool) -> None:
    """On PostgreSQL, each statement of the session committed by itself from now (`on`) or
    all of them in one transaction, begun by the next (`_store_comments`); SQLite unchanged.
    Only changed between transactions: the driver refuses to inside one."""
    if session.get_bind().dialect.name != "postgresql":
        return
    driver = session.connection().connection.driver_connection
    assert driver is not None
    if driver.autocommit != on:
        driver.autocommit = on


def _insert_parents_first(
    session: Session,
    new: dict[str, dict[str, Any]],
    parents: dict[str, str | None],
    ids: dict[str, int],
    screened: dict[str, list[Suggestion]],
) -> None:
    """Insert the page's new comments (`new`, by platform id) with their parents' ids, and
    their suggestions (`screened`); `ids` gains the new ids. Linking a reply afterwards is an
    UPDATE, on PostgreSQL a new version of the row in every index, the full-text one included.
    On PostgreSQL one statement inserts the page, linking a reply to a parent new on the same
    page, and its suggestions (`_insert_comments`); on SQLite each reply goes in after its
    parent, and the suggestions after them. A reply whose parent is on a later page, or
    (SQLite) in a circle of replies a platform should never send, is left for the caller to
    link."""
    if session.get_bind().dialect.name == "postgresql":
        for key, row in new.items():
            parent = parents[key]
            row["parent_id"] = ids.get(parent) if parent else None
        keys = [parent if parent in new else None for parent in map(parents.get, new)]
        # The statement gives each suggestion its comment's new id, joined by platform id.
        suggested = _suggestion_rows(new, screened, {key: key for key in new})
        ids.update(_insert_comments(session, list(new.values()), keys, suggested))
        for key, row in new.items():
            parent = parents[key]
            if parent in new:
                row["parent_id"] = ids[parent]
        return
    waiting = dict(new)
    while waiting:
        ready = [key for key in waiting if parents[key] not in waiting] or list(waiting)
        rows = []
        for key in ready:
            row = waiting.pop(key)
            parent = parents[key]
            row["parent_id"] = ids.get(parent) if parent else None
            rows.append(row)
        ids.update(_insert_comments(session, rows))
    suggestions.store(session, _suggestion_rows(new, screened, ids))


def _suggestion_rows(
    new: dict[str, dict[str, Any]],
    screened: dict[str, list[Suggestion]],
    comment_ids: Mapping[str, int | str],
) -> list[dict[str, Any]]:
    """The `comment_suggestions` rows of the new comments, each under `comment_ids[key]`."""
    rows = []
    for key, row in new.items():
        if screened.get(key):
            rows += suggestions.rows_for(
                comment_ids[key], row["site_id"], row["status"], row["created_at"], screened[key]
            )
    return rows


def _stored(session: Session, comment_ids: list[int]) -> dict[str, Comment]:
    """Stored comments by platform id, except those disposed of under a certificate:
    blanked for good, never filled in again."""
    if not comment_ids:
        return {}
    disposed = set(session.scalars(select(DisposedRecord.comment_id).where(
        DisposedRecord.comment_id.in_(comment_ids), DisposedRecord.record_id.is_(None),
    )))  # fmt: skip
    return {
        c.external_id: c
        for c in session.scalars(select(Comment).where(Comment.id.in_(comment_ids)))
        if c.id not in disposed
    }


# The columns sync fills in a new comment (`_new_row`, `_insert_parents_first`); the others
# are NULL until used.
_NEW_COLUMNS = (
    "site_id", "post_id", "parent_id", "external_id", "author_id", "author_name", "text",
    "created_at", "permalink", "attachments", "raw", "platform_state", "status", "edited_at",
    "gone_seen_at", "suggested_code", "suggestion_why", "fetched_at", "version", "search_words",
)  # fmt: skip
_SQLITE_ROWS = 500  # rows a statement on SQLite: 10,000 values, under its limit of 32,766
# The columns of a new comment's suggestions (`suggestions.rows_for`).
_SUGGESTION_COLUMNS = (
    "comment_id", "code", "rank", "why", "spans", "site_id", "status", "created_at",
)  # fmt: skip
# PostgreSQL's statement that stores a page, one round trip: its rows, then their
# suggestions, each sent as one JSON document (a list of objects, one a row, made by the C
# encoder: the driver binds arrays a value at a time in Python): one statement whatever the
# page's size, so its text never changes (prepared once), one execution, and one run of the
# live-update trigger. Each row takes its id from the table's sequence first, so a reply
# whose parent is new in the same page is given its parent's id by the join (`parent_key`:
# the parent's platform id), and a suggestion its comment's id (its `comment_id` in the
# document is the comment's platform id); foreign keys are checked at the statement's end,
# so the rows' order does not matter. A `json` field of the document keeps its text as
# written, so JSON columns are stored as the driver sends them.
_PG_TYPES = {
    "site_id": "integer", "post_id": "integer", "parent_id": "integer", "created_at":
    "timestamptz", "edited_at": "timestamptz",
    "gone_seen_at": "timestamptz", "fetched_at": "timestamptz", "version": "integer",
    "rank": "integer",
}  # fmt: skip
# JSON columns travel as their text inside the document, a string, and become json only in
# the INSERT: a payload may hold "\u0000", which PostgreSQL's json keeps as written but cannot
# turn into text, as json_to_recordset does with a json field.
_PG_JSON = ("attachments", "raw", "spans")


def _pg_fields(names: Sequence[str]) -> str:
    return ", ".join(f"{name} {_PG_TYPES.get(name, 'text')}" for name in names)


def _pg_value(table: str, name: str) -> str:
    return f"{table}.{name}::json" if name in _PG_JSON else f"{table}.{name}"


_PG_INSERT = (
    "WITH page AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('comments', 'id')) AS id, "
    "r.* FROM json_to_recordset(%s::json) AS r({fields}, parent_key text)), "
    "added AS (INSERT INTO comments (id, {names}) "
    "SELECT page.id, {values} FROM page LEFT JOIN page AS parent ON parent.external_id = "
    "page.parent_key RETURNING external_id, id), "
    "suggested AS (INSERT INTO comment_suggestions ({suggestion_names}) "
    "SELECT added.id, {suggestion_values} FROM json_to_recordset(%s::json) AS s"
    "({suggestion_fields}) JOIN added ON added.external_id = s.comment_id) "
    "SELECT external_id, id FROM added"
).format(
    fields=_pg_fields(_NEW_COLUMNS),
    names=", ".join(_NEW_COLUMNS),
    values=", ".join(
        "coalesce(page.parent_id, parent.id)" if name == "parent_id" else _pg_value("page", name)
        for name in _NEW_COLUMNS
    ),
    suggestion_names=", ".join(_SUGGESTION_COLUMNS),
    suggestion_values=", ".join(_pg_value("s", name) for name in _SUGGESTION_COLUMNS[1:]),
    suggestion_fields=_pg_fields(_SUGGESTION_COLUMNS),
)


def _insert_comments(
    session: Session,
    rows: list[dict[str, Any]],
    parent_keys: list[str | None] | None = None,
    suggested: list[dict[str, Any]] | None = None,
) -> dict[str, int]:
    """New comments inserted by the driver itself: platform id -> new id.

    The values are bound by the columns' own types, as the ORM binds them, so the rows are
    the same; what is saved is SQLAlchemy building a statement of every row's values each
    page. PostgreSQL: `_PG_INSERT`, the rows as one JSON document, a reply given the id of
    its parent named in `parent_keys` (new in the same rows), and the suggestions
    (`suggestions.rows_for`'s rows, each under its comment's platform id) in the same
    statement; SQLite: one multi-row INSERT ... RETURNING (its cursor cannot return rows from
    `executemany`), parents inserted before (`parent_keys` and `suggested` unused)."""
    connection = session.connection()
    dialect = connection.dialect
    values = _bound(dialect, Comment.__table__, _NEW_COLUMNS, rows)
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    found: dict[str, int] = {}
    try:
        if dialect.name == "postgresql":
            keys = parent_keys or [None] * len(values)
            page = _pg_document((*_NEW_COLUMNS, "parent_key"), [
                [*row, key] for row, key in zip(values, keys, strict=True)
            ])  # fmt: skip
            suggestion_values = _bound(
                dialect, CommentSuggestion.__table__, _SUGGESTION_COLUMNS, suggested or []
            )
            cursor.execute(_PG_INSERT, [page, _pg_document(_SUGGESTION_COLUMNS, suggestion_values)])
            found.update(cursor.fetchall())
            return found
        into = f"INSERT INTO comments ({', '.join(_NEW_COLUMNS)}) VALUES "
        marks = f"({', '.join(['?'] * len(_NEW_COLUMNS))})"
        for first in range(0, len(values), _SQLITE_ROWS):
            chunk = values[first : first + _SQLITE_ROWS]
            statement = f"{into}{', '.join([marks] * len(chunk))} RETURNING external_id, id"
            cursor.execute(statement, [value for row in chunk for value in row])
            found.update(cursor.fetchall())
        return found
    finally:
        cursor.close()


def _bound(
    dialect: Dialect, table: Any, names: Sequence[str], rows: list[dict[str, Any]]
) -> list[list[Any]]:
    """The rows' values of these columns as the columns' types bind them for the driver."""
    values = [[row[name] for name in names] for row in rows]
    for index, name in enumerate(names):  # a column at a time: most bind as they are
        bind = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if bind is not None:
            for row_values in values:
                row_values[index] = bind(row_values[index])
    return values


def _pg_document(names: Sequence[str], values: list[list[Any]]) -> str:
    """A JSON document of `_PG_INSERT`: the rows' bound values by column, times as ISO 8601
    with their offset. A JSON value (the driver's wrapper) goes in as its `json.dumps` text
    (_PG_JSON), as the driver (which keeps `json.dumps`: the engine sets no serializer) would
    send it."""
    from psycopg.types.json import Json  # the driver of PostgreSQL alone: not at the start

    def plain(value: object) -> object:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Json):
            return json.dumps(value.obj)  # as the driver sends it; see _PG_JSON
        raise TypeError(f"{type(value).__name__} is not stored by sync")

    return json.dumps([dict(zip(names, row, strict=True)) for row in values], default=plain)


def _existing_ids(
    session: Session, model: type[Post] | type[Comment], site_id: int, external_ids: list[str]
) -> dict[str, int]:
    if not external_ids:
        return {}
    statement = select(model.external_id, model.id)
    if session.get_bind().dialect.name != "postgresql":
        return _pairs(
            session, statement.where(model.site_id == site_id, model.external_id.in_(external_ids))
        )
    # The site and the ids as the rows of a subquery, one array: the statement's text is the
    # same for every page, and the plan probes the unique key (site, platform id) for each id
    # whatever the statistics say of the site. Given `site_id = %s`, the planner walked the
    # site's comments in another index whenever its statistics held none of them, as in a
    # site's first sync before its ANALYZE (`ANALYZE_AFTER`): every page of a first sync of
    # 20,000 comments read all of the comments already stored (1,000 buffers a look-up on
    # average). Hidden in the subquery, the site is a value of the join, estimated as any
    # site, so the plan is the same for every value, generic or custom.
    wanted = tuple_(model.site_id, model.external_id).in_(
        select(
            bindparam("site_id", site_id, Integer),
            func.unnest(bindparam("external_ids", external_ids, ARRAY(String))),
        )
    )
    return _pairs(session, statement.where(wanted))


def _pairs(session: Session, statement: Select[str, int]) -> dict[str, int]:
    return {external_id: row_id for external_id, row_id in session.execute(statement)}
