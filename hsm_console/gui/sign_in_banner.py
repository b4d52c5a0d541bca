"""The band above the queue that names the sites whose sign-in needs an administrator: those
that need reconnecting (everyone who sees the site), and, for administrators, those whose
sign-in ends within a week (`services.health.WARN_BEFORE`). Hidden when there is none."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from hsm_console.gui.plain_text import set_plain
from hsm_console.services.health import SiteHealth, TokenState


def banner_lines(sites: Sequence[SiteHealth]) -> list[str]:
    """One line per site that needs an administrator, in words; [] when none does."""
    lines = []
    for site in sites:
        if site.token.state is TokenState.NEEDS_RECONNECTING:
            lines.append(
                f"⚠ {site.site_name} ({site.department}) {site.token.words}: its platform no "
                "longer accepts the console's sign-in, so its comments are not read and "
                "actions on it are refused. Ask an administrator to connect it again."
            )
        elif site.token.warning:  # set for administrators only
            lines.append(f"⚠ {site.token.warning}")
    return lines


class SignInBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signInBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Sites whose sign-in needs an administrator")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label)
        self.hide()

    def show_sites(self, sites: Sequence[SiteHealth]) -> None:
        lines = banner_lines(sites)
        set_plain(self.label, "\n".join(lines))
        self.setVisible(bool(lines))
