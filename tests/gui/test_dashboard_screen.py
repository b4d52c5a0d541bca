"""The Dashboard tab driven as a supervisor would: open it, filter, save a chart and its numbers.

The figures are checked against the log itself, read with plain SQL.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select, text

from hsm_console.db.models import Comment, Site
from hsm_console.gui.appearance import use_palette
from hsm_console.gui.dashboard_screen import TABS, DashboardScreen
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.settings import GuiSettings
from hsm_console.rules.domain import Action, Role
from hsm_console.services import admin
from hsm_console.services.agreement import agreement_table
from hsm_console.services.log_export import FORMULA_STARTS
from hsm_console.services.log_view import LogFilter, LogView
from tests.conftest import World
from tests.gui.conftest import started
from tests.gui.helpers import WAIT_MS


@dataclass
class Acted:
    world: World
    parks_department: int


@pytest.fixture
def acted(gui_world: World) -> Acted:
    world = gui_world
    with world.db.session() as session:
        parks = session.scalars(
            select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
        ).all()
        police = session.scalars(
            select(Comment.id).where(Comment.site_id == world.police_site).order_by(Comment.id)
        ).first()
    assert police is not None
    alice = world.app("alice").moderation
    alice.act(parks[0], Action.HIDE, "OFT")
    alice.act(parks[1], Action.HIDE, "PRF")
    alice.act(parks[2], Action.FLAG, "SPM")
    alice.act(parks[0], Action.UNHIDE, None)
    world.app("carol").moderation.act(police, Action.FLAG, "SPM")
    with world.db.transaction() as session:
        site = session.get(Site, world.parks_site)
        assert site is not None
        pat = admin.ensure_person(session, "pat", "Pat Parks Director")
        admin.grant(session, pat, Role.SUPERVISOR, site.department)
        department = site.department_id
    return Acted(world, department)


OpenDashboard = Callable[[str], tuple[MainWindow, DashboardScreen]]


@pytest.fixture
def open_dashboard(
    qtbot: QtBot, acted: Acted, gui_settings: GuiSettings
) -> Iterator[OpenDashboard]:
    opened: list[MainWindow] = []

    def open_for(username: str) -> tuple[MainWindow, DashboardScreen]:
        window = started(qtbot, MainWindow(acted.world.app(username), gui_settings))
        opened.append(window)
        screen = window.show_dashboard()
        assert screen is not None
        qtbot.waitUntil(lambda: screen.shown is not None and not screen.loading, timeout=WAIT_MS)
        return window, screen

    yield open_for
    for window in opened:
        window.close()


def applied_by_code(world: World, department: int | None = None) -> dict[str, int]:
    """Applied decisions per reason code, read from the log with plain SQL."""
    sql = (
        "SELECT coalesce(p.reason_code, '(no code)'), count(*) FROM action_log p "
        "JOIN action_log o ON o.outcome_of = p.id AND o.state = 'applied' "
        "WHERE p.kind = 'action' AND p.state = 'pending'"
        + (" AND p.department_id = :d" if department is not None else "")
        + " GROUP BY 1"
    )
    with world.db.engine.connect() as conn:
        return {row[0]: row[1] for row in conn.execute(text(sql), {"d": department})}


def table_cells(screen: DashboardScreen, name: str) -> list[list[str]]:
    numbers = screen.panels[name].numbers
    return [
        [numbers.item(r, c).text() for c in range(numbers.columnCount())]
        for r in range(numbers.rowCount())
    ]


def by_code(columns: list[str], rows: list[list[str]]) -> dict[str, int]:
    """Sum a weekly table's rows per column, the week and total left out."""
    return {
        name: sum(int(row[c]) for row in rows)
        for c, name in enumerate(columns)
        if name not in ("Week of", "Total") and sum(int(row[c]) for row in rows)
    }


def test_a_moderator_has_no_dashboard(
    qtbot: QtBot, acted: Acted, gui_settings: GuiSettings
) -> None:
    window = MainWindow(acted.world.app("alice"), gui_settings)
    qtbot.addWidget(window)
    assert window.dashboard_screen is None
    assert window.show_dashboard() is None
    window.close()


def test_the_dashboard_shows_the_logs_figures_in_charts_and_tables(
    open_dashboard: OpenDashboard, acted: Acted
) -> None:
    _, screen = open_dashboard("sam")
    assert screen.tabs.count() == len(TABS)
    expected = applied_by_code(acted.world)
    assert expected == {"OFT": 1, "PRF": 1, "SPM": 2, "(no code)": 1}
    table = screen.panels["by_reason"].table
    assert table is not None
    cells = table_cells(screen, "by_reason")
    assert by_code(list(table.columns), cells) == expected
    assert screen.status.text() == "5 actions over 1 week."
    judgement = table_cells(screen, "judgement")
    assert [row[1:] for row in judgement] == [["2", "1", "50.0"]]
    assert [row[1] for row in table_cells(screen, "reversals")] == ["1"]
    # Every chart drew its bars, one item per plotted series, each once in the legend.
    for name, panel in screen.panels.items():
        assert panel.table is not None, name
        drawn = panel.plot.getPlotItem().listDataItems()
        assert len(drawn) == (len(panel.table.plotted) if panel.table.rows else 0), name
        legend = [label.text for _, label in panel.legend.items]
        assert legend == (list(panel.table.plotted) if panel.table.rows else []), name


