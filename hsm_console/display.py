"""How values are shown to a person, in the window and on the terminal alike.

Comment text is untrusted: control and direction-override characters are made visible before
it is shown anywhere. Times are stored in UTC and shown in the City's time zone.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("America/Chicago")


# Times are written from their parts, not by `strftime`: it imports the time module at every
# call, which under PySide6's import hook costs tens of microseconds, most of a table row's
# texts. The same text for years 1000-9999.


def local_time(moment: datetime) -> str:
    """e.g. '2026-03-02 08:05:11 CST' — the zone name says whether daylight time applies."""
    local = moment.astimezone(CITY_TZ)
    return f"{_minute(local)}:{local.second:02d} {local.tzname()}"


def local_minute(moment: datetime) -> str:
    """e.g. '2026-03-02 08:05', in the City's time: a table's time column."""
    return _minute(moment.astimezone(CITY_TZ))


def _minute(local: datetime) -> str:
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"


def safe_text(text: str) -> str:
    """Control and format characters (escape sequences, right-to-left overrides) made visible.

    Comment text comes from the public: an ESC sequence could rewrite the screen and a U+202E
    could reverse what follows, so both are shown as escapes instead. Newlines and tabs stay.
    """
    # Most texts have none: "printable" excludes every category C character (and spaces but
    # " "), checked in C, where the loop below costs a microsecond a character on the worker
    # that reads the queue's rows.
    if text.replace("\n", "").replace("\t", "").isprintable():
        return text
    out = []
    for char in text:
        if char in "\n\t" or unicodedata.category(char)[0] != "C":
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def one_line(text: str, width: int) -> str:
    """`text` made safe, on one line, cut to `width` characters with an ellipsis."""
    first = safe_text(text).replace("\n", " ").replace("\t", " ")
    return first if len(first) <= width else first[: width - 1] + "…"
