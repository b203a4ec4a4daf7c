"""Prices: money marks or units of time, canonical units, no prices from other numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Values = Callable[[str, str], list[str]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$200/hr", ["200/hour"]),
        ("200 hh", ["200/half hour"]),
        ("150 qv", ["150/quick visit"]),
        ("120 roses per half hour", ["120/half hour"]),
        ("300 for an hour", ["300/hour"]),
        ("$150 half hour", ["150/half hour"]),
        ("Donations: 250 per hour.", ["250/hour"]),
        ("100 🌹", ["100"]),
        ("🌹150", ["150"]),
        ("$23,800", ["23800"]),
        ("$1,100/mo", ["1100/month"]),
        ("$19.50 an hour", ["19.50/hour"]),
        ("200$ per hour", ["200/hour"]),
        ("150 for 30 min", ["150/30 min"]),
        ("300 for 2 hours", ["300/2 hours"]),
        ("500 overnight", ["500/overnight"]),
        ("250/night", ["250/night"]),
        ("300 per session", ["300/session"]),
        ("hh 150, hr 250", ["150/half hour", "250/hour"]),
        ("qv: 100", ["100/quick visit"]),
        ("1hr - 300", ["300/hour"]),
        ("30 min 120", ["120/30 min"]),
        ("50 roses qv / 80 roses hh", ["50/quick visit", "80/half hour"]),
        ("Rates: 120 half hour 200 full hour", ["120/half hour", "200/hour"]),
        ("200/h", ["200/hour"]),
    ],
)
def test_prices_found(values: Values, text: str, expected: list[str]) -> None:
    assert values(text, "price") == expected


@pytest.mark.parametrize(
    "text",
    [
        "Call 614-555-0195 or (512) 555-0121",
        "Text 6145550195 now",
        "I'm 19 years old",
        "19yo",
        "5'7, 36D",
        "Available 24/7",
        "Available 24 hr",
        "2 hours",
        "24 hours 7 days",
        "1 hour 30 min",
        "Sunday 12/25",
        "2021 Honda Civic LX, 33k miles",
        "5 flavors of cupcakes",
        "200 hours of training",
        "hours 10-6",
    ],
)
def test_not_prices(values: Values, text: str) -> None:
    assert values(text, "price") == []


def test_raw_keeps_the_money_word(extract: Callable[..., list]) -> None:
    [roses] = extract("only 120 roses per half hour", "price")
    [donations] = extract("Donations: 250 per hour.", "price")
    assert roses.raw == "120 roses per half hour"
    assert donations.raw == "Donations: 250 per hour"
