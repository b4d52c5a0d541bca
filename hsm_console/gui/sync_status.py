"""The status bar's sync corner: progress while a sync runs, each site's last sync after,
which sites cannot be read now (and since when), and which need reconnecting, by name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from hsm_console.display import CITY_TZ, local_time
from hsm_console.gui.icons import platform_name
from hsm_console.gui.plain_text import set_plain, tooltip
from hsm_console.services.queue_view import SiteSync

if TYPE_CHECKING:
    from hsm_console.services.sync import SyncProgress  # the sync's module loads with a sync


class SyncStatus(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncStatus")
        self.label = QLabel(self)
        self.label.setAccessibleName("Last sync of each site")
        self.progress = QProgressBar(self)
        self.progress.setAccessibleName("Sync progress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.cancel = QToolButton(self)
        self.cancel.setAccessibleName("Stop syncing")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel)
        self.idle()

    def started(self) -> None:
        self.progress.setRange(0, 0)  # busy until the first site reports
        self.progress.setFormat("Syncing…")
        self.progress.show()
        self.cancel.show()
        self.cancel.setEnabled(True)

    def progressed(self, progress: SyncProgress) -> None:
        self.progress.setRange(0, progress.site_count)
        self.progress.setValue(progress.site_index - 1)
        self.progress.setFormat(
            f"{progress.site_index}/{progress.site_count}: {progress.new_comments} new"
        )
        self.progress.setToolTip(
            tooltip(
                f"{progress.site_name}: {progress.message} ({progress.new_comments} new of "
                f"{progress.seen_comments} read)"
            )
        )

    def stopping(self) -> None:
        self.progress.setFormat("Stopping…")
        self.cancel.setEnabled(False)

    def idle(self) -> None:
        self.progress.hide()
        self.cancel.hide()

    def show_sites(self, sites: Sequence[SiteSync], now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        lines = []
        for site in sites:
            line = f"{site.site_name} ({platform_name(site.platform)}): last sync "
            line += local_time(site.last_sync_at) if site.last_sync_at else "never"
            if site.last_error:
                line += f"; last error: {site.last_error}"
            if site.unreadable_since:
                line += (
                    f"; NOT READ since {local_time(site.unreadable_since)} "
                    f"({site.unreadable_why}); the next good sync reads back over it"
                )
            if site.reconnect_since:
                line += (
                    f"; NEEDS RECONNECTING since {local_time(site.reconnect_since)}: ask an "
                    "administrator to connect it again"
                )
            if site.past_gaps:
                line += f"; {site.past_gaps} earlier gap(s) on record (hsm-console health)"
            lines.append(line)
        set_plain(self.label, _summary(sites, now))
        self.label.setToolTip(tooltip("\n".join(lines)) if lines else "")


def _summary(sites: Sequence[SiteSync], now: datetime) -> str:
    """One short line; the tooltip names every site."""
    if not sites:
        return "No sites to sync"
    failed = sum(1 for site in sites if site.last_error)
    warning = f" · ⚠ {failed} failed" if failed else ""
    lapsed = [site.site_name for site in sites if site.reconnect_since]
    if lapsed:
        warning += f" · ⚠ needs reconnecting: {', '.join(lapsed)}"
    unread = [site.unreadable_since for site in sites if site.unreadable_since]
    if unread:
        warning += f" · not read since {_short(min(unread), now)}"
    if len(sites) <= 2:
        parts = [
            f"{site.site_name}: {_short(site.last_sync_at, now) if site.last_sync_at else 'never'}"
            for site in sites
        ]
        return "Synced " + " · ".join(parts) + warning
    synced = [site.last_sync_at for site in sites if site.last_sync_at]
    if not synced:
        return f"{len(sites)} sites, not synced yet"
    oldest = _short(min(synced), now)
    return f"{len(sites)} sites synced, the oldest at {oldest}{warning}"


def _short(moment: datetime, now: datetime) -> str:
    local = moment.astimezone(CITY_TZ)
    if local.date() == now.astimezone(CITY_TZ).date():
        return local.strftime("%H:%M")
    return local.strftime("%b %d %H:%M")
