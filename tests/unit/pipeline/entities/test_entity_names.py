"""Names after cues ("ask for Ruby", "I'm Amber", "Mia here"); common words are no names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Values = Callable[[str, str], list[str]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ask for Ruby", ["Ruby"]),
        ("Ask for Ruby, my manager handles bookings.", ["Ruby"]),
        ("I'm Amber", ["Amber"]),
        ("Im Amber", ["Amber"]),
        ("I am Amber", ["Amber"]),
        ("my name is Amber", ["Amber"]),
        ("Name: Kira", ["Kira"]),
        ("this is Amber", ["Amber"]),
        ("Hey it's Mia, 19, sweet and fun.", ["Mia"]),
        ("call Jade", ["Jade"]),
        ("call me Ivy", ["Ivy"]),
        ("Hello gentlemen, Aria here.", ["Aria"]),
        ("Mia here", ["Mia"]),
        ("ASK FOR RUBY", ["Ruby"]),
        ("I'm Xyla, 22", ["Xyla"]),  # unknown to the name list, but followed like a name
        ("It's June!", ["June"]),
        ("New in town, 19, ask for Jade, at the motel", ["Jade"]),
        ("I'm Mary-Jane", ["Mary-Jane"]),
    ],
)
def test_names_found(values: Values, text: str, expected: list[str]) -> None:
    assert values(text, "name") == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'm New",
        "I'm Available",
        "ask for Details",
        "Ask For Rates",
        "this is Real",
        "Call Now",
        "Call Me Today",
        "It's May 5",
        "It's June 5th",
        "I'm Will",
        "This is Sugar",
        "I'm Located in Dallas",
        "This Is Amazing",
        "I'm Waiting For You",
        "I'M NEW IN TOWN",
        "i'm amber",  # a name must be capitalized
        "Click here",
        "Text here",
        "him Mia",
        "I'm Dallas based",
    ],
)
def test_not_names(values: Values, text: str) -> None:
    assert values(text, "name") == []


def test_confidence(extract: Callable[..., list]) -> None:
    [known] = extract("I'm Amber", "name")
    [unknown] = extract("I'm Xyla, hi", "name")
    assert known.confidence == 0.9
    assert unknown.confidence == 0.6
    assert known.raw == "Amber"
