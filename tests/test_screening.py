"""Automatic screening: what it suggests, what it must never suggest, and hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsm_console.host.resources import resource_path
from hsm_console.rules.screening import (
    Match,
    RepeatDetector,
    Screener,
    ScreeningRules,
    Suggestion,
    read_word_list,
)


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


def codes(suggestions: list[Suggestion]) -> list[str]:
    return [s.code for s in suggestions]


def matched(text: str, suggestion: Suggestion) -> list[str]:
    return [text[m.start : m.end] for m in suggestion.matches]


def only(screener: Screener, text: str, code: str) -> Suggestion:
    """The one suggestion of `text`, which must have `code`."""
    suggestions = screener.screen(text)
    assert codes(suggestions) == [code], suggestions
    return suggestions[0]


# --- Profanity (PRF) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("This is damn ridiculous", "damn"),
        ("SHIT, the road is closed again", "SHIT"),
        ("what the fuck", "fuck"),
        ("Fucking potholes everywhere", "Fucking"),
        ("that's bullshit.", "bullshit"),
        ("d*mn it", "d*mn"),
        ("sh!t happens", "sh!t"),
        ("shiiiiit", "shiiiiit"),
        ("fuuuuuck this", "fuuuuuck"),
        ("daaaamn!", "daaaamn"),
        ("shiiit", "shiiit"),
        ("a$$$$", "a$$$$"),
        ("f**k that", "f**k"),
        ("what an a**hole", "a**hole"),
        ("kiss my a$$", "a$$"),
        ("@ss", "@ss"),
        ("$hit", "$hit"),
        ("sh1t", "sh1t"),
        ("b1tch", "b1tch"),
        ("(sh!t)", "sh!t"),
    ],
)
def test_profanity_matches_whole_words_and_simple_disguises(
    screener: Screener, text: str, word: str
) -> None:
    suggestion = only(screener, text, "PRF")
    assert matched(text, suggestion) == [word]
    assert suggestion.why == f'Profanity: "{word}"'


@pytest.mark.parametrize(
    "text",
    [
        "Senator Dick Durbin spoke at the ribbon cutting",  # names stay off the list
        "Great crappie fishing at Silver Lake this weekend",
        "Please assess the class sizes at the middle school",
        "Scunthorpe is twinned with nowhere",  # a listed word inside another word
        "as far as I know",  # "ass" needs both s's
        "Please assess the damage",  # "asses" with one letter doubled is another word
        "shiit",  # likewise: a stretched letter has at least two extra copies
        "455 people signed the petition",  # look-alike digits alone are no word
        "**** and f*** are already censored",  # "*" never stands for a first or last letter
        "Hello from the Highland Helvetia Days",
    ],
)
def test_profanity_ignores_words_that_only_look_alike(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


def test_every_profane_word_in_a_comment_is_highlighted(screener: Screener) -> None:
    text = "damn, damn and sh!t, f**k, a$$, bullshit"
    suggestion = only(screener, text, "PRF")
    assert matched(text, suggestion) == ["damn", "damn", "sh!t", "f**k", "a$$", "bullshit"]
    # repeated words are named once; the reason stays short
    assert suggestion.why == 'Profanity: "damn", "sh!t", "f**k" and 2 more'


# --- Personal information (PII) ----------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "618-555-0142",
        "(618) 555-0142",
        "(618)555-0142",
        "618.555.0142",
        "618 555 0142",
        "6185550142",
        "+1 618 555 0142",
        "+1 (618) 555-0142",
        "1-618-555-0142",
        "+16185550142",
        "555-0142",
    ],
)
def test_phone_numbers_in_many_formats(screener: Screener, phone: str) -> None:
    text = f"Call me at {phone}."
    suggestion = only(screener, text, "PII")
    assert matched(text, suggestion) == [phone]
    assert suggestion.why == f"Looks like a phone number: {phone}"


@pytest.mark.parametrize("ssn", ["123-45-6789", "000-12-3456", "666-12-3456", "987 65 4321"])
def test_social_security_numbers_even_never_issued_ones(screener: Screener, ssn: str) -> None:
    text = f"his SSN is {ssn}!"
    suggestion = only(screener, text, "PII")
    assert matched(text, suggestion) == [ssn]
    assert suggestion.why == f"Looks like a Social Security number: {ssn}"


@pytest.mark.parametrize("email", ["jo.smith@example.com", "a+b_c@mail.example.co.uk"])
def test_email_addresses(screener: Screener, email: str) -> None:
    text = f"Write to {email}."
    suggestion = only(screener, text, "PII")  # an e-mail's domain is not also a link
    assert matched(text, suggestion) == [email]
    assert suggestion.why == f"Looks like an e-mail address: {email}"


@pytest.mark.parametrize(
    "address",
    [
        "123 N Main St",
        "123 N. Main St.",
        "4410 Oak Avenue Apt 2",
        "12 Old Trolley Rd",
        "900 5th Street, Unit 4B",
        "7 Walnut Ln #3",
    ],
)
def test_street_addresses(screener: Screener, address: str) -> None:
    text = f"She lives at {address} with her kids"
    suggestion = only(screener, text, "PII")
    assert matched(text, suggestion) == [address]
    assert suggestion.why == f"Looks like a street address: {address}"


def test_several_kinds_of_personal_data_make_one_suggestion(screener: Screener) -> None:
    text = "Jo Doe, 123 N Main St, 618-555-0142 or 618-555-0199, jo@example.com"
    suggestion = only(screener, text, "PII")
    assert matched(text, suggestion) == [
        "123 N Main St",
        "618-555-0142",
        "618-555-0199",
        "jo@example.com",
    ]
    assert suggestion.why == (
        "Looks like phone numbers: 618-555-0142, 618-555-0199; "
        "an e-mail address: jo@example.com; a street address: 123 N Main St"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Main Street reopening is great news for downtown",
        "The 2026 budget hearing is on Tuesday",
        "Between 2025 and 2026 taxes rose 3.5%",
        "We spent 2 hours on the road because of the detour",
        "Zip code 62249 and 62249-1234",
        "Population 10,000; budget $1,234,567,890",
        "Call 911 in an emergency",
        "The 2025-2026 school year",
        "Order number 12345678901234",
    ],
)
def test_ordinary_numbers_are_not_personal_data(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


# --- Links (SPM) and commercial content (COM) ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("more at https://example.com/a?b=1.", "https://example.com/a?b=1"),
        ("see http://example.org", "http://example.org"),
        ("go to www.example.net/page, now", "www.example.net/page"),
        ("visit example.com.", "example.com"),
        ("read highland-news.net/story?id=3", "highland-news.net/story?id=3"),
        ("short link bit.ly/3xYz", "bit.ly/3xYz"),
        (
            "(see https://en.wikipedia.org/wiki/Foo_(bar))",
            "https://en.wikipedia.org/wiki/Foo_(bar)",
        ),
        ('<a href="http://spam.example.com/x">win</a>', "http://spam.example.com/x"),
    ],
)
def test_links_suggest_spam(screener: Screener, text: str, link: str) -> None:
    suggestion = only(screener, text, "SPM")
    assert matched(text, suggestion) == [link]
    assert suggestion.why == f"Contains a link: {link}"


@pytest.mark.parametrize(
    "text",
    [
        "Tickets cost 3.50 at the pool",
        "Bring e.g. sunscreen, water, a hat",
        "Attach the file.txt to the form",
        "The park is closed.In the meantime use the other entrance",
        "Thanks Mr.Smith for the update",
        "awww.so cute",
    ],
)
def test_text_that_only_resembles_a_link(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("Buy now at www.cheap-pills.xyz", ["Buy now"]),
        ("50% DISCOUNT with promo code SAVE50: example.com", ["DISCOUNT", "promo code"]),
        ("DM me for prices or see shop.example.com", ["DM me for prices"]),
        ("Roof repair discount, call 618-555-0142", ["discount"]),
        ("Discount  roofing, write roofer@example.com", ["Discount"]),
    ],
)
def test_commercial_words_with_a_way_to_reach_the_seller(
    screener: Screener, text: str, phrases: list[str]
) -> None:
    suggestions = screener.screen(text)
    commercial = next(s for s in suggestions if s.code == "COM")
    assert matched(text, commercial) == phrases
    assert commercial.why.startswith("Commercial wording with a link or contact: ")


def test_a_commercial_link_suggests_commercial_before_spam(screener: Screener) -> None:
    assert codes(screener.screen("Buy now at www.example.com")) == ["COM", "SPM"]


def test_commercial_words_alone_are_a_residents_question(screener: Screener) -> None:
    assert screener.screen("Is there a senior discount at the aquatic center? Buy now?") == []


def test_several_links_are_named_in_one_suggestion(screener: Screener) -> None:
    text = "a.example.com b.example.com c.example.com d.example.com"
    suggestion = only(screener, text, "SPM")
    assert len(suggestion.matches) == 4
    assert suggestion.why == (
        "Contains links: a.example.com, b.example.com, c.example.com and 1 more"
    )


# --- Threats (THR) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("I will kill whoever did this", "I will kill"),
        ("I’ll kill him", "I’ll kill"),  # typographic apostrophe
        ("I'm going to shoot up the place", "going to shoot"),
        ("Someone should burn it down", "burn it down"),
        ("you'll regret this", "you'll regret"),
        ("Watch   your\nback", "Watch   your\nback"),  # any spacing between words
        ("there is a bomb in the lobby", "bomb"),
        ("a PIPE BOMB", "PIPE BOMB"),  # the longer phrase wins
        ("I know where you live", "I know where you live"),
    ],
)
def test_threat_phrases(screener: Screener, text: str, phrase: str) -> None:
    suggestion = only(screener, text, "THR")
    assert matched(text, suggestion) == [phrase]
    assert suggestion.why == f'Threatening phrase: "{" ".join(phrase.split())}"'


def test_threat_phrases_are_whole_words(screener: Screener) -> None:
    assert screener.screen("That photobomb at the parade was funny") == []
    assert screener.screen("Bombshell news from the council meeting") == []


# --- Criticism and ordinary civic comments: never a suggestion ---------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The mayor is corrupt and incompetent.",
        "Worst city council ever.",
        "I'll vote you out.",
        "I'll vote you ALL out in April, every last one of you",
        "Recall the mayor! This council is a disgrace and a bunch of crooks.",
        "Shame on the police chief. Resign now.",
        "This budget will kill downtown businesses.",
        "You people are clueless and the water rates are highway robbery.",
        "The city manager lied to us about the pool. Liars!",
        "Stop wasting our money on the Main Street project",
        "You'll see us at the polls.",
        "When will the leaf pickup start on my street?",
        "Thank you to the Parks crew for the beautiful flowers!",
        "The 4th of July fireworks were the best in years",
        "Is the Korte Recreation Center open on Monday?",
    ],
)
def test_criticism_and_civic_comments_get_no_suggestion(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


def test_empty_text(screener: Screener) -> None:
    assert screener.screen("") == []


# --- Several rules at once ---------------------------------------------------------------


def test_suggestions_come_most_harmful_first(screener: Screener) -> None:
    text = "buy now at www.example.com, d*mn, call 618-555-0142 or I will kill you"
    assert codes(screener.screen(text)) == ["THR", "PII", "PRF", "COM", "SPM"]


def test_offsets_count_python_characters_through_emoji_and_bidi_overrides(
    screener: Screener,
) -> None:
    text = "😀👍🏽\u202e call 618-555-0142 \u2067🇺🇸 d*mn\u200f https://example.com 👨‍👩‍👧"
    found = {s.code: matched(text, s) for s in screener.screen(text)}
    assert found == {
        "PII": ["618-555-0142"],
        "PRF": ["d*mn"],
        "SPM": ["https://example.com"],
    }


def test_reasons_are_plain_and_short_whatever_the_text(screener: Screener) -> None:
    text = "get it at https://example.com/\u202egpj.exe" + "x" * 500
    (suggestion,) = screener.screen(text)
    assert "\u202e" not in suggestion.why  # a bidi override must not garble the label
    assert suggestion.why == "Contains a link: https://example.com/gpj.exe" + "x" * 12 + "…"
    assert suggestion.matches == (Match(10, len(text)),)


def test_rules_come_from_the_word_lists() -> None:
    screener = Screener(
        ScreeningRules(
            profanity=("heck",), threat_phrases=("dance off",), commercial_phrases=("yard sale",)
        )
    )
    text = "h*ck, a dance  off! Yard sale at example.com"
    assert [(s.code, matched(text, s)) for s in screener.screen(text)] == [
        ("THR", ["dance  off"]),
        ("PRF", ["h*ck"]),
        ("COM", ["Yard sale"]),
        ("SPM", ["example.com"]),
    ]
    assert codes(screener.screen("damn, I will kill, buy now at example.com")) == ["SPM"]


def test_empty_word_lists_leave_the_pattern_rules() -> None:
    screener = Screener(ScreeningRules((), (), ()))
    assert codes(screener.screen("damn, bomb, buy now at example.com, 618-555-0142")) == [
        "PII",
        "SPM",
    ]


def test_a_profanity_entry_must_be_one_plain_word() -> None:
    with pytest.raises(ValueError, match="letters a-z only"):
        Screener(ScreeningRules(profanity=("two words",), threat_phrases=(), commercial_phrases=()))


# --- Word list files ---------------------------------------------------------------------


def test_read_word_list(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(
        "# header\n\nDamn\n  Buy   Now  # trailing comment\ndamn\n   \n# bomb\n", encoding="utf-8"
    )
    assert read_word_list(path) == ("damn", "buy now")


@pytest.mark.parametrize("name", ["profanity.txt", "threat-phrases.txt", "commercial-phrases.txt"])
def test_shipped_word_lists_are_maintained_by_the_oversight_group(name: str) -> None:
    path = resource_path("screening", name)
    assert "oversight group" in path.read_text(encoding="utf-8").split("\n\n")[0]
    assert len(read_word_list(path)) >= 10


def test_default_screener_uses_the_shipped_lists() -> None:
    rules = ScreeningRules.load()
    assert "damn" in rules.profanity
    assert "watch your back" in rules.threat_phrases
    assert "promo code" in rules.commercial_phrases
    Screener(rules)  # every shipped entry compiles


# --- Hostile input -----------------------------------------------------------------------


def test_a_megabyte_of_text(screener: Screener) -> None:
    chunk = "The mayor is wrong about the levy, d*mn it. Call 618-555-0142. "
    repeats = 1_000_000 // len(chunk) + 1
    text = (chunk * repeats)[:1_000_000]
    found = {s.code: len(s.matches) for s in screener.screen(text)}
    assert found == {"PII": text.count("618-555-0142"), "PRF": text.count("d*mn")}


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000 + "!",
        "@" * 100_000 + "!",
        "!" * 100_000,
        "*" * 100_000,
        "1" * 100_000,
        "a." * 100_000 + "@",
        "1 A " * 50_000,
        "i" + " " * 100_000 + "x",
        "1-" * 100_000,
        "x" * 100_000 + "@example.com",
    ],
)
def test_pathological_strings(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


def test_a_link_a_megabyte_long(screener: Screener) -> None:
    text = "http://example.com/" + ")" * 1_000_000
    (suggestion,) = screener.screen(text)
    assert matched(text, suggestion) == ["http://example.com/"]


def test_markup_and_control_characters(screener: Screener) -> None:
    markup = "<script>alert('x')</script><b onclick=\"x()\">hi</b><!-- -->&lt;&#x202e;"
    assert screener.screen(markup) == []
    controls = "".join(map(chr, range(32))) + "\x7f\ud800 d*mn \u202e\u2066 \ufeff"
    suggestion = only(screener, controls, "PRF")
    assert matched(controls, suggestion) == ["d*mn"]


# --- Repeated text (SPM) -----------------------------------------------------------------


def test_repeats_ignore_spacing_case_and_invisible_characters() -> None:
    detector = RepeatDetector()
    detector.add("c1", "Visit my page for FREE money")
    detector.add("c2", "  visit my\npage   for free MONEY\u200b ")
    detector.add("c3", "ｖｉｓｉｔ ｍｙ ｐａｇｅ ｆｏｒ ｆｒｅｅ ｍｏｎｅｙ")  # full-width letters
    assert detector.repeats_of("c4", "visit my page for free money") == ["c1", "c2", "c3"]
    assert detector.repeats_of("c2", "Visit my page for FREE money") == ["c1", "c3"]


@pytest.mark.parametrize(
    "text",
    [
        "Vote no on the levy",
        "Vote yes on the levy!",
        "Vote yes on the levy again",
        "Voteyes on the levy",
    ],
)
def test_near_different_texts_are_not_repeats(text: str) -> None:
    detector = RepeatDetector()
    detector.add("c1", "Vote yes on the levy")
    assert detector.repeats_of("c2", text) == []


def test_a_comment_is_not_its_own_repeat() -> None:
    detector = RepeatDetector()
    detector.add("c1", "same text")
    assert detector.repeats_of("c1", "same text") == []


def test_adding_a_key_again_replaces_its_text() -> None:
    detector = RepeatDetector()
    detector.add("c1", "first version")
    detector.add("c1", "edited version")
    assert detector.repeats_of("c2", "first version") == []
    assert detector.repeats_of("c2", "edited version") == ["c1"]
    detector.add("c1", "")
    assert detector.repeats_of("c2", "edited version") == []


def test_comments_without_text_are_never_repeats() -> None:
    detector = RepeatDetector()
    detector.add("c1", "")
    detector.add("c2", " \n\u200b ")
    assert detector.repeats_of("c3", "") == []
    assert detector.repeats_of("c3", "  ") == []


def test_repeats_of_hostile_text() -> None:
    detector = RepeatDetector()
    big = "spam " * 200_000 + "\ud800\u202e"
    detector.add("c1", big)
    assert detector.repeats_of("c2", big.upper()) == ["c1"]
