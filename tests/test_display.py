"""Untrusted text made safe to show: every control and format character, however placed."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from hsm_console.display import CITY_TZ, local_minute, local_time, one_line, safe_text


def _by_the_rule(text: str) -> str:
    """The rule, one character at a time (what `safe_text` skips when no character needs it)."""
    return "".join(
        char
        if char in "\n\t" or unicodedata.category(char)[0] != "C"
        else (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        for char in text
    )


def test_every_character_of_the_basic_plane_follows_the_rule_alone_and_among_words() -> None:
    for code in range(0x10000):
        char = chr(code)
        for text in (char, f"word {char}\nnext\tline"):
            assert safe_text(text) == _by_the_rule(text), hex(code)


def test_escapes_and_overrides_are_made_visible_and_lines_kept() -> None:
    assert safe_text("a\x1b[2Jb\u202ec\nd\te\u00a0f") == "a\\x1b[2Jb\\u202ec\nd\te\u00a0f"
    assert safe_text("plain words, and emoji \U0001f600") == "plain words, and emoji \U0001f600"
    assert one_line("first\nsecond\u202e", 80) == "first second\\u202e"


def test_times_are_written_as_strftime_writes_them_across_clock_changes() -> None:
    # Both of 2026's changes, an hour either side, a minute and 7 seconds at a time; then
    # one moment a day for three years; then the years' ends.
    changes = [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)]
    moments = [c + timedelta(seconds=67 * i) for c in changes for i in range(-60, 120)]
    moments += [
        datetime(2025, 1, 1, 12, 34, 56, tzinfo=UTC) + timedelta(days=d) for d in range(1100)
    ]
    moments += [datetime(1000, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC)]
    for moment in moments:
        local = moment.astimezone(CITY_TZ)
        assert local_time(moment) == local.strftime("%Y-%m-%d %H:%M:%S %Z")
        assert local_minute(moment) == local.strftime("%Y-%m-%d %H:%M")
