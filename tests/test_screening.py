"""Automatic screening: what it suggests, what it must never suggest, and hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hsm_console.host.resources import resource_path
from hsm_console.rules import screening
from hsm_console.rules.screening import (
    CityContacts,
    Match,
    RepeatDetector,
    Screener,
    ScreeningRules,
    Suggestion,
    read_word_list,
    screen_thread,
)

LISTS = [
    "profanity.txt", "threat-phrases.txt", "commercial-phrases.txt", "contact-phrases.txt",
    "spam-phrases.txt", "sexual-phrases.txt", "slurs.txt", "discrimination-phrases.txt",
]  # fmt: skip


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
    "text",
    [
        "more at https://example.com/a?b=1.",
        "see http://example.org",
        "go to www.example.net/page, now",
        "visit example.com.",
        "read highland-news.net/story?id=3",
        "short link bit.ly/3xYz",
        "(see https://en.wikipedia.org/wiki/Foo_(bar))",
        "The school district: https://www.highland.k12.il.us/calendar",  # "highland", no look-alike
        "details at highlandlibrary.org",
    ],
)
def test_a_link_alone_is_no_spam(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Agenda: https://www.highlandil.gov/council/agendas",
        "The snow route map is on highlandil.gov under Public Works.",
        "Lead pipe rules: https://epa.illinois.gov/topics/drinking-water.html",  # any .gov
        "Report it at reportfraud.ftc.gov",
        "Email utilities@highlandil.gov or call City Hall at (618) 654-9891.",
        "Police non-emergency: 654-2131. City Hall is at 1115 Broadway.",
    ],
)
def test_the_citys_own_contacts_and_links_are_nothing(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


@pytest.mark.parametrize(
    ("text", "link", "why"),
    [
        (
            "Sign in at http://highlandil-gov.com/login now",
            "http://highlandil-gov.com/login",
            "looks like the City's site but goes to highlandil-gov.com",
        ),
        (
            "Pay here: https://highlandil.gov.pay-now.net",
            "https://highlandil.gov.pay-now.net",
            "looks like the City's site but goes to pay-now.net",
        ),
        (
            "update at www.highland1l.gov.co.",
            "www.highland1l.gov.co",
            "looks like the City's site but goes to highland1l.gov.co",
        ),
        (
            "apply at https://stimulus-il-gov.com",
            "https://stimulus-il-gov.com",
            "dresses up as a government site but goes to stimulus-il-gov.com",
        ),
        (
            "pay at http://185.199.44.12/highland/pay",  # no phone number either
            "http://185.199.44.12/highland/pay",
            "goes to a bare IP address, as phishing links do",
        ),
    ],
)
def test_look_alike_and_bare_ip_links_suggest_spam(
    screener: Screener, text: str, link: str, why: str
) -> None:
    suggestion = only(screener, text, "SPM")
    assert matched(text, suggestion) == [link]
    assert suggestion.why == f"A link that {why}: {link}"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Click http://xn--80ak6aa92e/login to verify your account", "SPM"),
        ("BUY CHEAP PILLS http://pills-shop/buy now", "COM"),
    ],
)
def test_a_link_without_a_dot_is_a_way_to_reach_the_sender(
    screener: Screener, text: str, code: str
) -> None:
    """A link's host need not hold a dot ("http://pills-shop/"): it still carries the reader
    away, as any link does (screening once skipped every text without a dot)."""
    assert codes(screener.screen(text)) == [code]


def test_the_public_suffix_list_is_never_downloaded() -> None:
    assert screening._domains().suffix_list_urls == ()
    assert screening._domains().fallback_to_snapshot


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
        ("Snow removal $35 per visit, call 618-555-0147", ["$35", "per visit"]),
        ("Gutters cleaned, 20% off, text me", ["20% off"]),
        ("Se venden tamales, pedidos al 618-555-0135", ["Se venden"]),
        ("Sprzedam drewno, tanio, 618-555-0139", ["Sprzedam"]),
    ],
)
def test_commercial_words_with_a_way_to_reach_the_seller(
    screener: Screener, text: str, phrases: list[str]
) -> None:
    suggestions = screener.screen(text)
    # The seller's number is published to be called: no personal data, and no spam.
    assert codes(suggestions) == ["COM"]
    assert matched(text, suggestions[0]) == phrases
    assert suggestions[0].why.startswith("Sales wording with a way to reach the seller: ")


def test_a_price_in_scam_wording_is_spam_not_a_sale(screener: Screener) -> None:
    text = "Earn $500 a day, no experience needed, link in bio"
    suggestion = only(screener, text, "SPM")
    assert suggestion.why == ('Scam wording with a way to reach the sender: "no experience needed"')


def test_commercial_words_alone_are_a_residents_question(screener: Screener) -> None:
    assert screener.screen("Is there a senior discount at the aquatic center? Buy now?") == []
    # A price with a link is a resident quoting a figure, not a seller.
    text = "The mayor spent $90,000 on consultants: https://www.bnd.com/news/article1.html"
    assert screener.screen(text) == []


def test_every_reason_for_spam_is_one_suggestion(screener: Screener) -> None:
    text = "Claim your prize at highlandil-gov.com or http://10.0.0.1/x <script>"
    suggestion = only(screener, text, "SPM")
    assert matched(text, suggestion) == [
        "Claim your prize", "highlandil-gov.com", "http://10.0.0.1/x", "<script"
    ]  # fmt: skip
    assert suggestion.why == (
        'Scam wording with a way to reach the sender: "Claim your prize"; markup or a formula '
        'that would run as code: "<script"; a link that looks like the '
        "City's site but goes to highlandil-gov.com: highlandil-gov.com; a link that goes to a "
        "bare IP address, as phishing links do: http://10.0.0.1/x"
    )


# --- Threats (THR) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("I will kill whoever did this", "I will kill whoever"),
        ("I’ll kill him", "I’ll kill him"),  # typographic apostrophe
        ("I'm going to shoot up the place", "I'm going to shoot up"),
        ("Someone should burn it down", "burn it down"),
        ("Watch   your\nback", "Watch   your\nback"),  # any spacing between words
        ("there is a bomb in the lobby", "there is a bomb"),
        ("a PIPE BOMB", "PIPE BOMB"),  # the longer phrase wins
        ("I know where you live", "I know where you live"),
        ("I'm going to put a bullet in the alderman", "put a bullet in"),
        ("City Hall will go up in flames", "City Hall will go up in flames"),
        ("I'll show up with my rifle at the meeting", "show up with my rifle"),
        ("i'm going to k1ll the mayor", "i'm going to k1ll the mayor"),  # look-alike digit
        ("Te voy a matar, concejal", "Te voy a matar"),
        ("Zabiję tego radnego", "Zabiję tego"),
    ],
)
def test_threat_phrases(screener: Screener, text: str, phrase: str) -> None:
    suggestion = only(screener, text, "THR")
    assert matched(text, suggestion) == [phrase]
    assert suggestion.why == f'Threatening phrase: "{" ".join(phrase.split())}"'


@pytest.mark.parametrize(
    "text",
    [
        "You will regret this vote come election day",
        "Pension costs are a ticking time bomb",
        "My kids shoot hoops at Lindendale after school",
        "I'm going to shoot off a letter to the council",
        "The chili at Helvetia Days was the bomb!",
        "The fireworks killed it this year",
        "This budget will kill downtown businesses",
        "We're going to bomb the trivia night, we always do",
        "I'm going to shoot the fireworks from my backyard, is that legal?",
        "A bomb threat closed the high school yesterday, what happened?",
        "My husband is going to kill me for signing us up for the 5K",
        "Someone is going to get hurt on that broken slide",
        "Time to bite the bullet and pay the sewer bill",
        "We will shoot you an email with the details",  # the list's "- " exceptions
        "Someone needs to shoot the council meeting on video",
        "I want to kill the mayor's proposal",  # a slot is never a possessive
    ],
)
def test_a_violent_word_without_intent_and_target_is_no_threat(
    screener: Screener, text: str
) -> None:
    assert screener.screen(text) == []


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
    text = (
        "buy now at www.example.com, d*mn, hot singles, wetbacks, she lives at 12 Oak St, "
        "highlandil-gov.com, or I will kill you"
    )
    assert codes(screener.screen(text)) == ["THR", "PII", "DSC", "SEX", "PRF", "COM", "SPM"]
    assert tuple(codes(screener.screen(text))) == screening.SCREENING_CODES


def test_offsets_count_python_characters_through_emoji_and_bidi_overrides(
    screener: Screener,
) -> None:
    text = "😀👍🏽\u202e call 618-555-0142 \u2067🇺🇸 d*mn\u200f https://1.2.3.4 👨‍👩‍👧"
    found = {s.code: matched(text, s) for s in screener.screen(text)}
    assert found == {
        "PII": ["618-555-0142"],
        "PRF": ["d*mn"],
        "SPM": ["https://1.2.3.4"],
    }


def test_reasons_are_plain_and_short_whatever_the_text(screener: Screener) -> None:
    text = "get it at https://highlandil-gov.com/\u202egpj.exe" + "x" * 500
    (suggestion,) = screener.screen(text)
    assert "\u202e" not in suggestion.why  # a bidi override must not garble the label
    assert suggestion.why == (
        "A link that looks like the City's site but goes to highlandil-gov.com: "
        "https://highlandil-gov.com/gpj.exe" + "x" * 5 + "…"
    )
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
    ]
    assert screener.screen("damn, I will kill you, buy now at example.com") == []


def test_empty_word_lists_leave_the_pattern_rules() -> None:
    screener = Screener(ScreeningRules((), (), ()))
    text = "damn, bomb, buy now at example.com, 618-555-0142, 618-654-9891, http://1.2.3.4/"
    found = {s.code: matched(text, s) for s in screener.screen(text)}
    # Without the City's allow-list its numbers are numbers like any other.
    assert found == {"PII": ["618-555-0142", "618-654-9891"], "SPM": ["http://1.2.3.4/"]}


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


@pytest.mark.parametrize("name", LISTS)
def test_shipped_word_lists_are_maintained_by_the_oversight_group(name: str) -> None:
    path = resource_path("screening", name)
    assert "oversight group" in path.read_text(encoding="utf-8").split("\n\n")[0]
    assert len(read_word_list(path)) >= 6
    readme = resource_path("screening", "README.md").read_text(encoding="utf-8")
    assert f"`{name}`" in readme  # the README says what each list does


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
    text = "http://highlandil-gov.com/" + ")" * 1_000_000
    (suggestion,) = screener.screen(text)
    assert matched(text, suggestion) == ["http://highlandil-gov.com/"]


def test_markup_and_control_characters(screener: Screener) -> None:
    markup = "<script>alert('x')</script><b onclick=\"x()\">hi</b><!-- -->&lt;&#x202e;"
    suggestion = only(screener, markup, "SPM")  # code that would run in a browser
    assert matched(markup, suggestion) == ["<script", "onclick="]
    assert screener.screen("<b>Page 52</b> is the one, <a href='https://x.org/m'>map</a>") == []
    text = "Download the agenda: agenda\u202efdp.exe"  # shown as "agendaexe.pdf"
    suggestion = only(screener, text, "SPM")
    assert suggestion.why == 'A program whose file name a hidden character disguises: "fdp.exe"'
    assert matched(text, suggestion) == ["\u202efdp.exe"]
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


# --- Normalised matching -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("f u c k this", "f u c k"),
        ("what a s.h.i.t. decision", "s.h.i.t"),
        ("f-u-c-k the tax hike", "f-u-c-k"),
        ("ｆｕｃｋ the rates", "ｆｕｃｋ"),  # full-width letters
        ("Fück the meters", "Fück"),  # an accent
        ("sh\u200bit, closed again", "sh\u200bit"),  # a zero-width space inside the word
        ("Ṣḥịṭ roads", "Ṣḥịṭ"),  # combining marks
        ("this is bullsh1t", "bullsh1t"),
        ("Kurwa, znowu", "Kurwa"),
        ("Rada to banda chujów", "chujów"),  # a trailing * in the list: any ending
        ("Esta ciudad es una mierda", "mierda"),
        ("Son unos cabrones", "cabrones"),
    ],
)
def test_disguised_and_foreign_profanity_is_highlighted_in_the_original_text(
    screener: Screener, text: str, word: str
) -> None:
    suggestion = only(screener, text, "PRF")
    assert matched(text, suggestion) == [word]


@pytest.mark.parametrize(
    "text",
    [
        "Our cousins from Scunthorpe visited",
        "Please post the property assessment appeal deadline",
        "Shiitake mushrooms sold out by 9",
        "Assistant City Manager Essex presented the budget",
        "Gracias a los bomberos por su trabajo",  # "bomb" inside a Spanish word
        "Czy rachunek za wodę można zapłacić przez internet?",
        "Jeb Bush visited in 2016",  # "jeba*" needs its "a"
        "a b c d e f g",  # spaced letters that spell nothing
    ],
)
def test_normalising_finds_no_word_inside_another(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


def test_slurs_and_sexual_solicitation(screener: Screener) -> None:
    text = "Keep the w3tbacks out of our parks"
    suggestion = only(screener, text, "DSC")
    assert matched(text, suggestion) == ["w3tbacks"]
    assert suggestion.why == (
        'Wording that demeans or excludes a protected class: "w3tbacks" '
        "(DSC needs its objective test)"
    )
    text = "Go back where you came from"
    assert matched(text, only(screener, text, "DSC")) == [text]
    text = "Hot singles in Highland, DM me for nudes"
    suggestion = only(screener, text, "SEX")
    assert matched(text, suggestion) == ["Hot singles", "nudes"]
    assert suggestion.why == 'Sexual solicitation wording: "Hot singles", "nudes"'
    assert screener.screen("Is the sex offender registry on the police site?") == []


# --- Personal data: whose, and where ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("Tom Reese's SSN is 123456789, ask him", "123456789"),
        ("ssn 078051120 belongs to the guy", "078051120"),
        ("the guy lives at 412 walnut st, go knock", "412 walnut st"),  # lower case
        ("Mr. Dunn's address is 88 Pine Ct, he called the cops", "88 Pine Ct"),
        ("Kowalski mieszka na 310 Pine St", "310 Pine St"),
        ("The lifeguard's number is 6185550118, text her", "6185550118"),
    ],
)
def test_personal_data_in_lower_case_and_without_separators(
    screener: Screener, text: str, data: str
) -> None:
    assert matched(text, only(screener, text, "PII")) == [data]


@pytest.mark.parametrize(
    "text",
    [
        "Account 000123456 was double billed",  # nine digits, no word saying SSN
        "The pothole in front of 912 Laurel St is a foot deep",  # a place, not a home
        "Drop electronics at the Public Works yard, 1215 Lemon St.",
        "Cooling center at Korte, 2 Nagel Drive, open until 8",
    ],
)
def test_numbers_and_places_that_are_no_ones_personal_data(screener: Screener, text: str) -> None:
    assert screener.screen(text) == []


def test_city_contacts_file(tmp_path: Path) -> None:
    shipped = CityContacts.read(resource_path("screening", "city-contacts.toml"))
    assert shipped.domains == ("highlandil.gov",)
    assert "618-654-9891" in shipped.phones
    bad = tmp_path / "contacts.toml"
    bad.write_text('phones = "618-654-9891"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="phones must be a list of strings"):
        CityContacts.read(bad)
    bad.write_text("phones = [\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"contacts\.toml"):
        CityContacts.read(bad)
    # An administrator's entry takes effect: the number is no longer personal data.
    rules = ScreeningRules((), (), (), city=CityContacts(phones=("(618) 555-0142",)))
    assert Screener(rules).screen("Call 618-555-0142 or 555-0142") == []


def test_a_threat_slot_must_be_defined() -> None:
    with pytest.raises(ValueError, match=r"no slot \[who\] defined"):
        Screener(ScreeningRules((), ("kill {who}",), ()))


# --- Near-duplicates: the same author, a flood, or residents asking the same -------------


def thread(*comments: tuple[str, str]) -> list[list[str]]:
    """The codes suggested for each (author, text) in order, through one detector."""
    screener, detector = Screener.default(), RepeatDetector()
    return [
        codes(screen_thread(screener, detector, f"c{n}", text, author))
        for n, (author, text) in enumerate(comments)
    ]


def test_the_same_author_posting_nearly_the_same_again_is_a_duplicate() -> None:
    post = "Vote NO on the pool sale! Come to the council meeting Tuesday and say so!"
    again = "VOTE NO on the pool sale!!! Come to the council meeting Tuesday and say so"
    assert thread(("r1", post), ("r1", again), ("r2", post)) == [[], ["SPM"], []]
    detector = RepeatDetector()
    detector.add("c1", post, "r1")
    (suggestion,) = filter(None, [detector.suggest("c2", again, "r1")])
    assert suggestion.why == (
        "Nearly the same text as 1 earlier comment(s) by the same author: a duplicate post."
    )
    assert suggestion.matches == (Match(0, len(again)),)


def test_residents_asking_the_same_question_are_not_a_flood() -> None:
    asked = [
        "When does leaf pickup start on the north side this year?",
        "When does leaf pick up start on the north side?",
        "when does the leaf pickup start for the north side this year??",
        "Thank you to the Public Works crews for clearing the roads so fast!",
        "Thank you to the Public Works crews for clearing the roads so fast!!",
        "Thank you Public Works crews for clearing the roads so fast!",
    ]
    assert thread(*((f"r{n}", text) for n, text in enumerate(asked))) == [[]] * len(asked)


def test_several_authors_posting_the_same_pointer_are_a_flood() -> None:
    bait = "Cheap tickets to every Cardinals game this summer, see my profile"
    flood = [(f"bot{n}", bait + "!" * n) for n in range(4)]
    assert thread(*flood) == [[], [], ["SPM"], ["SPM"]]


def test_near_repeats_compare_recent_comments_sharing_an_opening_or_ending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detector = RepeatDetector()
    detector.add("c1", "Is the boil order still in effect for Poplar and 9th Street?", "a")
    detector.add("c2", "Is the boil order still in effect?", "b")
    detector.add("c3", "Poplar and 9th Street: is the boil order still in effect for us?", "c")
    asked = "Is the boil order still in effect on Poplar and 9th?"
    assert detector.near_repeats("c4", asked) == [("c1", "a")]
    detector.add("c1", "edited", "a")  # adding a key again replaces it here too
    assert detector.near_repeats("c4", asked) == []
    # Only a site's most recent comments are kept for comparing: memory stays bounded.
    monkeypatch.setattr(screening, "_NEAR_WINDOW", 2)
    for n in range(4):
        detector.add(f"w{n}", f"Free tickets number {n} for every game, see my profile", "bot")
    assert [
        key
        for key, _ in detector.near_repeats(
            "x", "Free tickets number 9 for every game, see my profile"
        )
    ] == ["w3", "w2"]


def test_the_one_pass_over_key_words_names_exactly_the_lists_that_can_match(
    screener: Screener,
) -> None:
    """`_KeyWords` must name a phrase list wherever the list's own look for its words finds
    one (a shorter word inside a longer one, a word starting inside one found before), and
    only there."""
    lists = [
        screener._threats, screener._not_threats, screener._commercial,
        screener._discrimination, screener._sexual, screener._spam, screener._contact,
    ]  # fmt: skip
    set_file = Path(__file__).parent / "screening_set" / "comments.jsonl"
    texts = [json.loads(line)["text"] for line in set_file.read_text().splitlines()]
    texts += ["killer", "e-mail me", "o'dick", "i'll call", "nothing here", "sexy", "'for"]
    named = 0
    for text in texts:
        view = screening._View.of(text)
        present = screener._key_words.present(view.text)
        for phrases in lists:
            assert phrases._keys is not None
            assert (phrases in present) == bool(phrases._keys.search(view.text)), (text, phrases)
            named += phrases in present
    assert named > 100


def test_the_near_form_of_ascii_text_is_the_patterns() -> None:
    """ASCII text takes a translation, not `_NOT_WORD`: the same words either way, every
    ASCII character included (the underscore is a word character, control characters not)."""
    every = "".join(map(chr, range(128)))
    texts = [every, every[::-1], "Call ME_now!! 618-555-0142\x1f\tok", "a" * 700 + " b", "", "!?"]
    for text in texts:
        by_pattern = " ".join(screening._NOT_WORD.sub(" ", screening.fold(text[:600])).split())[
            : screening._NEAR_CHARS
        ]
        assert screening._near_form(text) == by_pattern
    assert screening._near_form("Call ME_now!! 618") == "call me_now 618"
