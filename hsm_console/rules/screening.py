"""Automatic screening: suggests reason codes for a comment and says why. It never acts.

A moderator sees each suggestion next to the comment, with the matched words highlighted,
and decides. Over-suggesting costs a glance; acting on a wrong suggestion would cost a
resident's speech, so every rule looks for *what* a comment contains (a word, a number, a
link), never for the opinion it expresses: criticism of the City matches nothing here.
A violent word alone is no threat ("shoot hoops", "a ticking time bomb"): a threat phrase
names an intent and a target. The City's own published contacts are never personal data,
and a link is judged by the domain it really goes to.

Words are matched in a normalised copy of the text (Unicode compatibility forms, accents,
letter case, invisible characters, look-alike digits inside words, letters spaced out
"f u c k"), and every match is mapped back to its span in the original text, which the
detail pane highlights. Personal data and links are found in the original text itself.

The word lists live in resources/screening/ (README.md there) so the oversight group can
amend them without a code change. Comment text is hostile input: every pattern below starts
only at a word boundary and uses bounded or possessive repetition, so matching time grows
linearly with the text (no catastrophic backtracking on a megabyte of "a" or "@").
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hsm_console.host.resources import resource_path

if TYPE_CHECKING:  # loaded on first use: the window shows suggestions without screening
    import tldextract

# The codes screening can suggest, most harmful first: the order of `Screener.screen`.
SCREENING_CODES = ("THR", "PII", "DSC", "SEX", "PRF", "COM", "SPM")


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
    why: str  # one plain-English sentence naming what matched and why it counts
    matches: tuple[Match, ...]  # sorted by position


@dataclass(frozen=True)
class CityContacts:
    """The City's published contacts (resources/screening/city-contacts.toml)."""

    domains: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()

    @classmethod
    def read(cls, path: Path) -> CityContacts:
        """The allow-list in `path`; a malformed file is refused with its name and field."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: {exc}") from None
        values: dict[str, tuple[str, ...]] = {}
        for name in ("domains", "phones", "emails", "addresses"):
            entries = data.get(name, [])
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                raise ValueError(f"{path}: {name} must be a list of strings")
            values[name] = tuple(e.strip() for e in entries if e.strip())
        return cls(**values)


@dataclass(frozen=True)
class ScreeningRules:
    """The word lists, normalised, one entry each (see resources/screening/)."""

    profanity: tuple[str, ...]
    threat_phrases: tuple[str, ...]
    commercial_phrases: tuple[str, ...]
    slurs: tuple[str, ...] = ()
    discrimination_phrases: tuple[str, ...] = ()
    sexual_phrases: tuple[str, ...] = ()
    spam_phrases: tuple[str, ...] = ()
    contact_phrases: tuple[str, ...] = ()
    city: CityContacts = field(default_factory=CityContacts)

    @classmethod
    def load(cls) -> ScreeningRules:
        """The lists shipped in resources/screening/."""

        def read(name: str) -> tuple[str, ...]:
            return read_word_list(resource_path("screening", name))

        return cls(
            profanity=read("profanity.txt"),
            threat_phrases=read("threat-phrases.txt"),
            commercial_phrases=read("commercial-phrases.txt"),
            slurs=read("slurs.txt"),
            discrimination_phrases=read("discrimination-phrases.txt"),
            sexual_phrases=read("sexual-phrases.txt"),
            spam_phrases=read("spam-phrases.txt"),
            contact_phrases=read("contact-phrases.txt"),
            city=CityContacts.read(resource_path("screening", "city-contacts.toml")),
        )


def read_word_list(path: Path) -> tuple[str, ...]:
    """One entry per line; `#` starts a comment; spacing, letter case and accents are
    normalised the way comment text is."""
    entries: dict[str, None] = {}  # ordered and without duplicates
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = " ".join(fold(line.split("#", 1)[0]).split())
        if entry:
            entries[entry] = None
    return tuple(entries)


# --- Normalising -------------------------------------------------------------------------

# Letters no Unicode decomposition takes apart, typographic apostrophes.
_EXTRA_FOLDS = {"ł": "l", "ø": "o", "đ": "d", "æ": "ae", "œ": "oe", "ı": "i", "’": "'", "‘": "'"}


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if unicodedata.category(ch) == "Cf":
        return ""  # zero-width spaces and joiners, bidi controls: invisible, so nothing
    # NFKC first (full-width "ｆ", ligatures, circled letters), then the accents off.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", ch))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return "".join(_EXTRA_FOLDS.get(c, c) for c in bare)


def fold(text: str) -> str:
    """Compatibility forms, accents, letter case and invisible characters normalised away."""
    if text.isascii():
        return text.lower()
    return "".join(ch.lower() if ch < "\x80" else _fold_char(ch) for ch in text)


# Characters typed in place of a letter to slip past a word list ("sh!t", "@ss", "$hit").
_LOOKALIKES = {"a": "@4", "e": "3", "i": "!1|", "l": "1!|", "o": "0", "s": "$5", "t": "7"}
_UNLEET = str.maketrans({"@": "a", "4": "a", "3": "e", "!": "i", "1": "i", "|": "l",
                         "0": "o", "$": "s", "5": "s", "7": "t"})  # fmt: skip
# Look-alikes between letters ("k1ll", "a$$hole") or starting a word ("$hit"): read as the
# letters they stand for. Never alone, so "618-555-0142" and "$35" stay as they are.
_LEET = re.compile(r"(?<=[a-z])[0134579@$!|]++(?=[a-z])|(?<![\w@$!|])[0134579@$!|]++(?=[a-z])")
# Letters spaced out to slip past a word list: "f u c k", "s.h.i.t", "k-u-r-w-a".
# One separator throughout, so "a s.h.i.t" keeps its "a" apart.
_SPACED = re.compile(r"(?<![a-z0-9])[a-z]([ .\-_])[a-z](?![a-z0-9])(?:\1[a-z](?![a-z0-9])){1,}+")
# What every match of each holds: a look-alike; a letter between two of one separator.
_LEET_HINT = re.compile(r"[0134579@$!|]")
_SPACED_HINT = re.compile(r"([ .\-_])[a-z]\1")


@dataclass(frozen=True)
class _View:
    """The normalised text and, per character, where it came from in the original."""

    text: str
    origin: tuple[int, ...] | None  # None: the same offsets as the original

    @classmethod
    def of(cls, text: str) -> _View:
        origin: list[int] | None = None
        if text.isascii():
            folded = text.lower()
        else:
            parts = []
            origin = []
            for index, ch in enumerate(text):
                piece = ch.lower() if ch < "\x80" else _fold_char(ch)
                parts.append(piece)
                origin.extend([index] * len(piece))
            folded = "".join(parts)
        # Each pattern only where its hint is: most comments hold no look-alike and no
        # letters spaced out, and a scan for a character is far cheaper than either pattern.
        if _LEET_HINT.search(folded):
            folded = _LEET.sub(lambda m: m.group().translate(_UNLEET), folded)  # same length
        runs = list(_SPACED.finditer(folded)) if _SPACED_HINT.search(folded) else []
        if runs:
            where = origin if origin is not None else list(range(len(folded)))
            kept: list[int] = []
            previous = 0
            for run in runs:
                kept.extend(range(previous, run.start()))
                kept.extend(i for i in range(run.start(), run.end()) if folded[i].isalpha())
                previous = run.end()
            kept.extend(range(previous, len(folded)))
            folded = "".join(folded[i] for i in kept)
            origin = [where[i] for i in kept]
        return cls(folded, None if origin is None else tuple(origin))

    def span(self, start: int, end: int) -> Match:
        if self.origin is None:
            return Match(start, end)
        return Match(self.origin[start], self.origin[end - 1] + 1)

    def spans(self, pattern: re.Pattern[str] | None) -> list[Match]:
        if pattern is None:
            return []
        return [self.span(m.start(), m.end()) for m in pattern.finditer(self.text) if m.end()]


# --- Word and phrase patterns ------------------------------------------------------------

_WORD_CHAR = r"[^\W_]"  # a letter or digit, in any script
_END = rf"(?!{_WORD_CHAR})"

# A word starts after neither a letter nor a look-alike, so "cl@ss" holds no "@ss" and a
# run of a million "@" offers one starting point, not a million.
_PROFANITY_START = rf"(?<!{_WORD_CHAR}|[@$!|])"
# A letter stretched to make a point ("fuuuuck") still counts from two extra copies on:
# doubling one is how ordinary words differ ("asses", "assess"). The bound on a run keeps
# each attempt short however long the run in a hostile text is.
_MAX_RUN = 32
_MAX_ENDING = 12  # letters a trailing "*" of a list entry stands for ("chuj*": "chujów")


def _profanity_pattern(entry: str) -> tuple[str, str]:
    """An entry's pattern as its first character's class, matched once, and the rest."""
    word, any_ending = (entry[:-1], True) if entry.endswith("*") else (entry, False)
    if not (word.isascii() and word.isalpha()):
        raise ValueError(f"word list entry {entry!r}: use letters a-z only, one word")
    runs = [(letter, len(list(group))) for letter, group in itertools.groupby(word)]
    parts = []
    for index, (letter, count) in enumerate(runs):
        kind = f"[{re.escape(letter + _LOOKALIKES.get(letter, ''))}]"
        letters = f"{kind}{{{count}}}(?:{kind}{{2,{_MAX_RUN}}})?"
        if index == 0:  # the first class is the caller's: the rest of the run follows it
            letters = (f"{kind}{{{count - 1}}}" if count > 1 else "") + (
                f"(?:{kind}{{2,{_MAX_RUN}}})?"
            )
        elif index < len(runs) - 1:
            # "*" may stand for an inner letter ("d*mn", "a**hole"), never the first or the
            # last, or "****" would match every four-letter word on the list.
            letters = f"(?:{letters}|\\*{{1,{count}}})"
        parts.append(letters)
    if any_ending:
        parts.append(f"[a-z]{{0,{_MAX_ENDING}}}+")
    first = f"[{re.escape(word[0] + _LOOKALIKES.get(word[0], ''))}]"
    return first, "".join(parts)


# Between the words of a phrase: spacing or punctuation ("hurt. I'll"), never a letter.
_SEPARATOR = r"[^\w']{1,6}+"
# `...` in a phrase: up to eight words in between.
_GAP = rf"(?:[\w']{{1,30}}+{_SEPARATOR}){{0,8}}?"
_SLOT = re.compile(r"^\[(\w+)\]\s*(.+)$")


def _phrase_pattern(phrase: str, slots: dict[str, str] | None = None) -> str:
    pattern = ""
    for word in phrase.split():
        if word == "...":
            pattern += _SEPARATOR + _GAP
            continue
        slot = re.fullmatch(r"\{(\w+)\}", word)
        if slot is not None:
            if slots is None or slot.group(1) not in slots:
                raise ValueError(f"phrase {phrase!r}: no slot [{slot.group(1)}] defined")
            # "the mayor's proposal" is the mayor's thing, not the mayor
            piece = slots[slot.group(1)] + "(?!['’‘]s\\b)"
        else:
            piece = re.escape(word).replace("'", "['’‘]")  # ' also the typographic ones
        if pattern and not pattern.endswith("?"):
            pattern += _SEPARATOR
        pattern += piece
    return pattern


def _alternation(patterns: Iterable[str], start: str) -> re.Pattern[str] | None:
    """Alternatives matched in a `_View`'s text, already in lower case. The look-ahead
    turns away at once where no entry can start: without it, a megabyte of ")" costs each
    alternative a try at each character. A `start` ending in "(" opens a group that holds
    the match from there (`_WordList`)."""
    alternatives = list(patterns)
    if not alternatives:
        return None
    close = ")" if start.endswith("(") else ""
    return re.compile(f"{start}(?=[a-z0-9@$!|'])(?:{'|'.join(alternatives)}){_END}{close}")


class _WordList:
    """A list of words (profanity, slurs) as one pattern, and the same pattern for a text of
    ASCII alone, which the regex engine runs several times faster: it starts at the
    character before a word, one that can stand there (a space, punctuation), and the engine
    skips to such characters without trying the pattern at each letter. The text is given a
    space in front, so a word at its start has one too."""

    def __init__(self, entries: Iterable[str]) -> None:
        # Grouped by first letter, each group starting with that letter's class: at each
        # word a text offers, one test per letter (which the regex engine makes without
        # entering the group) rather than one try per entry.
        by_letter: dict[str, list[str]] = {}
        for entry in sorted(entries, key=len, reverse=True):
            first, rest = _profanity_pattern(entry)
            by_letter.setdefault(first, []).append(rest)
        groups = [f"{first}(?:{'|'.join(rests)})" for first, rests in by_letter.items()]
        self.pattern = _alternation(groups, _PROFANITY_START)
        # In lower-case ASCII a letter or digit is [a-z0-9]: what `_PROFANITY_START` refuses
        # before a word, with the look-alikes.
        self._ascii = _alternation(groups, "[^a-z0-9@$!|](") if groups else None

    def spans(self, view: _View) -> list[Match]:
        if self._ascii is None or not view.text.isascii():
            return view.spans(self.pattern)
        return [view.span(m.start(1) - 1, m.end(1) - 1)
                for m in self._ascii.finditer(" " + view.text)]  # fmt: skip


def _trie(words: Iterable[str]) -> str:
    """Literal words as one alternation branching a letter at a time, longest first where
    one word begins another: at each place, a test per distinct letter rather than a try
    per word. "'" matches the typographic apostrophes too."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for letter in word:
            node = node.setdefault(letter, {})
        node[""] = {}  # a word ends here

    def branch(node: dict[str, Any]) -> str:
        options = [_key_pattern(letter) + branch(child) for letter, child in node.items() if letter]
        if not options:
            return ""
        group = f"(?:{'|'.join(options)})"
        return group + "?" if "" in node else group

    return branch(tree)


