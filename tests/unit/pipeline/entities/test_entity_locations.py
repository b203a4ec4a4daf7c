"""Locations: US cities ("City, ST") and states ("ST") from the packaged gazetteer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Values = Callable[[str, str], list[str]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Phoenix, AZ", ["Phoenix, AZ"]),
        ("Just arrived in Las Vegas!", ["Las Vegas, NV"]),
        ("Dallas area incall", ["Dallas, TX"]),
        ("Buffalo, New York", ["Buffalo, NY"]),
        ("Portland OR", ["Portland, OR"]),
        ("Portland, Maine", ["Portland, ME"]),
        ("Paris TX", ["Paris, TX"]),
        ("Mobile, AL", ["Mobile, AL"]),
        ("St. Louis tonight", ["St. Louis, MO"]),
        ("Saint Paul", ["Saint Paul, MN"]),
        ("Ft. Worth", ["Fort Worth, TX"]),
        ("Winston-Salem NC", ["Winston-Salem, NC"]),
        ("visiting Aurora next week", ["Aurora, CO"]),
        ("LAS VEGAS INCALL", ["Las Vegas, NV"]),
        ("Washington, DC", ["Washington, DC"]),
        ("in New York", ["New York, NY"]),
        ("NYC", ["New York, NY"]),
        ("in Texas", ["TX"]),
        ("from Nevada", ["NV"]),
        ("Columbia", ["Columbia, SC"]),
        ("Appointments in San Jose, text me", ["San Jose, CA"]),
        ("Kansas City and Oklahoma City", ["Kansas City, MO", "Oklahoma City, OK"]),
    ],
)
def test_locations_found(values: Values, text: str, expected: list[str]) -> None:
    assert values(text, "location") == expected


@pytest.mark.parametrize(
    "text",
    [
        "mobile friendly",
        "Mobile friendly",  # a common word needs a state after it
        "independence day",
        "Independence Day sale",
        "no hope",
        "Normal hours",
        "Friendly and fun",
        "Commerce street",
        "in paris",  # not capitalized
        "Hi I'm Aurora",  # a first name without a place cue
        "I'm Georgia",
        "Sweet and classy company tonight",
        "2021 Ford F-150 XLT 4x4",
    ],
)
def test_not_locations(values: Values, text: str) -> None:
    assert values(text, "location") == []


def test_raw_includes_the_state(extract: Callable[..., list]) -> None:
    [city] = extract("now in Phoenix, AZ for two days", "location")
    assert city.raw == "Phoenix, AZ"
    assert city.confidence > extract("Las Vegas", "location")[0].confidence
