"""Opening links from comments and posts in the web browser, web addresses only.

A permalink comes from the platform and could in principle be anything; only http(s) is
handed to the desktop, never `file:`, `javascript:` or a custom scheme.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

WEB_SCHEMES = ("http", "https")


def web_url(text: str) -> QUrl | None:
    url = QUrl(text.strip(), QUrl.ParsingMode.StrictMode)
    if url.isValid() and url.scheme().lower() in WEB_SCHEMES and url.host():
        return url
    return None


def open_web_link(text: str) -> bool:
    """Open `text` in the browser if it is a web address; False if it is not or failed."""
    url = web_url(text)
    return url is not None and QDesktopServices.openUrl(url)
