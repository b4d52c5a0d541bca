"""The Dashboard tab: the consistency dashboard's charts, each with its numbers in a table.

It shows what `DashboardView` computes and holds no rules (who sees what is the service's).
The filters are the Log tab's (`LogFilterBar`); each new filter starts a computation on the
window's `TaskRunner`, and an answer a newer filter made stale is dropped (`LatestOnly`).

Charts are pyqtgraph's, drawn by Qt in the window's palette: offscreen in tests, saved as PNG
exactly as shown. A chart is a picture, so every chart has its numbers in a plain table below
it, which a screen reader reads and the keyboard reaches; names (sites, people) appear only
as plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSaveFile, QStandardPaths, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from hsm_console.display import CITY_TZ
from hsm_console.errors import UserError
from hsm_console.gui.log_filters import LogFilterBar
from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.ui_files import child, load_form
from hsm_console.gui.workers import JobContext, LatestOnly, TaskRunner
from hsm_console.services.agreement import agreement_table
from hsm_console.services.dashboard import (
    ChartKind,
    Dashboard,
    DashboardView,
    Table,
    export_table,
)
from hsm_console.services.log_view import LogFilter, LogView

# The tabs, in order, by the service's table names.
TABS = {
    "by_reason": "By reason code",
    "by_department": "By department",
    "by_site": "By site",
    "by_moderator": "By moderator",
    "judgement": "Judgement codes",
    "questioned": "Questioned by reviewers",
    "backlog": "Backlog and time to decision",
    "reversals": "Reversals and appeals",
    "suggestions": "Suggestions",  # services.agreement, computed beside the others
}
# Okabe and Ito's colours, told apart by people with any common colour blindness.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter  # numbers line up
MAX_TICKS = 12
MIN_SLOTS = 6  # week labels along the axis; the table has every one


class ChartPanel(QWidget):
    """One table of the dashboard: its chart above, its numbers below."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"chart_{name}")
        self.table: Table | None = None
        self.plot = pg.PlotWidget()
        self.plot.setObjectName(f"plot_{name}")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self._follow_palette()
        self.numbers = QTableWidget(self)
        self.numbers.setObjectName(f"numbers_{name}")
        self.numbers.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.numbers.setTabKeyNavigation(False)
        self.numbers.verticalHeader().setVisible(False)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.numbers)
        splitter.setSizes([360, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # e.g. the dark theme turned on
            self._follow_palette()

    def _follow_palette(self) -> None:
        """The chart in the window's colours: pyqtgraph keeps its own otherwise."""
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        self.plot.setBackground(palette.color(QPalette.ColorRole.Base))
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setPen(text)
            axis.setTextPen(text)
        self.legend.setLabelTextColor(text)
        if self.table is not None:
            self._draw(self.table)

    def show_table(self, table: Table) -> None:
        self.table = table
        words = f"{table.title}. Its numbers are in the table below the chart."
        self.plot.setAccessibleName(f"Chart: {table.title}")
        self.plot.setAccessibleDescription(words)
        self.numbers.setAccessibleName(f"Numbers of the chart: {table.title}")
        self._fill_numbers(table)
        self._draw(table)

    def _fill_numbers(self, table: Table) -> None:
        self.numbers.clear()
        self.numbers.setColumnCount(len(table.columns))
        self.numbers.setRowCount(len(table.rows))
        self.numbers.setHorizontalHeaderLabels(list(table.columns))
        for r, row in enumerate(table.rows):
            for c, cell in enumerate(row):
                item = QTableWidgetItem("–" if cell is None else str(cell))
                if c > 0:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.numbers.setItem(r, c, item)
        self.numbers.resizeColumnsToContents()

    def _draw(self, table: Table) -> None:
        self.plot.clear()
        self.legend.clear()
        self.plot.setTitle(table.title, color=self.palette().color(QPalette.ColorRole.Text))
        self.plot.setLabel("left", table.unit)
        series = list(table.plotted)
        labels = [str(row[0]) for row in table.rows]
        if not labels or not series:
            return
        columns = [[_number(v) for v in table.column(name)] for name in series]
        stacked = table.chart is ChartKind.STACKED
        width = 0.8 if stacked else 0.8 / len(series)
        base = [0.0] * len(labels)
        for n, (name, heights) in enumerate(zip(series, columns, strict=True)):
            offset = 0.0 if stacked else -0.4 + width * (n + 0.5)
            bars = pg.BarGraphItem(
                x=[i + offset for i in range(len(labels))], height=heights, y0=list(base),
                width=width, brush=_colour(n, len(series)), pen=None, name=name,
            )  # fmt: skip
            self.plot.addItem(bars)  # named: the legend lists it
            if stacked:
                base = [b + h for b, h in zip(base, heights, strict=True)]
        step = max(1, len(labels) // MAX_TICKS + (len(labels) % MAX_TICKS > 0))
        ticks = [(i, label) for i, label in enumerate(labels) if i % step == 0]
        self.plot.getAxis("bottom").setTicks([ticks, []])
        # A few weeks' room at least, so one week is a bar, not a wall.
        self.plot.setXRange(-0.6, max(len(labels), MIN_SLOTS) - 0.4, padding=0)
        top = max(base) if stacked else max((max(c) for c in columns), default=0.0)
        self.plot.setYRange(0, max(top, 1.0) * 1.1, padding=0)

    def save_png(self, path: Path) -> Path:
        """The chart as shown, written whole or not at all."""
        image = self.plot.grab().toImage()
        file = QSaveFile(str(path))
        if not (file.open(QSaveFile.OpenModeFlag.WriteOnly) and image.save(file, "PNG")):
            file.cancelWriting()
            raise UserError(f"Cannot write {path}: {file.errorString()}. Choose another folder.")
        if not file.commit():
            raise UserError(f"Cannot write {path}: {file.errorString()}. Choose another folder.")
        return Path(path)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _colour(n: int, count: int) -> QColor:
    if count <= len(COLOURS):
        return QColor(COLOURS[n])
    colour: QColor = pg.intColor(n, hues=count)
    return colour


class DashboardScreen(QWidget):
    """The Dashboard tab: `reload` computes every chart under the filters, in the background."""

    def __init__(
        self,
        view: LogView,
        runner: TaskRunner,
        problems: ProblemReporter,
        code_names: Mapping[str, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("dashboardScreenHost")
        self.dashboard = DashboardView(view)
        self.problems = problems
        form = load_form("dashboard_screen.ui", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(form)
        self.filters = LogFilterBar(form, view, code_names, runner, self)
        self.tabs = child(form, QTabWidget, "dashboardTabs")
        self.status = child(form, QLabel, "dashboardStatus")
        self.save_png_button = child(form, QPushButton, "savePngButton")
        self.save_csv_button = child(form, QPushButton, "saveCsvButton")
        self.panels = {name: ChartPanel(name, self.tabs) for name in TABS}
        for name, title in TABS.items():
            self.tabs.addTab(self.panels[name], title)
        self.shown: Dashboard | None = None
        self._computing = False
        self._latest = LatestOnly(runner)
        self._agreement = LatestOnly(runner)
        self._agreeing = False
        self.filters.changed.connect(self.reload)
        self.save_png_button.clicked.connect(lambda: self.save_png())
        self.save_csv_button.clicked.connect(lambda: self.save_csv())

    @property
    def loading(self) -> bool:
        return self._computing or self._agreeing

    def current_panel(self) -> ChartPanel:
        return self.panels[list(TABS)[self.tabs.currentIndex()]]

    def reload(self) -> None:
        """Compute the dashboard again under the filters; an older answer still to come is
        dropped when it arrives."""
        dashboard, log_filter = self.dashboard, self.filters.current_filter()

        def compute(_: JobContext) -> Dashboard:
            return dashboard.compute(log_filter)

        self._computing = True
        set_plain(self.status, "Counting…")
        self._latest.start(compute, self._arrived, self._failed)
        view = dashboard.view

        def agreement(_: JobContext) -> Table:
            return agreement_table(view, log_filter)

        self._agreeing = True
        self._agreement.start(agreement, self._agreement_arrived, self._failed)

    def _agreement_arrived(self, table: Table) -> None:
        self._agreeing = False
        self.panels["suggestions"].show_table(table)

    def _arrived(self, shown: Dashboard) -> None:
        self._computing = False
        self.shown = shown
        for table in shown.tables:
            self.panels[table.name].show_table(table)
        actions = sum(int(row[-1] or 0) for row in shown.table("by_reason").rows)
        weeks = len(shown.table("by_reason").rows)
        counted = f"{actions:,} action{'' if actions == 1 else 's'}"
        span = f"{weeks} week{'' if weeks == 1 else 's'}"
        set_plain(self.status, f"{counted} over {span}{_narrowed(shown.log_filter)}.")

    def _failed(self, exc: Exception) -> None:
        self._computing = self._agreeing = False
        problem = problem_from(exc, "computing the dashboard")
        set_plain(self.status, problem.message)
        self.problems.show(problem)

    # --- saving --------------------------------------------------------------------------

    def save_png(self, path: Path | None = None) -> Path | None:
        panel = self.current_panel()
        return self._save(path, "png", panel.save_png)

    def save_csv(self, path: Path | None = None) -> Path | None:
        table = self.current_panel().table
        if table is None:
            return None
        return self._save(path, "csv", lambda target: export_table(table, target))

    def _save(self, path: Path | None, suffix: str, write: Callable[[Path], Path]) -> Path | None:
        if path is None:
            path = self._ask_where(suffix)
            if path is None:
                return None
        try:
            saved = write(path)
        except UserError as exc:
            self._failed(exc)
            return None
        set_plain(self.status, f"Saved {saved}.")
        return saved

    def _ask_where(self, suffix: str) -> Path | None:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        stamp = datetime.now(CITY_TZ).strftime("%Y%m%d-%H%M")
        name = list(TABS)[self.tabs.currentIndex()].replace("_", "-")
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Save the chart" if suffix == "png" else "Save the chart's numbers",
            str(Path(folder) / f"hsm-dashboard-{name}-{stamp}.{suffix}"),
            f"{suffix.upper()} files (*.{suffix})",
        )  # fmt: skip
        return Path(chosen) if chosen else None


def _narrowed(log_filter: LogFilter) -> str:
    """Say that the figures are narrowed, so a partial count is not read as the whole."""
    return "" if log_filter == LogFilter() else " under the filters"
