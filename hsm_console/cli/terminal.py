"""Writing to the terminal: plain lines, and JSON that no comment text can steer."""

from __future__ import annotations

import json
from typing import Any


def out(text: str = "") -> None:
    print(text, flush=True)


def to_json(value: Any) -> str:
    """ASCII-only JSON: every non-ASCII character escaped, so no byte can reach the terminal raw."""
    return json.dumps(value, ensure_ascii=True, indent=2, default=str)
