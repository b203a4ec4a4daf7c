"""stated_age_minor and stated_age_young: ages stated as the advertised person's."""

from __future__ import annotations

import pytest

from tests.unit.pipeline.indicators.conftest import FlagsOf

MINOR, YOUNG = "stated_age_minor", "stated_age_young"


@pytest.mark.parametrize(
    ("text", "flag", "evidence"),
    [
        ("Age 15, text only", MINOR, "Age 15"),
        ("fifteen years old", MINOR, "fifteen years old"),
        ("16yo cutie", MINOR, "16yo"),
        ("I'm 17", MINOR, "I'm 17"),
        ("I am sixteen, call me", MINOR, "I am sixteen"),
        ("Hi I'm Lexi, 16, sweet and shy", MINOR, "16"),
        ("Jenna (16) fun and friendly", MINOR, "16"),
        ("just 17, sweet and discreet", MINOR, "just 17"),
        ("16 years of age, sweet girl", MINOR, "16 years of age"),
        ("Seventeen, petite and sweet", MINOR, "Seventeen"),
        ("Hey it's Mia, 19, sweet and fun.", YOUNG, "19"),
        ("18 years young", YOUNG, "18 years young"),
        ("Just turned 18! Text me babe.", YOUNG, "turned 18"),
        ("Bella | 19 | sweet and fun", YOUNG, "19"),
        ("Mia 19, sweet and fun", YOUNG, "19"),
        ("Only 19 and sweet", YOUNG, "Only 19"),
        ("barely 18 💋", YOUNG, "barely 18"),
    ],
)
def test_stated_ages(flags_of: FlagsOf, text: str, flag: str, evidence: str) -> None:
    found = flags_of(text)
    assert flag in found, found
    assert found[flag][0].text == evidence
    assert ({MINOR, YOUNG} - {flag}).isdisjoint(found)


@pytest.mark.parametrize(
    "text",
    [
        "18+ only",
        "Must be 18+ to respond.",
        "Over 18 only please",
        "You must be at least 18 years old",
        "Must be 18 years of age to reply",
        "All ages 18 and over welcome",
        "Kids ages 10 and under eat free",
        "15 and under play free",
        "My son is 15 years old and needs a tutor",
        "5 years experience, open 7 days, 2 hours minimum",
        "15 minutes from downtown, 19 years in business",
        "Only 15 spots left",
        "Only 12, 14 and 16 inch pizzas",
        "Suite 12, near the mall",
        "Elegant 38 year old, mature and classy.",
        "Babysitter, 16, available weekends, CPR trained.",
        "Roommate wanted, I'm 19, student, rent $600.",
    ],
)
def test_not_the_advertised_persons_age(flags_of: FlagsOf, text: str) -> None:
    assert {MINOR, YOUNG}.isdisjoint(flags_of(text))


def test_a_lone_number_opening_a_clause_needs_support(flags_of: FlagsOf) -> None:
    assert flags_of("19 and counting") == {}
    assert YOUNG in flags_of("19 and counting, discreet gentlemen only")