class _Phrases:
    """A phrase list, where lines `[name] a | b` define slots that other lines use as {name}.

    One alternation of a hundred phrases tried at every word of a megabyte is slow, so the
    phrases are looked for only near a word each of them must contain ("kill", "bomb"),
    found first by a much simpler pattern.
    """

    _NEAR = 400  # characters around such a word that a phrase can reach

    def __init__(self, entries: Iterable[str]) -> None:
        slots: dict[str, str] = {}
        phrases = []
        for entry in entries:
            slot = _SLOT.match(entry)
            if slot is None:
                phrases.append(entry)
                continue
            options = sorted((o for o in map(str.strip, slot.group(2).split("|")) if o), key=len)
            slots[slot.group(1)] = "(?:" + "|".join(map(_phrase_pattern, options[::-1])) + ")"
        # Longest first, so "pipe bomb" wins over "bomb" where both fit.
        ordered = sorted(phrases, key=len, reverse=True)
        self.pattern = _alternation(
            (_phrase_pattern(p, slots) for p in ordered), rf"(?<!{_WORD_CHAR})"
        )
        words = {_plain_key(p) for p in phrases}
        # The words looked for first (`_KeyWords` looks for every list's at once); None
        # where a phrase has no plain word, so the list is always looked through.
        self.words: frozenset[str] | None = None
        self._keys: re.Pattern[str] | None = None
        if None not in words:  # every phrase has a plain word to look for first
            self.words = frozenset(filter(None, words))
            self._keys = re.compile(rf"(?<!{_WORD_CHAR})(?=[a-z']){_trie(self.words)}")

    def spans(self, view: _View) -> list[Match]:
        if self.pattern is None:
            return []
        if self._keys is None:
            return view.spans(self.pattern)
        text = view.text
        windows: list[list[int]] = []
        for key in self._keys.finditer(text):
            start, end = max(0, key.start() - self._NEAR), key.end() + self._NEAR
            if windows and start <= windows[-1][1]:
                windows[-1][1] = end
            else:
                windows.append([start, end])
        found: dict[tuple[int, int], None] = {}
        for start, end in windows:
            end = min(end, len(text))
            for m in self.pattern.finditer(text, start, end):
                # A match cut short by the window's end is found whole in the next one.
                if m.end() < end or end == len(text):
                    found[m.span()] = None
        return [view.span(a, b) for a, b in sorted(found) if b > a]


