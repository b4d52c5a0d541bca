"""The comment policy file: complete, versioned, and refused with line and field when malformed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hsm_console.errors import ConfigurationError, PolicyViolation
from hsm_console.host.resources import resource_path
from hsm_console.rules.domain import Action
from hsm_console.rules.policy import load_policy, parse_policy

REASON_CODES_DOC = Path(__file__).resolve().parents[2] / "shared" / "reference" / "reason-codes.md"
EXPECTED_CODES = {
    "PRF", "THR", "HAR", "DSC", "SEX", "ILL", "SAF", "PII", "COM", "SPM", "OFT", "IPR", "IMP",
    "NVL", "FOI", "EMG",
}  # fmt: skip

GOOD = """
[policy]
version = "9.9"
title = "Test policy"
effective = "2026-01-01"

[[code]]
code = "PRF"
name = "Profanity"
covers = "Profane words."
actions = ["flag", "hide", "remove"]
second_review = false
note_required = false
clause = "5.1"

[[code]]
code = "OFT"
name = "Off-topic"
covers = "Unrelated."
actions = ["flag", "hide"]
second_review = true
note_required = true
clause = "5.2"
objective_test = "Mentions nothing of the post."
""" + "".join(
    f'\n[[retention]]\nclass = "{c}"\nseries = "S"\nschedule_item = "I"\n{period}\n'
    for c, period in [("comments", "years = 2"), ("action_records", "years = 5"),
                      ("requests", "years = 5"), ("action_log", "permanent = true")]
)  # fmt: skip


def test_shipped_policy_has_every_code_of_the_city_list() -> None:
    policy = load_policy()
    assert set(policy.codes) == EXPECTED_CODES
    assert policy.version == "2026.2"
    if REASON_CODES_DOC.exists():  # the shared reference beside the repository
        documented = set(re.findall(r"^\| ([A-Z]{3}) \|", REASON_CODES_DOC.read_text(), re.M))
        assert documented == EXPECTED_CODES


def test_shipped_policy_rules() -> None:
    policy = load_policy()
    assert Action.REMOVE not in policy.code("OFT").actions  # flag or hide only
    assert {c for c in policy.codes.values() if c.second_review} == {
        policy.code("HAR"),
        policy.code("DSC"),
        policy.code("OFT"),
    }
    assert policy.codes_for(Action.KEEP)[0].code == "NVL"
    assert all(Action.HIDE not in policy.code(c).actions for c in ("NVL", "FOI", "EMG"))


def test_check_requires_a_code_for_flag_hide_remove() -> None:
    policy = parse_policy(GOOD)
    for action in (Action.FLAG, Action.HIDE, Action.REMOVE):
        with pytest.raises(PolicyViolation, match=r"reason code .* is required"):
            policy.check(action, None, "")
    assert policy.check(Action.UNHIDE, None, "") is None


def test_check_refuses_unknown_and_unpermitted_codes() -> None:
    policy = parse_policy(GOOD)
    with pytest.raises(PolicyViolation, match=r"'XYZ' is not a reason code of policy 9\.9"):
        policy.check(Action.HIDE, "XYZ", "")
    with pytest.raises(
        PolicyViolation, match=r"OFT .* does not permit remove; it permits: flag, hide"
    ):
        policy.check(Action.REMOVE, "OFT", "a note")
    with pytest.raises(PolicyViolation, match="requires a note"):
        policy.check(Action.HIDE, "OFT", "  ")
    code = policy.check(Action.HIDE, "oft", "unrelated advert")
    assert code is not None
    assert code.code == "OFT"


def test_keep_defaults_to_no_violation() -> None:
    code = load_policy().check(Action.KEEP, None, "")
    assert code is not None
    assert code.code == "NVL"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('actions = ["flag", "hide"]', 'actions = ["flag", "delete"]', "actions"),
        ("second_review = true", 'second_review = "yes"', "second_review"),
        ('code = "OFT"', 'code = "off"', "code"),
        ('name = "Profanity"', 'name = ""', "name"),
        ('code = "OFT"', 'code = "PRF"', "code"),
        ('clause = "5.2"', 'clause = "5.2"\ncolour = "red"', "colour"),
        ('version = "9.9"', "version = 9.9", "version"),
    ],
)
def test_malformed_policy_names_line_and_field(old: str, new: str, field: str) -> None:
    broken = GOOD.replace(old, new)
    lines = broken.splitlines()
    # The line the error must name: where the broken text stands (its last occurrence).
    line = max(i for i, text in enumerate(lines, start=1) if text == new.splitlines()[-1])
    with pytest.raises(ConfigurationError) as caught:
        parse_policy(broken, source="policy.toml")
    assert f"policy.toml, line {line}, field {field!r}" in str(caught.value)


def test_policy_that_is_not_toml_names_the_line() -> None:
    with pytest.raises(ConfigurationError, match=r"not valid TOML: .*line 5"):
        parse_policy(GOOD.replace('effective = "2026-01-01"', "effective = "))


def test_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Cannot read the policy file"):
        load_policy(tmp_path / "absent.toml")


def test_policy_file_is_shipped_as_a_resource() -> None:
    assert resource_path("policy", "highland-comment-policy.toml").is_file()
