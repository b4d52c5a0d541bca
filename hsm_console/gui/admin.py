"""The administration screens: departments, people and their roles, sites.

Widgets only: every listing and change is a call to `AdminService`, run on the window's
`TaskRunner`; what is valid comes from `rules.administration` (the id hint, the default API
address, each setting's description), and a refusal is shown through `gui/problems.py`.
The Sites tab's Sign-in column is `ConnectService.sign_ins` (`services/health.py`'s words), and
its Connect button runs `gui/connect_dialog.py`'s flow for the selected site.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from hsm_console.gui.connect_dialog import ConnectFlow
from hsm_console.gui.icons import glyph
from hsm_console.gui.plain_text import set_plain, tooltip
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.ui_files import child, load_dialog_form
from hsm_console.gui.workers import JobContext, TaskRunner
from hsm_console.rules import administration
from hsm_console.rules.domain import Platform, Role
from hsm_console.services.admin import AdminService, Change, DepartmentView, PersonView, SiteView
from hsm_console.services.connect import Connected, ConnectService
from hsm_console.services.health import TokenHealth, TokenState

ALL_DEPARTMENTS = "All departments (oversight group)"
NO_DEPARTMENT = "None (administrators hold no department)"
# The sign-in beside the name, to be seen at a glance; the long address last, to elide.
SITE_HEADERS = ("No.", "Platform", "Name", "Department", "State", "Sign-in", "Account id",
                "API address")  # fmt: skip
SIGN_IN_COLUMN = SITE_HEADERS.index("Sign-in")
# Sign-ins an administrator must act on: a warning sign in the column.
_ACT_ON = {TokenState.NOT_CONNECTED, TokenState.NEEDS_RECONNECTING, TokenState.UNREADABLE}
CONNECT_TIP = "Connect the selected site to its platform by the platform's own sign-in"


@dataclass(frozen=True)
class Listing:
    departments: list[DepartmentView]
    people: list[PersonView]
    sites: list[SiteView]
    sign_ins: dict[int, TokenHealth] = field(default_factory=dict)  # by site id


def _fill(table: QTableWidget, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)


def _selected_row(table: QTableWidget) -> int | None:
    rows = table.selectionModel().selectedRows()
    return rows[0].row() if rows else None


class AdminDialog(QDialog):
    """Administration over one window; each button is one `AdminService` call."""

    def __init__(
        self,
        service: AdminService,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        connect: ConnectService | None = None,
        connected: Callable[[Connected], None] = lambda done: None,
    ) -> None:
        """`connect` signs sites in (None: the column and the button stay empty); the
        window's `connected` hears of each site connected."""
        super().__init__(parent)
        self.service = service
        self.connect_service = connect
        self.runner = runner
        self.problems = ProblemReporter(self)
        self._connected = connected
        self.listing = Listing([], [], [])
        self.busy = False
        self.setObjectName("adminDialog")
        self.setWindowTitle("Administration — HSM Console")
        form = load_dialog_form("admin_dialog.ui", self)
        self.resize(960, 720)

        self.result_label = child(form, QLabel, "resultLabel")
        self.department_table = child(form, QTableWidget, "departmentTable")
        self.department_code = child(form, QLineEdit, "departmentCode")
        self.department_name = child(form, QLineEdit, "departmentName")
        self.person_table = child(form, QTableWidget, "personTable")
        self.person_account = child(form, QLineEdit, "personAccount")
        self.person_name = child(form, QLineEdit, "personName")
        # On the shared PostgreSQL a person signs in with a login of their own (db/roles.py).
        self.person_login = child(form, QLineEdit, "personLogin")
        for login_widget in (self.person_login, child(form, QLabel, "personLoginLabel")):
            login_widget.setVisible(not service.db.is_sqlite)
        self.role_choice = child(form, QComboBox, "roleChoice")
        self.role_department = child(form, QComboBox, "roleDepartment")
        self.site_table = child(form, QTableWidget, "siteTable")
        self.site_platform = child(form, QComboBox, "sitePlatform")
        self.site_external_id = child(form, QLineEdit, "siteExternalId")
        self.site_id_hint = child(form, QLabel, "siteIdHint")
        self.site_name = child(form, QLineEdit, "siteName")
        self.site_department = child(form, QComboBox, "siteDepartment")
        self.site_address = child(form, QLineEdit, "siteAddress")
        self.site_settings = child(form, QTableWidget, "siteSettings")
        self.connect_button = child(form, QPushButton, "connectSiteButton")
        self.connect_button.setIcon(glyph("plug"))
        self.connect_flow = (
            None
            if connect is None
            else ConnectFlow(
                connect, runner, self, self.problems, self._site_connected,
                lambda words: set_plain(self.result_label, words),
            )
        )  # fmt: skip
        if (flow := self.connect_flow) is not None:
            self.finished.connect(lambda _: flow.abandon())
        self._connect_state()

        for role in Role:
            self.role_choice.addItem(role.label, role.value)
        for platform in Platform:
            self.site_platform.addItem(platform.label, platform.value)
        self.site_settings.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers)
        # The lists get the room; the settings show a few rows and scroll.
        self.site_settings.setMaximumHeight(7 * (self.fontMetrics().height() + 8))
        for table in (self.department_table, self.person_table, self.site_table):
            table.setMinimumHeight(8 * (self.fontMetrics().height() + 8))
            # By pixel: the last row scrolls fully into view, not cut off at the bottom.
            table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.site_id_hint.setMinimumWidth(480)
        self.department_table.itemSelectionChanged.connect(self._department_selected)
        self.site_table.itemSelectionChanged.connect(self._site_selected)
        self.site_platform.currentIndexChanged.connect(lambda _: self._platform_chosen())
        self._platform_chosen()

        clicks: dict[str, Callable[[], None]] = {
            "addDepartmentButton": self.add_department,
            "renameDepartmentButton": self.rename_department,
            "addPersonButton": self.add_person,
            "deactivatePersonButton": lambda: self.set_person_active(False),
            "reactivatePersonButton": lambda: self.set_person_active(True),
            "grantButton": lambda: self.change_role(give=True),
            "revokeButton": lambda: self.change_role(give=False),
            "addSiteButton": self.add_site,
            "changeSiteButton": self.change_site,
            "deactivateSiteButton": lambda: self.set_site_active(False),
            "reactivateSiteButton": lambda: self.set_site_active(True),
            "connectSiteButton": self.connect_site,
        }
        for name, handler in clicks.items():
            child(form, QPushButton, name).clicked.connect(handler)
        self.department_code.setFocus()
        self.reload()

    # --- reading -------------------------------------------------------------------------

    def reload(self) -> None:
        service, connect = self.service, self.connect_service

        def run(_: JobContext) -> Listing:
            sign_ins = connect.sign_ins() if connect is not None else {}
            return Listing(service.departments(), service.people(), service.sites(), sign_ins)

        self.runner.start(run, self._show, self._failed("reading the administration lists"))

    def _show(self, listing: Listing) -> None:
        self.listing = listing
        _fill(
            self.department_table,
            ("Code", "Name", "Sites", "People"),
            [(d.code, d.name, str(d.sites), str(d.people)) for d in listing.departments],
        )
        _fill(
            self.person_table,
            ("Account", "Display name", "Roles", "State"),
            [
                (p.account, p.display_name, "; ".join(p.roles) or "no role",
                 "active" if p.active else "deactivated")
                for p in listing.people
            ],
        )  # fmt: skip
        _fill(
            self.site_table,
            SITE_HEADERS,
            [
                (str(s.id), Platform(s.platform).label, s.name, s.department,
                 "active" if s.active else "deactivated",
                 listing.sign_ins[s.id].words if s.id in listing.sign_ins else "",
                 s.external_id, s.api_address)
                for s in listing.sites
            ],
        )  # fmt: skip
        for row, site in enumerate(listing.sites):
            sign_in = listing.sign_ins.get(site.id)
            item = self.site_table.item(row, SIGN_IN_COLUMN)
            if sign_in is None or item is None:
                continue
            item.setToolTip(tooltip("\n".join(filter(None, (sign_in.words, sign_in.warning)))))
            if sign_in.state in _ACT_ON or sign_in.warning:
                item.setIcon(glyph("warning", "#c0392b"))
        self._connect_state()
        for combo, first in ((self.role_department, ALL_DEPARTMENTS), (self.site_department, "")):
            kept = combo.currentData()
            combo.clear()
            if first:
                combo.addItem(first, None)
                combo.addItem(NO_DEPARTMENT, "")
            for department in listing.departments:
                combo.addItem(f"{department.code} — {department.name}", department.code)
            found = combo.findData(kept)
            combo.setCurrentIndex(max(found, 0))

    def _department_selected(self) -> None:
        row = _selected_row(self.department_table)
        if row is not None and row < len(self.listing.departments):
            department = self.listing.departments[row]
            self.department_code.setText(department.code)
            self.department_name.setText(department.name)

    def _selected_site(self) -> SiteView | None:
        row = _selected_row(self.site_table)
        if row is None or row >= len(self.listing.sites):
            set_plain(self.result_label, "Select a site in the list first.")
            return None
        return self.listing.sites[row]

    def _connect_state(self) -> None:
        """Connect offered for one selected site that is not a demo site."""
        row = _selected_row(self.site_table)
        sites = self.listing.sites
        site = sites[row] if row is not None and row < len(sites) else None
        why = CONNECT_TIP
        if self.connect_flow is None:
            why = "Connecting sites is not available here"
        elif site is None:
            why = "Select a site in the list to connect it"
        elif site.sandbox:
            why = "A demo site uses the sandbox's public token: nothing to connect"
        self.connect_button.setEnabled(why == CONNECT_TIP)
        self.connect_button.setToolTip(why)

    def _site_selected(self) -> None:
        """The selected site in the form, to change it: blank means the platform's default."""
        self._connect_state()
        row = _selected_row(self.site_table)
        if row is None or row >= len(self.listing.sites):
            return
        site = self.listing.sites[row]
        self.site_platform.setCurrentIndex(self.site_platform.findData(site.platform))
        self.site_external_id.setText(site.external_id)
        self.site_name.setText(site.name)
        self.site_department.setCurrentIndex(max(self.site_department.findData(site.department), 0))
        default = administration.SITE_RULES[Platform(site.platform)].api_address
        self.site_address.setText("" if site.api_address == default else site.api_address)
        for r in range(self.site_settings.rowCount()):
            key, value = self.site_settings.item(r, 0), self.site_settings.item(r, 1)
            if key is not None and value is not None:
                value.setText(str(site.settings.get(key.text(), "")))

    def _platform_chosen(self) -> None:
        on = Platform(self.site_platform.currentData())
        rule = administration.SITE_RULES[on]
        set_plain(self.site_id_hint, f"Enter {rule.id_words}.")
        self.site_address.setPlaceholderText(
            rule.api_address or "the site's own address (required), like https://blog.example.gov"
        )
        known = sorted(administration.settings_of(on).items())
        _fill(self.site_settings, ("Setting", "Value", "What it is"), [])
        self.site_settings.setRowCount(len(known))
        for r, (key, setting) in enumerate(known):
            for c, text in enumerate((key, "", setting.words)):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.site_settings.setItem(r, c, item)
        self.site_settings.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Interactive
        )
        self.site_settings.setColumnWidth(1, 140)

    def entered_settings(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for r in range(self.site_settings.rowCount()):
            key, value = self.site_settings.item(r, 0), self.site_settings.item(r, 1)
            if key is not None and value is not None and value.text().strip():
                values[key.text()] = value.text().strip()
        return values

    # --- changing ------------------------------------------------------------------------

    def _change(self, doing: str, call: Callable[[], Change]) -> None:
        if self.busy:
            return
        self.busy = True

        def done(change: Change) -> None:
            self.busy = False
            logged = f" Log entry {change.entry_id}." if change.entry_id else " Nothing changed."
            set_plain(self.result_label, change.message + logged)
            self.reload()

        def failed(exc: Exception) -> None:
            self.busy = False
            self._failed(doing)(exc)

        self.runner.start(lambda _: call(), done, failed)

    def _failed(self, doing: str) -> Callable[[Exception], None]:
        def show(exc: Exception) -> None:
            self.problems.show(problem_from(exc, doing))

        return show

    def add_department(self) -> None:
        code, name = self.department_code.text(), self.department_name.text()
        self._change("adding a department", lambda: self.service.add_department(code, name))

    def rename_department(self) -> None:
        code, name = self.department_code.text(), self.department_name.text()
        self._change("renaming a department", lambda: self.service.rename_department(code, name))

    def _selected_person(self) -> str | None:
        row = _selected_row(self.person_table)
        if row is None or row >= len(self.listing.people):
            set_plain(self.result_label, "Select a person in the list first.")
            return None
        return self.listing.people[row].account

    def add_person(self) -> None:
        account, name = self.person_account.text(), self.person_name.text()
        login = self.person_login.text().strip() or None
        self._change("adding a person", lambda: self.service.add_person(account, name, login))

    def set_person_active(self, active: bool) -> None:
        account = self._selected_person()
        if account is not None:
            self._change(
                "changing a person", lambda: self.service.set_person_active(account, active)
            )

    def change_role(self, *, give: bool) -> None:
        account = self._selected_person()
        if account is None:
            return
        role = str(self.role_choice.currentData())
        code = self.role_department.currentData()
        everywhere = code is None and role in (Role.SUPERVISOR.value, Role.RECORDS_OFFICER.value)
        department = code or None
        act = self.service.grant if give else self.service.revoke
        self._change(
            "granting a role" if give else "taking back a role",
            lambda: act(account, role, department, everywhere),
        )

    def add_site(self) -> None:
        platform = str(self.site_platform.currentData())
        external_id, name = self.site_external_id.text(), self.site_name.text()
        department = str(self.site_department.currentData() or "")
        address = self.site_address.text().strip() or None
        settings = self.entered_settings()
        self._change(
            "adding a site",
            lambda: self.service.add_site(
                platform, external_id, name, department, address, settings
            ),
        )

    def change_site(self) -> None:
        site = self._selected_site()
        if site is None:
            return
        key, name = str(site.id), self.site_name.text()
        department = str(self.site_department.currentData() or "")
        address = self.site_address.text().strip() or "default"
        settings = self.entered_settings()
        known = administration.settings_of(Platform(site.platform))
        unset = [k for k in site.settings if k in known and k not in settings]
        self._change(
            "changing a site",
            lambda: self.service.change_site(
                key, name=name, department=department, api_address=address,
                settings=settings, unset=unset,
            ),
        )  # fmt: skip

    def connect_site(self) -> None:
        site = self._selected_site()
        if site is None or self.connect_flow is None or self.busy:
            return
        set_plain(self.result_label, f"Connecting {site.name}...")
        self.connect_flow.start(str(site.id))

    def _site_connected(self, done: Connected) -> None:
        set_plain(self.result_label, done.message)
        self._connected(done)
        self.reload()

    def set_site_active(self, active: bool) -> None:
        site = self._selected_site()
        if site is None:
            return
        key = str(site.id)
        self._change(
            "reactivating a site" if active else "deactivating a site",
            lambda: self.service.set_site_active(key, active),
        )
