"""How often screening is right: its suggestions measured against a hand-labelled set.

The set (tests/screening_set/comments.jsonl in the source tree; `hsm-console screening
report --set FILE` reads another) holds one comment per line: its text, the codes a careful
colleague gives it under the City's policy (none for most), a category such as "criticism of
officials" or "idiom", and a note. Comments that share a `group` stand for one post's thread
in the order residents wrote it, each with its `author`, so that repeated text is judged the
way sync judges it. Qt-free: the command and the test suite share one reading.

The figures (docs/design.md, "Screening"): per code, precision (of the suggestions of that
code, how many the label has) and recall (of the comments labelled with it, how many got the
suggestion); overall precision over every suggestion; the false-alarm rate on comments that
deserve nothing, and on criticism of officials, which must never draw a suggestion.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hsm_console.errors import UserError
from hsm_console.rules.screening import (
    SCREENING_CODES,
    RepeatDetector,
    Screener,
    Suggestion,
    screen_thread,
)

CRITICISM = "criticism of officials"

# The targets of issue 13: a suggestion must be right when it speaks and never fall on lawful
# criticism; screening must find most of what it claims to cover.
MIN_PRECISION = {"THR": 0.9, "PII": 0.9}
MIN_PRECISION_OVERALL = 0.85
MIN_RECALL = 0.7
MAX_FALSE_ALARM_RATE = 0.05


@dataclass(frozen=True)
class LabelledComment:
    key: str
    text: str
    codes: frozenset[str]
    category: str
    note: str
    group: str | None = None
    author: str | None = None
    order: int = 0


@dataclass(frozen=True)
class Outcome:
    comment: LabelledComment
    suggestions: tuple[Suggestion, ...]

    @property
    def suggested(self) -> frozenset[str]:
        return frozenset(s.code for s in self.suggestions)


@dataclass(frozen=True)
class CodeFigures:
    code: str
    covered: bool  # screening can suggest this code at all
    labelled: int
    suggested: int
    right: int

    @property
    def precision(self) -> float | None:
        return self.right / self.suggested if self.suggested else None

    @property
    def recall(self) -> float | None:
        return self.right / self.labelled if self.labelled else None


@dataclass(frozen=True)
class Slip:
    """A miss (a labelled code not suggested) or a false alarm (a code suggested wrongly)."""

    key: str
    code: str
    category: str
    text: str
    why: str  # the suggestion's reason for a false alarm, the label's note for a miss


@dataclass
class ScreeningReport:
    comments: int
    deserving_nothing: int
    false_alarms_on_nothing: int
    criticism: int
    suggestions_on_criticism: int
    per_code: list[CodeFigures]
    misses: list[Slip] = field(default_factory=list)
    false_alarms: list[Slip] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        suggested = sum(f.suggested for f in self.per_code)
        return sum(f.right for f in self.per_code) / suggested if suggested else None

    @property
    def false_alarm_rate(self) -> float:
        return (
            self.false_alarms_on_nothing / self.deserving_nothing if self.deserving_nothing else 0.0
        )

    @property
    def criticism_rate(self) -> float:
        return self.suggestions_on_criticism / self.criticism if self.criticism else 0.0

    def shortfalls(self) -> list[str]:
        """Each target the figures miss, in plain words; empty when all are met."""
        found = []
        if self.suggestions_on_criticism:
            found.append(
                f"{self.suggestions_on_criticism} of {self.criticism} comments criticising "
                "officials drew a suggestion (target: none)"
            )
        for figures in self.per_code:
            least = MIN_PRECISION.get(figures.code)
            if least is not None and figures.precision is not None and figures.precision < least:
                found.append(f"{figures.code} precision {figures.precision:.2f} < {least}")
            if figures.covered and figures.recall is not None and figures.recall < MIN_RECALL:
                found.append(f"{figures.code} recall {figures.recall:.2f} < {MIN_RECALL}")
        overall = self.precision
        if overall is not None and overall < MIN_PRECISION_OVERALL:
            found.append(f"overall precision {overall:.2f} < {MIN_PRECISION_OVERALL}")
        if self.false_alarm_rate >= MAX_FALSE_ALARM_RATE:
            found.append(
                f"false alarms on comments that deserve nothing {self.false_alarm_rate:.1%} "
                f">= {MAX_FALSE_ALARM_RATE:.0%}"
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "comments": self.comments,
            "precision": self.precision,
            "deserving_nothing": self.deserving_nothing,
            "false_alarm_rate": self.false_alarm_rate,
            "criticism_of_officials": self.criticism,
            "criticism_rate": self.criticism_rate,
            "codes": [
                {
                    "code": f.code,
                    "covered": f.covered,
                    "labelled": f.labelled,
                    "suggested": f.suggested,
                    "right": f.right,
                    "precision": f.precision,
                    "recall": f.recall,
                }
                for f in self.per_code
            ],
            "shortfalls": self.shortfalls(),
            "misses": [vars(slip) for slip in self.misses],
            "false_alarms": [vars(slip) for slip in self.false_alarms],
        }


def default_set() -> Path:
    """The project's set, present in a source checkout (the installed program has none)."""
    return Path(__file__).resolve().parents[2] / "tests" / "screening_set" / "comments.jsonl"


