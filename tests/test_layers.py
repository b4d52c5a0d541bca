"""The tree keeps its layers: the core knows nothing of Qt or of the sandbox, and the window
reaches the platforms only through the services.

Each check imports modules in a fresh interpreter, so what another test loaded cannot hide a
wrong import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hsm_console.db.engine import Database, head_from_scripts

ROOT = Path(__file__).resolve().parents[1]

# Every module of these packages is imported; none may bring in what is listed against it.
CORE = ("rules", "host", "db", "connectors", "services")
_PROBE = """
import importlib, json, pkgutil, sys
import hsm_console
names = []
for package in sys.argv[1:]:
    module = importlib.import_module(f"hsm_console.{package}")
    names.append(module.__name__)
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)
                names.append(info.name)
for extra in ("hsm_console.app", "hsm_console.errors", "hsm_console.display"):
    importlib.import_module(extra)
    names.append(extra)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def _load(*packages: str) -> tuple[list[str], list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *packages],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    return found["imported"], found["loaded"]


@pytest.fixture(scope="module")
def core_modules() -> tuple[list[str], list[str]]:
    return _load(*CORE)


def test_the_core_loads_no_qt(core_modules: tuple[list[str], list[str]]) -> None:
    imported, loaded = core_modules
    # The probe really walked the layers, so an empty result cannot pass by accident.
    assert "hsm_console.services.moderation" in imported
    assert "hsm_console.connectors.youtube" in imported
    assert "hsm_console.db.chain" in imported
    assert [name for name in loaded if name.split(".")[0] in ("PySide6", "shiboken6")] == []


def test_the_core_does_not_import_the_sandbox(core_modules: tuple[list[str], list[str]]) -> None:
    imported, loaded = core_modules
    assert "hsm_console.host.credentials" in imported
    assert [name for name in loaded if name.split(".")[0] == "hsm_sandbox"] == []


def test_the_command_line_loads_neither_qt_nor_the_sandbox_until_asked() -> None:
    imported, loaded = _load("cli")
    assert "hsm_console.cli.commands" in imported
    assert [name for name in loaded if name.split(".")[0] in ("PySide6", "hsm_sandbox")] == []


# Every module of the window, imported, with the modules its source names in import
# statements (those inside functions too).
_GUI_PROBE = """
import ast, importlib, json, pkgutil
import hsm_console.gui as gui
names = {}
for info in pkgutil.walk_packages(gui.__path__, "hsm_console.gui."):
    module = importlib.import_module(info.name)
    with open(module.__file__, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    named = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            named += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    names[info.name] = named
print(json.dumps(names))
"""


def test_the_window_does_not_import_the_connectors() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _GUI_PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    named: dict[str, list[str]] = json.loads(done.stdout)
    assert "hsm_console.services.queue_view" in named["hsm_console.gui.main_window"]
    offending = [
        f"{module} imports {name}"
        for module, names in named.items()
        for name in names
        if name.split(".")[:2] == ["hsm_console", "connectors"]
    ]
    assert offending == []


def test_the_window_loads_the_charts_only_with_the_dashboard() -> None:
    """pyqtgraph costs a quarter second: the window's start leaves it to the Dashboard tab."""
    probe = (
        "import sys, hsm_console.gui.start, hsm_console.gui.main_window\n"
        "print('pyqtgraph' in sys.modules)\n"
        "import hsm_console.gui.dashboard_screen\n"
        "print('pyqtgraph' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "True"]


def test_the_window_loads_the_pdf_library_only_for_a_package() -> None:
    """fpdf2 (and fontTools under it) was a quarter of the window's start: it is loaded when a
    records package is written, never to show the window."""
    probe = (
        "import sys, hsm_console.gui.start, hsm_console.gui.main_window\n"
        "print('fpdf' in sys.modules, 'fontTools' in sys.modules)\n"
        "import hsm_console.services.package_pdf\n"
        "print('fpdf' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False", "True"]


def test_a_current_database_opens_without_alembic(tmp_path: Path) -> None:
    """Alembic and the migration scripts it loads were a tenth of the start: a database
    already at the head is recognised from the scripts' text and its version table."""
    url = f"sqlite:///{tmp_path / 'current.sqlite3'}"
    db = Database(url)
    db.upgrade()
    assert head_from_scripts() == db.head_revision()
    db.dispose()
    probe = (
        "import sys, hsm_console.gui.start, hsm_console.gui.main_window\n"
        "from hsm_console.db.engine import Database\n"
        f"Database({url!r}).ensure_schema()\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False"]


# Loaded when first needed, never to show the window: the platforms' sign-in (authlib,
# requests, cryptography), the keyring, the agent's sealing (PyNaCl), PostgreSQL's driver for
# a window on SQLite, screening's libraries, the package writer, the tabs the window does not
# show first (the Records tab's business days load every country's holidays; the first
# administrator here moderates nothing, so the Log tab is shown first), SQLAlchemy's
# PostgreSQL dialect on SQLite, the services of later work (sync, bans, retention), the
# holidays (the records calendar) and webbrowser (a sign-in's).
NOT_AT_START = ("authlib", "requests", "cryptography", "keyring", "nacl", "psycopg",
                "phonenumbers", "tldextract", "rapidfuzz", "hsm_console.connectors.oauth",
                "hsm_console.services.records_package", "hsm_console.gui.admin",
                "hsm_console.gui.review_screen", "hsm_console.gui.dashboard_screen",
                "hsm_console.gui.records_screen", "holidays", "sqlalchemy.dialects.postgresql",
                "hsm_console.services.sync", "hsm_console.services.bans",
                "hsm_console.services.retention", "webbrowser")  # fmt: skip


def test_the_window_starts_without_what_its_first_screen_does_not_use(tmp_path: Path) -> None:
    """Every library costs the start its import: the window on a SQLite file, opened as
    `hsm-console` opens it, has none of these loaded when it is shown."""
    url = f"sqlite:///{tmp_path / 'start.sqlite3'}"
    db = Database(url)
    db.upgrade()  # a first start migrates, and migration 0019 screens what is stored
    db.dispose()
    probe = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QSettings\n"
        "from hsm_console.gui.settings import GuiSettings\n"
        "from hsm_console.gui.start import start_console\n"
        "folder = tempfile.mkdtemp()\n"
        "settings = GuiSettings(QSettings(str(Path(folder) / 'gui.ini'), "
        "QSettings.Format.IniFormat))\n"
        f"console = start_console({url!r}, False, settings)\n"
        "print(console.window.isVisible())\n"
        f"print(' '.join(m for m in {NOT_AT_START!r} if m in sys.modules) or '-')\n"
        "console.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert done.stdout.split() == ["True", "-"]
