"""The words of a text for full-text search: one tokenisation, the program's own, for every
database (docs/design.md, "Full-text search").

SQLite's and PostgreSQL's parsers split text each their own way (PostgreSQL's by URL, host,
path and file name, and by its locale's idea of a letter), so a search split by the program
found a comment on one database and not on the other. Now the program splits both: it stores
a text's words, normalised and separated by single spaces, next to the text, and each
database indexes them as given (FTS5's `ascii` tokenizer, which splits only on ASCII
punctuation and spaces; PostgreSQL's `array_to_tsvector`, which does not parse at all).
A search is split by the same function, so whatever was stored is found by its own words,
and nothing a person types is query syntax.
"""

from __future__ import annotations

import re
import unicodedata

# A word: letters and digits of any script (\w without the underscore, which is punctuation).
_WORD = re.compile(r"[^\W_]+")
# The longest stored word, in characters: PostgreSQL refuses lexemes over 2 KB, and a search
# for a longer word is cut alike, so it still finds it as the start of the stored word.
MAX_WORD = 64
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _dropped(character: str) -> bool:
    """Combining marks (accents, vowel signs) and invisible format characters (zero-width
    spaces and joiners, direction marks and overrides, soft hyphens) are dropped, not split
    on: "pa<ZWSP>ss" is the word "pass", as a reader sees it, and "café" is "cafe"."""
    category = unicodedata.category(character)
    return category[0] == "M" or category == "Cf"


def words(text: str) -> list[str]:
    """The words of `text`, in order: compatibility-normalised (full-width and ligature forms
    as plain letters), case-folded, without accents or other combining marks and invisible
    format characters (`_dropped`), each cut to MAX_WORD characters."""
    if text.isascii():  # the common case, and already normal
        return [word[:MAX_WORD] for word in _WORD.findall(text.lower())]
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Only the few distinct non-ASCII characters of the text are looked up.
    drop = {ord(c): None for c in set(_NON_ASCII.findall(decomposed)) if _dropped(c)}
    kept = decomposed.translate(drop)
    return [word[:MAX_WORD] for word in _WORD.findall(unicodedata.normalize("NFKC", kept))]


def document(*texts: str) -> str:
    """What is stored for a row: the words of each text, separated by single spaces."""
    return " ".join(word for text in texts for word in words(text))
