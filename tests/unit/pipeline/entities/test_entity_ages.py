"""Stated ages: digits and words, 10–79; disclaimers, durations and measures are not ages."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Values = Callable[[str, str], list[str]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age 19", ["19"]),
        ("Age: 22, text only", ["22"]),
        ("aged 21", ["21"]),
        ("19 years old", ["19"]),
        ("a 19-year-old student", ["19"]),
        ("19yo", ["19"]),
        ("19 y/o", ["19"]),
        ("19 y.o. and sweet", ["19"]),
        ("21yrs", ["21"]),
        ("21 yrs young", ["21"]),
        ("I'm 19", ["19"]),
        ("im 22.", ["22"]),
        ("I am 30 and", ["30"]),
        ("Mia, 19, sweet", ["19"]),
        ("New in town, 19, ask for Jade", ["19"]),
        ("nineteen years old", ["19"]),
        ("I'm twenty-one", ["21"]),
        ("age forty five", ["45"]),
        ("just turned 18", ["18"]),
        ("Elegant 38 year old, mature", ["38"]),
        ("Age 15, text only", ["15"]),
        ("Fifteen yo", ["15"]),
        ("２０ years old", ["20"]),  # full-width digits
    ],
)
def test_ages_found(values: Values, text: str, expected: list[str]) -> None:
    assert values(text, "age") == expected


@pytest.mark.parametrize(
    "text",
    [
        "Must be 18+ to respond.",
        "18+ only",
        "Age 18+ welcome",
        "I'm 18+",
        "You must be 18 years old to view",
        "at least 21 years old",
        "18 and over",
        "ages 18-25",
        "worked here for 19 years",
        "21 yrs of experience",
        "over 21 yrs",
        "$200/hr",
        "I'm 5'7, 36D",
        "I'm 36D",
        "Available 24/7",
        "I'm 24/7 available",
        "2 hours",
        "I'm 20 minutes away",
        "age 9",  # out of the 10–79 range
        "I'm 85 years old",
        "sizes 10, 12, 14",
        "call 614-555-0195, 18,",
        "2021 Honda Civic LX, 33k miles",
        "I'm 19th in line",
    ],
)
def test_not_ages(values: Values, text: str) -> None:
    assert values(text, "age") == []


def test_confidence_and_raw(extract: Callable[..., list]) -> None:
    [explicit] = extract("19 years old", "age")
    [comma] = extract("in town, 19, sweet", "age")
    assert explicit.raw == "19 years old" and explicit.confidence == 0.95
    assert comma.raw == "19" and comma.confidence < explicit.confidence