def load_set(path: Path) -> list[LabelledComment]:
    """The labelled comments of a JSON-lines file; a bad line is named, never skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"No evaluation set at {path}: give one with --set FILE.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Could not read the evaluation set {path}: {exc}") from None
    comments: list[LabelledComment] = []
    keys: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            comment = _parse(json.loads(line), number)
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise UserError(f"{path}, line {number}: {exc}") from None
        if comment.key in keys:
            raise UserError(f"{path}, line {number}: the id {comment.key!r} is used twice")
        keys.add(comment.key)
        comments.append(comment)
    if not comments:
        raise UserError(f"The evaluation set {path} holds no comment.")
    return comments


def _parse(row: Any, number: int) -> LabelledComment:
    if not isinstance(row, dict):
        raise ValueError("each line must be a JSON object")
    missing = [name for name in ("text", "codes") if name not in row]
    if missing:
        raise ValueError(f"missing {missing[0]!r}")
    text, codes = row["text"], row["codes"]
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise ValueError("codes must be a list of reason codes")
    group = row.get("group")
    if group is not None and not isinstance(row.get("author"), str):
        raise ValueError("a comment of a group needs its author")
    return LabelledComment(
        key=str(row.get("id", f"line {number}")),
        text=text,
        codes=frozenset(codes),
        category=str(row.get("category", "")),
        note=str(row.get("note", "")),
        group=None if group is None else str(group),
        author=row.get("author"),
        order=int(row.get("order", 0)),
    )


def screen_all(screener: Screener, comments: Sequence[LabelledComment]) -> list[Outcome]:
    """Screen each comment the way sync does: a group's comments in order, through one
    repeat detector, so a repeat is judged against what came before it."""
    outcomes: dict[str, Outcome] = {}
    groups: dict[str, list[LabelledComment]] = defaultdict(list)
    for comment in comments:
        if comment.group is None:
            outcomes[comment.key] = Outcome(comment, tuple(screener.screen(comment.text)))
        else:
            groups[comment.group].append(comment)
    for members in groups.values():
        detector = RepeatDetector()
        for comment in sorted(members, key=lambda c: c.order):
            found = screen_thread(screener, detector, comment.key, comment.text, comment.author)
            outcomes[comment.key] = Outcome(comment, tuple(found))
    return [outcomes[c.key] for c in comments]


def report(outcomes: Iterable[Outcome]) -> ScreeningReport:
    labelled: dict[str, int] = defaultdict(int)
    suggested: dict[str, int] = defaultdict(int)
    right: dict[str, int] = defaultdict(int)
    misses: list[Slip] = []
    false_alarms: list[Slip] = []
    comments = nothing = alarms = criticism = on_criticism = 0
    for outcome in outcomes:
        comment = outcome.comment
        comments += 1
        if not comment.codes:
            nothing += 1
            alarms += bool(outcome.suggestions)
        if comment.category == CRITICISM:
            criticism += 1
            on_criticism += bool(outcome.suggestions)
        for code in comment.codes:
            labelled[code] += 1
            if code in outcome.suggested:
                right[code] += 1
            else:
                misses.append(Slip(comment.key, code, comment.category, comment.text, comment.note))
        for code, why in {s.code: s.why for s in reversed(outcome.suggestions)}.items():
            suggested[code] += 1
            if code not in comment.codes:
                false_alarms.append(Slip(comment.key, code, comment.category, comment.text, why))
    codes = sorted(set(labelled) | set(suggested), key=lambda c: (c not in SCREENING_CODES, c))
    per_code = [
        CodeFigures(c, c in SCREENING_CODES, labelled[c], suggested[c], right[c]) for c in codes
    ]
    return ScreeningReport(
        comments, nothing, alarms, criticism, on_criticism, per_code, misses, false_alarms
    )


def evaluate(path: Path, screener: Screener | None = None) -> ScreeningReport:
    """The report of `screener` (the shipped word lists by default) on the set at `path`."""
    comments = load_set(path)
    return report(screen_all(screener or Screener.default(), comments))