def _plain_key(phrase: str) -> str | None:
    """The longest plain word of `phrase`, or None where it has none."""
    words = [w for w in phrase.split() if w != "..." and not re.fullmatch(r"\{\w+\}", w)]
    return max(words, key=len) if words else None


def _key_pattern(word: str) -> str:
    return re.escape(word).replace("'", "['’‘]")


class _KeyWords:
    """Which phrase lists can match a text at all, found in one pass for every list: most
    comments hold none of a list's words, and each list looking for its own was a scan of
    the text per list.

    A list can match only where one of its words starts a word of the text (`_Phrases`). At
    each such place the pass finds the longest of all the lists' words, and counts for it
    every list with a word it begins with (a shorter word matches wherever a longer one it
    begins does), so exactly the lists whose own look would find a word are named.
    """

    def __init__(self, lists: Iterable[_Phrases]) -> None:
        self._always: set[_Phrases] = set()
        owners: dict[str, set[_Phrases]] = {}
        for phrases in lists:
            if phrases.words is None:
                self._always.add(phrases)
            for word in phrases.words or ():
                owners.setdefault(word, set()).add(phrases)
        self._lists = {
            word: frozenset(
                owner for short, found in owners.items() if word.startswith(short)
                for owner in found
            )
            for word in owners
        }  # fmt: skip
        # Inside a look-ahead, so every place is tried, even inside a word found before
        # ("i'll" holds "ll").
        self._pattern = (
            re.compile(rf"(?<!{_WORD_CHAR})(?=[a-z'])(?=({_trie(owners)}))") if owners else None
        )

    def present(self, text: str) -> set[_Phrases]:
        found = set(self._always)
        if self._pattern is None:
            return found
        for word in {m.group(1) for m in self._pattern.finditer(text)}:
            found.update(self._lists[word.replace("’", "'").replace("‘", "'")])
        return found


