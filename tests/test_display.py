"""Untrusted text made safe to show: every control and format character, however placed."""

from __future__ import annotations

import unicodedata

from hsm_console.display import one_line, safe_text


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