def test_a_filter_recomputes_and_a_stale_answer_is_dropped(
    qtbot: QtBot, open_dashboard: OpenDashboard, acted: Acted
) -> None:
    _, screen = open_dashboard("sam")
    bar = screen.filters
    parks = bar.department.findData(acted.parks_department)
    bar.department.setCurrentIndex(parks)
    screen.reload()  # at once, then the settled filter again: only the last answer shows
    bar.reason.setCurrentIndex(bar.reason.findData("SPM"))
    qtbot.waitUntil(
        lambda: screen.shown is not None and screen.shown.log_filter.reason_codes == {"SPM"}
        and not screen.loading,
        timeout=WAIT_MS,
    )  # fmt: skip
    qtbot.wait(400)  # the debounced reloads settle; nothing older replaces the answer
    assert screen.shown is not None
    assert screen.shown.log_filter.department_ids == {acted.parks_department}
    assert screen.shown.log_filter.reason_codes == {"SPM"}
    department = table_cells(screen, "by_department")
    assert [row[1:] for row in department] == [["1", "1"]]  # PARKS, Total
    assert screen.status.text() == "1 action over 1 week under the filters."


def test_a_chart_saves_as_png_and_its_numbers_as_csv(
    open_dashboard: OpenDashboard, acted: Acted, tmp_path: Path
) -> None:
    with acted.world.db.transaction() as session:
        site = session.get(Site, acted.world.police_site)
        assert site is not None
        site.name = '=HYPERLINK("http://evil.test")'
    _, screen = open_dashboard("sam")
    screen.tabs.setCurrentIndex(list(TABS).index("by_site"))
    panel = screen.current_panel()
    png = screen.save_png(tmp_path / "by-site.png")
    assert png is not None
    image = QImage(str(png))
    assert not image.isNull()
    ratio = panel.plot.devicePixelRatioF()
    assert (image.width(), image.height()) == (
        round(panel.plot.width() * ratio),
        round(panel.plot.height() * ratio),
    )
    assert image.width() > 200
    assert image.height() > 100

    saved = screen.save_csv(tmp_path / "by-site.csv")
    assert saved is not None
    with saved.open(newline="", encoding="utf-8") as stream:
        header, *rows = list(csv.reader(stream))
    assert not any(cell.startswith(FORMULA_STARTS) for row in [header, *rows] for cell in row)
    assert header == ["Week of", "'=HYPERLINK(\"http://evil.test\")",
                      "Highland Parks & Recreation", "Total"]  # fmt: skip
    by_site = dict(zip(header[1:], map(int, rows[0][1:]), strict=True))
    assert by_site == {"'=HYPERLINK(\"http://evil.test\")": 1, "Highland Parks & Recreation": 4,
                       "Total": 5}  # fmt: skip
    assert sum(applied_by_code(acted.world).values()) == by_site["Total"]
    assert screen.status.text() == f"Saved {saved}."


def test_a_supervisor_sees_only_their_departments(
    open_dashboard: OpenDashboard, acted: Acted
) -> None:
    _, screen = open_dashboard("pat")
    department = screen.filters.department
    assert [department.itemText(i) for i in range(department.count())] == [
        "All my departments", "PARKS",
    ]  # fmt: skip
    cells = table_cells(screen, "by_department")
    table = screen.panels["by_department"].table
    assert table is not None
    assert list(table.columns) == ["Week of", "PARKS", "Total"]
    assert [row[1:] for row in cells] == [["4", "4"]]
    assert applied_by_code(acted.world, acted.parks_department) == {
        "OFT": 1, "PRF": 1, "SPM": 1, "(no code)": 1,
    }  # fmt: skip


def test_charts_follow_the_dark_theme(
    qtbot: QtBot, open_dashboard: OpenDashboard, acted: Acted
) -> None:
    _, screen = open_dashboard("sam")
    panel = screen.panels["by_reason"]
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    palette, sheet = app.palette(), app.styleSheet()
    try:
        use_palette(app, dark=True)
        # The application's palette reaches its widgets through the event loop.
        qtbot.waitUntil(
            lambda: panel.palette().color(QPalette.ColorRole.Base).lightness() < 64,
            timeout=WAIT_MS,
        )
        base = panel.palette().color(QPalette.ColorRole.Base)
        qtbot.waitUntil(lambda: panel.plot.backgroundBrush().color() == base, timeout=WAIT_MS)
        assert base.lightness() < 64  # dark, and the chart with it
        assert panel.plot.getPlotItem().listDataItems()  # drawn again, not emptied
    finally:  # as other tests expect it
        app.setPalette(palette)
        app.setStyleSheet(sheet)


def test_the_suggestions_tab_sets_each_code_against_decisions(
    open_dashboard: OpenDashboard, acted: Acted
) -> None:
    _, screen = open_dashboard("pat")
    panel = screen.panels["suggestions"]
    expected = agreement_table(LogView(acted.world.db, "pat"), LogFilter())
    assert panel.table == expected
    assert expected.rows  # the sandbox's comments have suggestions
    assert table_cells(screen, "suggestions") == [[str(c) for c in row] for row in expected.rows]
