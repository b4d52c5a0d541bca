"""Automatic screening: suggests a reason code for a comment and says why. It never acts.

A moderator sees each suggestion next to the comment, with the matched words highlighted,
and decides. Over-suggesting costs a glance; acting on a wrong suggestion would cost a
resident's speech, so every rule looks for *what* a comment contains (a word, a number, a
link), never for the opinion it expresses: criticism of the City matches nothing here.

The word lists live in resources/screening/ so the oversight group can amend them without
a code change. Comment text is hostile input: every pattern below starts only at a word
boundary and uses bounded or possessive repetition, so matching time grows linearly with
the text (no catastrophic backtracking on a megabyte of "a" or "@").
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hsm_console.host.resources import resource_path


@dataclass(frozen=True)
class Match:
    """A span of the original text that a suggestion is based on.

    Offsets are Python str indexes (code points). Qt counts UTF-16 code units, so a caller
    highlighting with QTextCursor must convert them when the text holds emoji or other
    characters beyond the Basic Multilingual Plane.
    """

    start: int
    end: int


@dataclass(frozen=True)
class Suggestion:
    """A reason code a moderator may want to apply, and the evidence for it."""

    code: str  # a reason code of the policy file, e.g. "PII"
    why: str  # one plain-English sentence naming what matched
    matches: tuple[Match, ...]  # sorted by position


@dataclass(frozen=True)
class ScreeningRules:
    """The word lists, lower-case, one entry each (see resources/screening/*.txt)."""

    profanity: tuple[str, ...]
    threat_phrases: tuple[str, ...]
    commercial_phrases: tuple[str, ...]

    @classmethod
    def load(cls) -> ScreeningRules:
        """The lists shipped in resources/screening/."""

        def read(name: str) -> tuple[str, ...]:
            return read_word_list(resource_path("screening", name))

        return cls(
            profanity=read("profanity.txt"),
            threat_phrases=read("threat-phrases.txt"),
            commercial_phrases=read("commercial-phrases.txt"),
        )


def read_word_list(path: Path) -> tuple[str, ...]:
    """One entry per line; `#` starts a comment; spacing and letter case are normalised."""
    entries: dict[str, None] = {}  # ordered and without duplicates
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = " ".join(line.split("#", 1)[0].split()).casefold()
        if entry:
            entries[entry] = None
    return tuple(entries)


# --- Building blocks ---------------------------------------------------------------------

_WORD_CHAR = r"[^\W_]"  # a letter or digit, in any script
_END = rf"(?!{_WORD_CHAR})"

# Characters typed in place of a letter to slip past a word list ("sh!t", "@ss", "$hit").
_LOOKALIKES = {"a": "@4", "e": "3", "i": "!1|", "l": "1!|", "o": "0", "s": "$5", "t": "7"}
# A word starts after neither a letter nor a look-alike, so "cl@ss" holds no "@ss" and a
# run of a million "@" offers one starting point, not a million.
_PROFANITY_START = rf"(?<!{_WORD_CHAR}|[@$!|])"
# A letter stretched to make a point ("fuuuuck") still counts from two extra copies on:
# doubling one is how ordinary words differ ("asses", "assess"). The bound on a run keeps
# each attempt short however long the run in a hostile text is.
_MAX_RUN = 32


def _profanity_pattern(word: str) -> str:
    if not (word.isascii() and word.isalpha()):
        raise ValueError(f"profanity list entry {word!r}: use letters a-z only, one word")
    runs = [(letter, len(list(group))) for letter, group in itertools.groupby(word)]
    parts = []
    for index, (letter, count) in enumerate(runs):
        kind = f"[{re.escape(letter + _LOOKALIKES.get(letter, ''))}]"
        letters = f"{kind}{{{count}}}(?:{kind}{{2,{_MAX_RUN}}})?"
        if 0 < index < len(runs) - 1:
            # "*" may stand for an inner letter ("d*mn", "a**hole"), never the first or the
            # last, or "****" would match every four-letter word on the list.
            letters = f"(?:{letters}|\\*{{1,{count}}})"
        parts.append(letters)
    return "".join(parts)


def _phrase_pattern(phrase: str) -> str:
    # Any spacing between words; ' also matches the typographic apostrophes phones insert.
    words = (re.escape(word).replace("'", "['’‘]") for word in phrase.split())
    return r"\s++".join(words)


def _alternation(patterns: Iterable[str], start: str) -> re.Pattern[str] | None:
    alternatives = list(patterns)
    if not alternatives:
        return None
    return re.compile(f"{start}(?:{'|'.join(alternatives)}){_END}", re.IGNORECASE)


def _phrases_regex(phrases: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, so "pipe bomb" wins over "bomb" where both fit.
    ordered = sorted(phrases, key=len, reverse=True)
    return _alternation(map(_phrase_pattern, ordered), rf"(?<!{_WORD_CHAR})")


# --- Personal data -----------------------------------------------------------------------

_PHONE = re.compile(
    r"""
    (?<![\w+-])
    (?:\+?1[ .-]?)?                         # country code
    (?:\([2-9]\d\d\)|[2-9]\d\d)[ .-]?       # area code: 618, (618)
    [2-9]\d\d[ .-]?\d{4}                    # 555-0142
    (?![\w-]|\.\d)
    |
    (?<![\w+().-])[2-9]\d\d[.-]\d{4}(?![\w-]|\.\d)  # local, separator required: 654-2131
    """,
    re.VERBOSE,
)
# Any area number, even the never-issued 000/666/9xx: test and made-up numbers in a
# comment are worth a look too.
_SSN = re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-]|\.\d)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}+@[a-z0-9-]++(?:\.[a-z0-9-]++)++", re.IGNORECASE)
_STREET_TYPES = (
    "St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Ct|Court|Way|Pl|Place"
    "|Ter|Terrace|Cir|Circle|Pkwy|Parkway|Hwy|Highway|Trl|Trail"
)
_ADDRESS = re.compile(
    rf"""
    (?<![\w-])\d{{1,6}}[ ]++
    # one to three capitalised name words ("N", "Main", "Old Trolley") or an ordinal
    # ("5th"): capitals keep "2 hours on the road" from reading as an address
    (?:(?:[A-Z][A-Za-z'-]{{0,20}}+|\d{{1,3}}(?:st|nd|rd|th))\.?[ ]++){{1,3}}
    (?i:{_STREET_TYPES})\.?(?!\w)
    (?:,?[ ]*(?i:apt|apartment|unit|suite|ste|\#)\.?[ ]*\#?[\w-]{{1,6}}+)?
    """,
    re.VERBOSE,
)
# (pattern, singular, plural, a way to reach someone) in the order the reason names them.
_PII_KINDS = (
    (_SSN, "a Social Security number", "Social Security numbers", False),
    (_PHONE, "a phone number", "phone numbers", True),
    (_EMAIL, "an e-mail address", "e-mail addresses", True),
    (_ADDRESS, "a street address", "street addresses", False),
)

# --- Links -------------------------------------------------------------------------------

# Common top-level domains of bare links ("example.com"). Leaves out those that are also
# English words ("in", "it", "me", "to"), which a missing space after a full stop would
# turn into a link ("closed.In the meantime").
_TLDS = frozenset(
    {
        "com", "net", "org", "edu", "gov", "info", "biz", "io", "co", "us", "uk", "ca", "de",
        "ru", "cn", "ly", "xyz", "app", "dev", "site", "online", "shop", "store", "top", "club",
        "live", "tv", "gg", "ai",
    }
)  # fmt: skip
_LINK = re.compile(
    r"""
    (?<![\w.@-])(?P<prefix>https?://|www\.)[^\s<>"'`]++
    |
    (?<![\w.@/-])(?P<host>[a-z0-9-]++(?:\.[a-z0-9-]++)++)(?![\w@-])  # not an e-mail's
    (?::\d{1,5})?(?:/[^\s<>"'`]*+)?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_TRAILING_PUNCTUATION = ".,;:!?)]}"


def _links(text: str) -> list[Match]:
    found = []
    for m in _LINK.finditer(text):
        host = m.group("host")
        if host is not None and host.rsplit(".", 1)[1].lower() not in _TLDS:
            continue  # "3.50", "e.g", "file.txt"
        end = _trim_link(text, m.start(), m.end())
        if end > m.start() + len(m.group("prefix") or ""):
            found.append(Match(m.start(), end))
    return found


def _trim_link(text: str, start: int, end: int) -> int:
    """Drop the sentence's punctuation from a link's end, but keep a balanced ")"."""
    unclosed = text.count("(", start, end) - text.count(")", start, end)
    while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
        if text[end - 1] == ")":
            if unclosed >= 0:
                break
            unclosed += 1
        end -= 1
    return end


# --- Reasons -----------------------------------------------------------------------------

_EXCERPT_CHARS = 40
_LISTED = 3  # items a reason names before "and N more"


def _excerpt(text: str, match: Match) -> str:
    # Control and bidi-override characters of a hostile comment must not garble the label.
    end = min(match.end, match.start + 4 * _EXCERPT_CHARS)  # never copy a megabyte-long link
    visible = "".join(
        " " if ch.isspace() else ch
        for ch in text[match.start : end]
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    visible = " ".join(visible.split())
    if end < match.end or len(visible) > _EXCERPT_CHARS:
        visible = visible[: _EXCERPT_CHARS - 1] + "…"
    return visible


def _named(text: str, matches: Iterable[Match], *, quoted: bool) -> str:
    items = list(dict.fromkeys(_excerpt(text, m) for m in matches))
    if quoted:
        items = [f'"{item}"' for item in items]
    named = ", ".join(items[:_LISTED])
    if len(items) > _LISTED:
        named += f" and {len(items) - _LISTED} more"
    return named


def _spans(pattern: re.Pattern[str] | None, text: str) -> list[Match]:
    if pattern is None:
        return []
    return [Match(m.start(), m.end()) for m in pattern.finditer(text)]


def _sorted(matches: Iterable[Match]) -> tuple[Match, ...]:
    return tuple(sorted(matches, key=lambda m: (m.start, m.end)))


class Screener:
    """Suggests reason codes for one comment's text. Immutable, so safe across threads."""

    def __init__(self, rules: ScreeningRules) -> None:
        self._profanity = _alternation(
            map(_profanity_pattern, sorted(rules.profanity, key=len, reverse=True)),
            _PROFANITY_START,
        )
        self._threats = _phrases_regex(rules.threat_phrases)
        self._commercial = _phrases_regex(rules.commercial_phrases)

    @classmethod
    def default(cls) -> Screener:
        """A screener with the word lists shipped in resources/screening/."""
        return cls(ScreeningRules.load())

    def screen(self, text: str) -> list[Suggestion]:
        """Suggestions, most harmful first: a threat or exposed personal data needs a
        moderator sooner than a swear word or a link. Empty when nothing matched."""
        suggestions = []

        threats = _spans(self._threats, text)
        if threats:
            noun = "phrase" if len(threats) == 1 else "phrases"
            why = f"Threatening {noun}: {_named(text, threats, quoted=True)}"
            suggestions.append(Suggestion("THR", why, tuple(threats)))

        named_kinds = []
        personal: list[Match] = []
        contacts: list[Match] = []
        for pattern, singular, plural, reaches_someone in _PII_KINDS:
            found = _spans(pattern, text)
            if found:
                noun = singular if len(found) == 1 else plural
                named_kinds.append(f"{noun}: {_named(text, found, quoted=False)}")
                personal += found
                if reaches_someone:
                    contacts += found
        if personal:
            why = "Looks like " + "; ".join(named_kinds)
            suggestions.append(Suggestion("PII", why, _sorted(personal)))

        # Digits alone ("455") fit a look-alike spelling but are no word.
        profanity = [
            m
            for m in _spans(self._profanity, text)
            if any(ch.isalpha() for ch in text[m.start : m.end])
        ]
        if profanity:
            why = f"Profanity: {_named(text, profanity, quoted=True)}"
            suggestions.append(Suggestion("PRF", why, tuple(profanity)))

        links = _links(text)
        # Sales words are commercial only with a way to reach the seller: "is there a senior
        # discount?" is a resident's question, "20% discount, call 618-555-0142" an advert.
        commercial = _spans(self._commercial, text) if links or contacts else []
        if commercial:
            named = _named(text, commercial, quoted=True)
            why = f"Commercial wording with a link or contact: {named}"
            suggestions.append(Suggestion("COM", why, tuple(commercial)))
        if links:
            noun = "a link" if len(links) == 1 else "links"
            why = f"Contains {noun}: {_named(text, links, quoted=False)}"
            suggestions.append(Suggestion("SPM", why, tuple(links)))

        return suggestions


# --- Repeated text -----------------------------------------------------------------------


def _fingerprint(text: str) -> bytes | None:
    """The same digest for texts that differ only in spacing, letter case, Unicode form or
    invisible characters; None for text with nothing to compare (an image-only comment)."""
    normal = text
    if not text.isascii():  # ASCII is already NFKC and has no invisible characters
        normal = unicodedata.normalize("NFKC", text)
        normal = "".join(ch for ch in normal if unicodedata.category(ch) != "Cf")  # bidi, ZW
    normal = " ".join(normal.casefold().split())
    if not normal:
        return None
    return hashlib.blake2b(normal.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class RepeatDetector:
    """Finds comments repeating another's text: the duplicate posts and flooding of SPM.

    Holds a 16-byte digest per comment rather than its text, so a whole sync fits in
    memory. Not thread-safe: feed it from one worker.
    """

    def __init__(self) -> None:
        self._fingerprint_of: dict[str, bytes] = {}
        self._keys_with: dict[bytes, dict[str, None]] = {}  # insertion-ordered set of keys

    def add(self, key: str, text: str) -> None:
        """Remember comment `key`'s text; adding a key again replaces its old text."""
        fingerprint = _fingerprint(text)
        previous = self._fingerprint_of.pop(key, None)
        if previous is not None:
            keys = self._keys_with[previous]
            del keys[key]
            if not keys:
                del self._keys_with[previous]
        if fingerprint is not None:
            self._fingerprint_of[key] = fingerprint
            self._keys_with.setdefault(fingerprint, {})[key] = None

    def repeats_of(self, key: str, text: str) -> list[str]:
        """The other comments with the same text, in the order they were added."""
        fingerprint = _fingerprint(text)
        if fingerprint is None:
            return []
        return [other for other in self._keys_with.get(fingerprint, {}) if other != key]
