"""Showing untrusted text on a terminal without letting it steer the terminal."""

from __future__ import annotations

import json
import unicodedata
from typing import Any


def safe_text(text: str) -> str:
    """Control and format characters (escape sequences, right-to-left overrides) made visible.

    Comment text comes from the public: an ESC sequence could rewrite the screen and a U+202E
    could reverse what follows, so both are shown as escapes instead. Newlines and tabs stay.
    """
    out = []
    for char in text:
        if char in "\n\t" or unicodedata.category(char)[0] != "C":
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def one_line(text: str, width: int) -> str:
    first = safe_text(text).replace("\n", " ").replace("\t", " ")
    return first if len(first) <= width else first[: width - 1] + "…"


def to_json(value: Any) -> str:
    """ASCII-only JSON: every non-ASCII character escaped, so no byte can reach the terminal raw."""
    return json.dumps(value, ensure_ascii=True, indent=2, default=str)