# --- Personal data -----------------------------------------------------------------------

# Candidates for phonenumbers to parse: a fast pattern first, since the library's own
# matcher reads a megabyte of digits for seconds.
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
# comment are worth a look too. Nine digits in a row only where the words say what it is.
_SSN = re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-]|\.\d)")
_SSN_BARE = re.compile(r"(?<![\w-])\d{9}(?![\w-]|\.\d)")
_SSN_WORDS = re.compile(r"(?:\bssn|\bsocial|\bss\s?#|\bs\.s\.n|seguro social|pesel)\b[^\d]{0,30}$")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}+@[a-z0-9-]++(?:\.[a-z0-9-]++)++", re.IGNORECASE)
_STREET_TYPES = (
    "St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Ct|Court|Way|Pl|Place"
    "|Ter|Terrace|Cir|Circle|Pkwy|Parkway|Hwy|Highway|Trl|Trail"
)
_ADDRESS = re.compile(
    rf"""
    (?<![\w-])\d{{1,6}}[ ]++
    # one to three name words ("N", "Main", "Old Trolley") or an ordinal ("5th")
    (?:(?:[A-Za-z][A-Za-z'-]{{0,20}}+|\d{{1,3}}(?:st|nd|rd|th))\.?[ ]++){{1,3}}
    (?i:{_STREET_TYPES})\.?(?!\w)
    (?:,?[ ]*(?i:apt|apartment|unit|suite|ste|\#)\.?[ ]*\#?[\w-]{{1,6}}+)?
    """,
    re.VERBOSE,
)
# A street address is someone's personal data where the words tie it to a person's home
# ("lives at", "his address is"), or beside their phone or e-mail; "the pothole in front of
# 912 Laurel St" is a place. Looked for in the few words before the number.
_HOME_WORDS = re.compile(
    r"\b(?:lives?|living|resides?|home|house|address|apartment|neighbou?r|"
    r"vive|vecin[oa]|domicilio|mieszka|adres|sasiad)\b",
    re.IGNORECASE,
)
_HOME_WINDOW = 60
_STREET_TYPE_WORD = re.compile(rf"\b(?:{_STREET_TYPES})\b\.?", re.IGNORECASE)

