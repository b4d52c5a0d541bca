"""The shared payload readers: what makes an item unkeepable, and how a skip is recorded."""

from __future__ import annotations

import json
import logging

import pytest

from hsm_console.connectors.payload import (
    SkippedItem,
    identified,
    skip,
    skips_collected,
    valid_unicode,
)

log = logging.getLogger("tests.payload")


def test_valid_unicode_finds_lone_surrogates_anywhere() -> None:
    assert valid_unicode({"a": ["café", 1, None, {"b": "😀 \u200f"}]})
    # An unpaired JSON escape, and invalid bytes decoded with surrogateescape.
    escaped = json.loads('{"text": "bad \\ud800 half"}')
    undecodable = json.loads(b'{"text": "caf\xe9"}'.decode("utf-8", "surrogateescape"))
    assert not valid_unicode(escaped)
    assert not valid_unicode(undecodable)
    assert not valid_unicode({"nested": [{"\udcff key": "x"}]})


@pytest.mark.expected_log("Skipped")
def test_identified_skips_items_without_id_or_with_invalid_text() -> None:
    with skips_collected() as skipped:
        assert identified({"id": 7, "text": "ok"}, "a thing", log=log) == (
            {"id": 7, "text": "ok"},
            "7",
        )
        assert identified({"id": "", "text": "x"}, "a thing", log=log) is None
        assert identified(["not", "an", "object"], "a thing", log=log) is None
        assert identified({"id": "9", "text": "caf\udce9"}, "a thing", log=log) is None
        assert identified({"id": "\udce9", "text": "x"}, "a thing", log=log) is None
    assert [str(s) for s in skipped] == [
        "a thing came without an id",
        "a thing came without an id",
        "a thing (9) came with text that is not valid UTF-8",
        # An id that is itself not text is left out of the words.
        "a thing came with text that is not valid UTF-8",
    ]
    assert all(valid_unicode(str(s)) for s in skipped)  # safe to store


@pytest.mark.expected_log("Skipped")
def test_skips_are_collected_only_inside_the_block(caplog: pytest.LogCaptureFixture) -> None:
    skip({"id": 1}, "an item outside", "without text", log=log)  # logged, collected by no one
    with skips_collected() as outer:
        skip({"id": 2}, "an outer item", "without text", log=log)
        with skips_collected() as inner:
            skip({"id": 3}, "an inner item", "without an author", log=log)
    assert outer == [SkippedItem("an outer item", "without text")]
    assert inner == [SkippedItem("an inner item", "without an author")]
    assert "Skipped an item outside without text" in caplog.text
