"""Screening measured on the project's hand-labelled set: the targets of issue 13 hold."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hsm_console.cli import screening
from hsm_console.cli.main import build_parser, main
from hsm_console.errors import UserError
from hsm_console.rules.screening import SCREENING_CODES
from hsm_console.services.screening_report import (
    CRITICISM,
    default_set,
    evaluate,
    load_set,
)
from tests.cli_process import hsm

ROOT = Path(__file__).resolve().parents[1]


def test_the_set_is_varied_and_about_half_deserves_nothing() -> None:
    comments = load_set(default_set())
    assert len(comments) >= 300
    nothing = sum(not c.codes for c in comments)
    assert 0.45 <= nothing / len(comments) <= 0.6
    categories = Counter(c.category for c in comments)
    for trap in (CRITICISM, "idiom", "mild words", "city contact", "scunthorpe", "numbers",
                 "near-duplicate question", "link", "spanish", "polish", "obfuscated"):  # fmt: skip
        assert categories[trap] >= 6, trap
    labelled = Counter(code for c in comments for code in c.codes)
    for code in SCREENING_CODES:
        assert labelled[code] >= 10, code
    assert all(not c.codes for c in comments if c.category == CRITICISM)
    groups = Counter(c.group for c in comments if c.group)
    assert len(groups) >= 6
    assert all(n >= 2 for n in groups.values())


def test_the_project_set_meets_every_target() -> None:
    report = evaluate(default_set())
    assert report.shortfalls() == [], [vars(s) for s in report.false_alarms]
    assert report.suggestions_on_criticism == 0
    assert report.false_alarm_rate < 0.05
    figures = {f.code: f for f in report.per_code}
    assert (figures["THR"].precision or 0) >= 0.9
    assert (figures["PII"].precision or 0) >= 0.9
    assert all((figures[code].recall or 0) >= 0.7 for code in SCREENING_CODES)
    assert not figures["HAR"].covered
    assert figures["HAR"].suggested == 0


def test_the_holdout_set_never_nudges_against_lawful_speech() -> None:
    """Comments written after the word lists: the guarantees that protect speech hold there
    too (recall is only reported: a list must not be fitted to this set)."""
    report = evaluate(default_set().with_name("holdout.jsonl"))
    assert report.comments >= 80
    assert report.criticism >= 15
    assert report.suggestions_on_criticism == 0
    assert report.false_alarm_rate < 0.05
    assert (report.precision or 0) >= 0.85


def write_set(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


SMALL: list[dict[str, object]] = [
    {"id": "a", "text": "This damn road", "codes": ["PRF"], "category": "profanity"},
    {"id": "b", "text": "What a crappie haul", "codes": [], "category": "scunthorpe"},
    {"id": "c", "text": "Call me at 618-555-0142", "codes": [], "category": "numbers"},
    {"id": "d", "text": "I will kill you", "codes": ["THR", "HAR"], "category": "threat"},
    {"id": "e", "text": "The mayor is a clown", "codes": [], "category": CRITICISM},
    {"id": "f", "text": "f*ck this damn mayor", "codes": [], "category": CRITICISM},
    {"id": "g", "text": "Wire me the money", "codes": ["SPM"], "category": "spam"},
]


def test_figures_on_a_small_set(tmp_path: Path) -> None:
    report = evaluate(write_set(tmp_path / "set.jsonl", SMALL))
    figures = {f.code: (f.labelled, f.suggested, f.right) for f in report.per_code}
    assert figures == {
        "THR": (1, 1, 1), "PII": (0, 1, 0), "PRF": (1, 2, 1), "SPM": (1, 0, 0), "HAR": (1, 0, 0),
    }  # fmt: skip
    assert report.precision == 2 / 4
    assert (report.deserving_nothing, report.false_alarms_on_nothing) == (4, 2)
    assert (report.criticism, report.suggestions_on_criticism) == (2, 1)
    assert [(s.key, s.code) for s in report.false_alarms] == [("c", "PII"), ("f", "PRF")]
    assert [(s.key, s.code) for s in report.misses] == [("d", "HAR"), ("g", "SPM")]
    assert report.shortfalls() == [
        "1 of 2 comments criticising officials drew a suggestion (target: none)",
        "PII precision 0.00 < 0.9",
        "SPM recall 0.00 < 0.7",
        "overall precision 0.50 < 0.85",
        "false alarms on comments that deserve nothing 50.0% >= 5%",
    ]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ('{"id": "a", "text": "x", "codes": []}\nnot json\n', "line 2"),
        ('{"id": "a", "text": 3, "codes": []}\n', "text must be a string"),
        ('{"id": "a", "text": "x", "codes": "PRF"}\n', "codes must be a list"),
        ('{"id": "a", "text": "x"}\n', "line 1: missing 'codes'"),
        ('{"id": "a", "text": "x", "codes": [], "group": "g"}\n', "needs its author"),
        ('{"id": "a", "text": "x", "codes": []}\n{"id": "a", "text": "y", "codes": []}\n', "twice"),
        ("\n\n", "holds no comment"),
    ],
)
def test_a_bad_set_is_refused_with_its_line(tmp_path: Path, content: str, error: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=error):
        load_set(path)
    with pytest.raises(UserError, match="No evaluation set"):
        load_set(tmp_path / "missing.jsonl")


def test_report_command_needs_no_database(tmp_path: Path) -> None:
    shipped = hsm("--database", f"sqlite:///{tmp_path}/none.db", "screening", "report", "--json")
    assert shipped.returncode == 0, shipped.stderr
    figures = json.loads(shipped.stdout)
    assert figures["comments"] >= 300
    assert figures["shortfalls"] == []
    assert {row["code"] for row in figures["codes"]} >= set(SCREENING_CODES)
    assert not (tmp_path / "none.db").exists()


def test_report_command_exits_1_below_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = write_set(tmp_path / "set.jsonl", SMALL)
    assert (
        screening.run(build_parser().parse_args(["screening", "report", "--set", str(small)])) == 1
    )
    shown = capsys.readouterr().out
    assert "false alarms on the 4 comments that deserve nothing: 2 (50.0%" in shown
    assert "  f PRF [criticism of officials] f*ck this damn mayor" in shown
    assert "Below target:\n  1 of 2 comments criticising officials" in shown
    assert main(["screening", "report", "--set", str(tmp_path / "none.jsonl")]) == 1
    assert "No evaluation set at" in capsys.readouterr().err