# --- Links and commerce ------------------------------------------------------------------
# Common top-level domains of bare links ("example.com"). Leaves out those that are also
# English words ("in", "it", "me", "to"), which a missing space after a full stop would
# turn into a link ("closed.In the meantime").
_TLDS = frozenset(
    {
        "com", "net", "org", "edu", "gov", "info", "biz", "io", "co", "us", "uk", "ca", "de",
        "ru", "cn", "ly", "xyz", "app", "dev", "site", "online", "shop", "store", "top", "club",
        "live", "tv", "gg", "ai", "example",
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
# What every link `_LINK` finds holds: "://", or a dot with more of the link after it.
_LINK_HINT = re.compile(r"://|\.[^\s<>\"'`]")
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


# A discount is sales wording; a price is, beside the seller's number (see `_screen`).
_DISCOUNT = re.compile(r"(?<![\w.])\d{1,2}\s?%\s?off\b", re.IGNORECASE)
_PRICE = re.compile(r"(?<![\w$])\$\s?\d{1,9}+(?:,\d{3}){0,4}+(?:\.\d\d)?(?![\d,]\d)")
_DIGIT = re.compile(r"\d")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
# Code a browser or a spreadsheet would run if the comment were pasted into one.
_CODE = re.compile(
    r"<\s{0,5}script\b|\bon(?:error|load|click|mouseover|focus)\s{0,5}=|\bjavascript\s{0,5}:"
    r"|^\s{0,5}[=+@]\s{0,5}(?:hyperlink|cmd|importxml|importdata|webservice)\s{0,5}\(",
    re.IGNORECASE | re.MULTILINE,
)
# A program whose name a right-to-left override turns round: "agenda\u202efdp.exe" shows
# as "agendaexe.pdf".
_DISGUISED = re.compile(
    r"[\u202d\u202e][\w-]{0,40}+\.(?:exe|scr|bat|cmd|com|js|vbs|msi|jar|ps1)\b", re.IGNORECASE
)


@functools.cache
def _domains() -> tldextract.TLDExtract:
    """The Public Suffix List snapshot that tldextract ships: never fetched at run time."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@functools.cache
def _ratio() -> Callable[..., float]:
    from rapidfuzz import fuzz

    return fuzz.ratio


_LOOKALIKE_RATIO = 90.0  # "highland1l" and "highlandii" against "highlandil"; "highland" is not


def _host(link: str) -> str:
    rest = re.sub(r"^(?:https?://)?", "", link, flags=re.IGNORECASE)
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    return host.lower().strip(".")


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
    # Distinct spellings first: a megabyte can repeat one word fifteen thousand times.
    first: dict[str, Match] = {}
    for m in matches:
        first.setdefault(text[m.start : min(m.end, m.start + 4 * _EXCERPT_CHARS)], m)
    items = list(dict.fromkeys(_excerpt(text, m) for m in first.values()))
    if quoted:
        items = [f'"{item}"' for item in items]
    named = ", ".join(items[:_LISTED])
    if len(items) > _LISTED:
        named += f" and {len(items) - _LISTED} more"
    return named


def _sorted(matches: Iterable[Match]) -> tuple[Match, ...]:
    return tuple(sorted(set(matches), key=lambda m: (m.start, m.end)))


@functools.lru_cache(maxsize=1024)
def _national_number(candidate: str) -> str | None:
    """The digits of a possible US number as phonenumbers parses it; None if it is none."""
    import phonenumbers

    try:
        number = phonenumbers.parse(candidate, "US")
    except phonenumbers.NumberParseException:
        return None
    return str(number.national_number) if phonenumbers.is_possible_number(number) else None


def _digits(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _address_key(address: str) -> str:
    words = re.sub(r"[^\w ]", " ", _STREET_TYPE_WORD.sub(" ", address.split(",")[0]))
    return " ".join(words.casefold().split())


@dataclass(frozen=True)
class _Found:
    """What one comment holds, before it is turned into suggestions."""

    ssns: list[Match]
    phones: list[Match]
    emails: list[Match]
    addresses: list[Match]
    links: list[Match]  # links that are not the City's or a .gov
    suspicious: list[tuple[Match, str]]  # links and why they look like phishing
    contact_words: list[Match]

    @property
    def reach(self) -> bool:
        """A way to reach the writer other than the City's own contacts."""
        return bool(self.phones or self.emails or self.links or self.contact_words)


class Screener:
    """Suggests reason codes for one comment's text. Immutable, so safe across threads."""

    def __init__(self, rules: ScreeningRules) -> None:
        self._profanity = _WordList(rules.profanity)
        self._slurs = _WordList(rules.slurs)
        # Lines "- phrase" of the threat list are ordinary speech that a threat phrase also
        # fits ("we'll shoot you an e-mail"): a threat match overlapping one is dropped.
        slots = [e for e in rules.threat_phrases if _SLOT.match(e)]
        self._threats = _Phrases(e for e in rules.threat_phrases if not e.startswith("- "))
        self._not_threats = _Phrases(
            slots + [e[2:] for e in rules.threat_phrases if e.startswith("- ")]
        )
        self._commercial = _Phrases(rules.commercial_phrases)
        self._discrimination = _Phrases(rules.discrimination_phrases)
        self._sexual = _Phrases(rules.sexual_phrases)
        self._spam = _Phrases(rules.spam_phrases)
        self._contact = _Phrases(rules.contact_phrases)
        self._key_words = _KeyWords([
            self._threats, self._not_threats, self._commercial, self._discrimination,
            self._sexual, self._spam, self._contact,
        ])  # fmt: skip
        city = rules.city
        self._city_domains = frozenset(d.casefold().strip(".") for d in city.domains)
        self._city_names = tuple(
            _domains()(d).domain.replace("-", "")
            for d in self._city_domains
            if _domains()(d).domain
        )
        self._city_emails = frozenset(e.casefold() for e in city.emails)
        self._city_phones = frozenset(_digits(p) for p in city.phones)
        self._city_addresses = frozenset(_address_key(a) for a in city.addresses)

    @classmethod
    def default(cls) -> Screener:
        """A screener with the word lists shipped in resources/screening/."""
        return cls(ScreeningRules.load())

    def screen(self, text: str) -> list[Suggestion]:
        """Suggestions, most harmful first: a threat or exposed personal data needs a
        moderator sooner than a swear word or a link. Empty when nothing matched."""
        return self._screen(text)[0]

    def _screen(self, text: str) -> tuple[list[Suggestion], bool]:
        """The suggestions, and whether the comment points somewhere: a link, phone, e-mail
        address or contact phrase that is not the City's (a flood of those is spam)."""
        view = _View.of(text)
        present = self._key_words.present(view.text)

        def spans(phrases: _Phrases) -> list[Match]:
            return phrases.spans(view) if phrases in present else []

        found = self._find(text, spans(self._contact))
        suggestions = []

        ordinary = spans(self._not_threats)
        threats = [
            m
            for m in spans(self._threats)
            if not any(o.start < m.end and m.start < o.end for o in ordinary)
        ]
        if threats:
            noun = "phrase" if len(threats) == 1 else "phrases"
            why = f"Threatening {noun}: {_named(text, threats, quoted=True)}"
            suggestions.append(Suggestion("THR", why, tuple(threats)))

        # Sales words are commercial only with a way to reach the seller: "is there a senior
        # discount?" is a resident's question, "20% discount, call 618-555-0142" an advert,
        # and then the number is the seller's, not someone's personal data.
        # A price makes an advert only beside the seller's number or "dm me": a resident
        # quoting "$90,000 for consultants" with a news link is no seller, and a price in scam
        # wording ("earn $500 a day") is the scam's bait.
        scam = spans(self._spam) if found.reach else []
        sales = spans(self._commercial) + _spans(_DISCOUNT, text) if found.reach else []
        seller = found.phones or found.emails or found.contact_words
        if sales or (seller and not scam):
            sales += _spans(_PRICE, text)
        personal = self._personal(text, found, advert=bool(sales))
        if personal is not None:
            suggestions.append(personal)

        slurs = _sorted(self._slurs.spans(view) + spans(self._discrimination))
        if slurs:
            why = (
                f"Wording that demeans or excludes a protected class: "
                f"{_named(text, slurs, quoted=True)} (DSC needs its objective test)"
            )
            suggestions.append(Suggestion("DSC", why, slurs))

        sexual = spans(self._sexual)
        if sexual:
            why = f"Sexual solicitation wording: {_named(text, sexual, quoted=True)}"
            suggestions.append(Suggestion("SEX", why, tuple(sexual)))

        # Digits alone ("455") fit a look-alike spelling but are no word.
        profanity = [
            m
            for m in self._profanity.spans(view)
            if any(c.isalpha() for c in text[m.start : m.end])
        ]
        if profanity:
            why = f"Profanity: {_named(text, profanity, quoted=True)}"
            suggestions.append(Suggestion("PRF", why, tuple(profanity)))

        if sales:
            named = _named(text, _sorted(sales), quoted=True)
            why = f"Sales wording with a way to reach the seller: {named}"
            suggestions.append(Suggestion("COM", why, _sorted(sales)))

        spam = self._spam_suggestion(text, scam, found)
        if spam is not None:
            suggestions.append(spam)
        return suggestions, found.reach

    # --- What a comment holds ---------------------------------------------------------

    def _find(self, text: str, contact_words: list[Match]) -> _Found:
        # Most comments hold no digit and no link: skip what cannot match (a third of the time
        # sync spends screening).
        digits = _DIGIT.search(text) is not None
        ssns = [] if not digits else _spans(_SSN, text) + [
            m for m in _spans(_SSN_BARE, text)
            if _SSN_WORDS.search(text[max(0, m.start - 40) : m.start].casefold())
        ]  # fmt: skip
        every_link = _links(text) if _LINK_HINT.search(text) else []
        phones = [  # a number inside a link ("http://185.199.44.12/") is no phone
            m for m in (self._phones(text) if digits else [])
            if not any(o.start < m.end and m.start < o.end for o in ssns + every_link)
        ]  # fmt: skip
        emails = [
            m for m in (_spans(_EMAIL, text) if "@" in text else [])
            if not self._city_email(text[m.start : m.end])
        ]  # fmt: skip
        links: list[Match] = []
        suspicious: list[tuple[Match, str]] = []
        for link in every_link:
            host = _host(text[link.start : link.end])
            if self._trusted(host):
                continue
            links.append(link)
            reason = self._phishing(host)
            if reason:
                suspicious.append((link, reason))
        return _Found(
            ssns=ssns,
            phones=phones,
            emails=emails,
            addresses=self._addresses(text) if digits else [],
            links=links,
            suspicious=suspicious,
            contact_words=contact_words,
        )

    def _phones(self, text: str) -> list[Match]:
        found = []
        for candidate in _PHONE.finditer(text):
            digits = _national_number(candidate.group())
            if digits is None:
                continue
            if digits in self._city_phones or (
                len(digits) == 7 and any(p.endswith(digits) for p in self._city_phones)
            ):
                continue
            found.append(Match(candidate.start(), candidate.end()))
        return found

    def _addresses(self, text: str) -> list[Match]:
        found = []
        for m in _ADDRESS.finditer(text):
            if _address_key(m.group()) in self._city_addresses:
                continue
            if _HOME_WORDS.search(text, max(0, m.start() - _HOME_WINDOW), m.start()):
                found.append(Match(m.start(), m.end()))
        return found

    def _personal(self, text: str, found: _Found, *, advert: bool) -> Suggestion | None:
        # An advert's number and e-mail address are the seller's, published to be used.
        phones: list[Match] = [] if advert else found.phones
        emails: list[Match] = [] if advert else found.emails
        addresses = found.addresses
        if not addresses and (found.ssns or phones or emails):
            # Beside someone's number, any street address is theirs too.
            addresses = [
                Match(m.start(), m.end())
                for m in _ADDRESS.finditer(text)
                if _address_key(m.group()) not in self._city_addresses
            ]
        kinds = (
            (found.ssns, "a Social Security number", "Social Security numbers"),
            (phones, "a phone number", "phone numbers"),
            (emails, "an e-mail address", "e-mail addresses"),
            (addresses, "a street address", "street addresses"),
        )
        named = []
        personal: list[Match] = []
        for matches, singular, plural in kinds:
            if matches:
                noun = singular if len(matches) == 1 else plural
                named.append(f"{noun}: {_named(text, matches, quoted=False)}")
                personal += matches
        if not personal:
            return None
        return Suggestion("PII", "Looks like " + "; ".join(named), _sorted(personal))

    def _spam_suggestion(self, text: str, scam: list[Match], found: _Found) -> Suggestion | None:
        reasons = []
        matches: list[Match] = []
        if scam:
            named = _named(text, scam, quoted=True)
            reasons.append(f"scam wording with a way to reach the sender: {named}")
            matches += scam
        for pattern, what, hint in (
            (_CODE, "markup or a formula that would run as code", "<=:"),
            (_DISGUISED, "a program whose file name a hidden character disguises", "\u202d\u202e"),
        ):
            found_here = _spans(pattern, text) if any(c in text for c in hint) else []
            if found_here:
                reasons.append(f"{what}: {_named(text, found_here, quoted=True)}")
                matches += found_here
        for link, reason in found.suspicious:
            reasons.append(f"a link that {reason}: {_named(text, [link], quoted=False)}")
            matches.append(link)
        if not reasons:
            return None
        why = "; ".join(reasons[: _LISTED + 1])
        return Suggestion("SPM", why[0].upper() + why[1:], _sorted(matches))

    # --- Links ------------------------------------------------------------------------

    def _trusted(self, host: str) -> bool:
        """The City's own domains and any .gov: never spam, never personal data."""
        parts = _domains()(host)
        registered = f"{parts.domain}.{parts.suffix}"
        return registered in self._city_domains or parts.suffix == "gov"

    def _city_email(self, address: str) -> bool:
        return address.casefold() in self._city_emails or self._trusted(address.rsplit("@", 1)[1])

    def _phishing(self, host: str) -> str:
        """Why a link looks like phishing, or "" where it does not."""
        if _IPV4.fullmatch(host):
            return "goes to a bare IP address, as phishing links do"
        parts = _domains()(host)
        if not parts.suffix:
            return ""
        registered = f"{parts.domain}.{parts.suffix}"
        labels = [label for label in f"{parts.subdomain}.{parts.domain}".split(".") if label]
        for name in self._city_names:
            for label in labels:
                plain = label.replace("-", "").translate(_UNLEET)
                if name in plain or _ratio()(plain, name) >= _LOOKALIKE_RATIO:
                    return f"looks like the City's site but goes to {registered}"
        if "gov" in re.split(r"[.-]", f"{parts.subdomain}.{parts.domain}"):
            return f"dresses up as a government site but goes to {registered}"
        return ""


def _spans(pattern: re.Pattern[str], text: str) -> list[Match]:
    return [Match(m.start(), m.end()) for m in pattern.finditer(text)]


# --- Repeated text -----------------------------------------------------------------------

REPEAT_MIN_CHARS = 20  # "Thank you!" said twice is not spam
NEAR_RATIO = 90.0  # rapidfuzz's ratio (0-100) from which two comments are near-identical
FLOOD_AUTHORS = 3  # authors posting near-identical comments that point somewhere: a flood
_NEAR_CHARS = 300  # compared from the start of a comment: floods are short
_NEAR_WINDOW = 20_000  # a site's most recent comments kept for comparing (floods are bursts)
_PER_AUTHOR = 20  # an author's most recent comments compared for a duplicate post
_FLOOD_CANDIDATES = 500  # most recent comments sharing an opening or an ending, for a flood
_EDGE_WORDS = 3
_NOT_WORD = re.compile(r"[^\w]+")


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


# ASCII that is no word character (`\w`), each a space: `_NOT_WORD` on ASCII text (the
# common case) by one translation, in some 60 % of the regex's time.
_ASCII_NOT_WORD = str.maketrans(
    {c: " " for c in map(chr, range(128)) if not c.isalnum()} | {"_": "_"}
)


def _near_form(text: str) -> str:
    """The words of a comment, normalised, without punctuation or emoji."""
    head = text[: _NEAR_CHARS * 2]
    if head.isascii():
        return " ".join(head.lower().translate(_ASCII_NOT_WORD).split())[:_NEAR_CHARS]
    return " ".join(_NOT_WORD.sub(" ", fold(head)).split())[:_NEAR_CHARS]


def _edges(near: str) -> tuple[str, str]:
    """Near-identical comments share their opening or their ending words: the buckets
    that keep a comparison to the few comments that can match."""
    words = near.split()
    return "^" + " ".join(words[:_EDGE_WORDS]), "$" + " ".join(words[-_EDGE_WORDS:])


class RepeatDetector:
    """Finds comments repeating another's text: the duplicate posts and flooding of SPM.

    A resident asking what another asked is a resident; the same author posting nearly the
    same words again is a duplicate post, and several authors posting nearly the same words
    that point somewhere (a link, a number, "dm me") is a flood. Exact repeats are kept as a
    16-byte digest per comment; near ones for a site's 20,000 most recent comments, so
    memory and the work per comment stay bounded however long the sync. Not thread-safe:
    feed it from one worker.
    """

    def __init__(self) -> None:
        self._fingerprint_of: dict[str, bytes] = {}
        self._keys_with: dict[bytes, dict[str, None]] = {}  # insertion-ordered set of keys
        self._near: dict[str, tuple[str, str | None]] = {}  # key -> (near form, author)
        self._by_author: dict[str, dict[str, None]] = {}
        self._by_edge: dict[str, dict[str, None]] = {}

    def add(
        self, key: str, text: str, author: str | None = None, *, near: str | None = None
    ) -> None:
        """Remember comment `key`'s text; adding a key again replaces its old text. `near`:
        the text's `_near_form`, where the caller has it already."""
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
        self._forget(key)
        near = _near_form(text) if near is None else near
        if len(near) < REPEAT_MIN_CHARS:
            return
        self._near[key] = (near, author)
        for edge in _edges(near):
            self._by_edge.setdefault(edge, {})[key] = None
        if author is not None:
            mine = self._by_author.setdefault(author, {})
            mine[key] = None
            if len(mine) > _PER_AUTHOR:
                del mine[next(iter(mine))]
        if len(self._near) > _NEAR_WINDOW:
            self._forget(next(iter(self._near)))

    def _forget(self, key: str) -> None:
        old = self._near.pop(key, None)
        if old is None:
            return
        near, author = old
        for edge in _edges(near):
            bucket = self._by_edge[edge]
            del bucket[key]
            if not bucket:
                del self._by_edge[edge]
        if author is not None and key in self._by_author.get(author, {}):
            del self._by_author[author][key]
            if not self._by_author[author]:
                del self._by_author[author]

    def repeats_of(self, key: str, text: str) -> list[str]:
        """The other comments with the same text, in the order they were added."""
        fingerprint = _fingerprint(text)
        if fingerprint is None:
            return []
        return [other for other in self._keys_with.get(fingerprint, {}) if other != key]

    def near_repeats(
        self, key: str, text: str, *, near: str | None = None
    ) -> list[tuple[str, str | None]]:
        """Recent other comments with nearly the same words, and their authors."""
        near = _near_form(text) if near is None else near
        if len(near) < REPEAT_MIN_CHARS:
            return []
        candidates: dict[str, None] = {}
        for edge in _edges(near):
            bucket = self._by_edge.get(edge, {})
            candidates.update(dict.fromkeys(itertools.islice(reversed(bucket), _FLOOD_CANDIDATES)))
        candidates.pop(key, None)
        return [(other, self._near[other][1]) for other in candidates if self._near_to(near, other)]

    def _near_to(self, near: str, other: str) -> bool:
        return _ratio()(near, self._near[other][0], score_cutoff=NEAR_RATIO) > 0

    def suggest(
        self,
        key: str,
        text: str,
        author: str | None,
        *,
        promotes: bool = False,
        near: str | None = None,
    ) -> Suggestion | None:
        """SPM where `text` repeats its author's earlier comment, or joins a flood (see the
        class); `promotes` says whether it points somewhere (a link or contact)."""
        near = _near_form(text) if near is None else near
        if len(near) < REPEAT_MIN_CHARS:
            return None
        whole = (Match(0, len(text)),)
        if author is not None:
            earlier = self._by_author.get(author, {})
            mine = [other for other in earlier if other != key and self._near_to(near, other)]
            if mine:
                why = (
                    f"Nearly the same text as {len(mine)} earlier comment(s) by the same "
                    "author: a duplicate post."
                )
                return Suggestion("SPM", why, whole)
        if not promotes:  # residents saying the same thing are residents
            return None
        near_ones = [
            (other, by)
            for other, by in self.near_repeats(key, text, near=near)
            if by != author or by is None
        ]
        others = {by if by is not None else other for other, by in near_ones}
        if len(others) + 1 >= FLOOD_AUTHORS:
            why = (
                f"Nearly the same text as {len(near_ones)} comment(s) by {len(others)} other "
                "authors, each pointing somewhere (a link or contact): a flood."
            )
            return Suggestion("SPM", why, whole)
        return None


def screen_thread(
    screener: Screener, detector: RepeatDetector, key: str, text: str, author: str | None
) -> list[Suggestion]:
    """Every suggestion for one comment of a thread read in order, repeats included; then
    `detector` remembers it. What sync does for each comment it stores."""
    suggestions, promotes = screener._screen(text)
    near = _near_form(text)  # once for both
    repeat = detector.suggest(key, text, author, promotes=promotes, near=near)
    detector.add(key, text, author, near=near)
    if repeat is not None and not any(s.code == "SPM" for s in suggestions):
        suggestions.append(repeat)
    return suggestions
