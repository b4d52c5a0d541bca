"""The Qt Designer forms in `ui/`, found installed or in a source checkout, loaded at runtime.

Runtime loading (QUiLoader, part of PySide6-Essentials) keeps the forms editable in Designer
without a generated-code step that could drift from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QFile, QIODevice, QObject
from PySide6.QtUiTools import QUiLoader
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

_PACKAGE = Path(__file__).resolve().parent.parent

W = TypeVar("W", bound=QObject)


def ui_path(name: str) -> Path:
    """A form under `ui/`: `hsm_console/_ui` in a wheel or bundle, else the repository's."""
    installed = _PACKAGE / "_ui"
    base = installed if installed.is_dir() else _PACKAGE.parent / "ui"
    return base / name


def load_form(
    name: str, parent: QWidget | None = None, custom: Sequence[type[QWidget]] = ()
) -> QWidget:
    """The top widget of form `name` (e.g. "action_dialog.ui"), created as parent's child;
    `custom`: the classes of its promoted widgets (a form names them in `customwidgets`)."""
    path = ui_path(name)
    file = QFile(str(path))
    if not file.open(QIODevice.OpenModeFlag.ReadOnly):
        raise FileNotFoundError(f"The form {path} is missing from this installation.")
    try:
        loader = QUiLoader()
        for kind in custom:
            loader.registerCustomWidget(kind)
        widget = loader.load(file, parent)
    finally:
        file.close()
    if widget is None:
        raise RuntimeError(f"The form {path} could not be loaded: {loader.errorString()}")
    return widget


def child(root: QObject, kind: type[W], name: str) -> W:
    """A named child of a loaded form; a renamed widget fails here, not later as None."""
    found = root.findChild(kind, name)
    if found is None:
        raise LookupError(f"The form has no {kind.__name__} named {name!r}.")
    return found


def load_screen_form(name: str, screen: QWidget) -> QWidget:
    """A form filling `screen` edge to edge (a tab of the window)."""
    form = load_form(name, screen)
    layout = QVBoxLayout(screen)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(form)
    return form


def load_dialog_form(name: str, dialog: QDialog) -> QWidget:
    """A form laid out in `dialog` above a Close button (which rejects the dialog)."""
    form = load_form(name, dialog)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(form)
    layout.addWidget(buttons)
    return form
