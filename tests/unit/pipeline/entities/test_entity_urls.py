"""URLs: schemes, www, bare domains with common TLDs; trailing punctuation trimmed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Values = Callable[[str, str], list[str]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("visit https://example.com/path, now", ["https://example.com/path"]),
        ("see http://example.org.", ["http://example.org"]),
        ("www.sweet-spa.site!", ["www.sweet-spa.site"]),
        ("go to example.com/path?x=1.", ["example.com/path?x=1"]),
        ("(see example.com/a_(b))", ["example.com/a_(b)"]),
        ("t.me/mia22 for updates", ["t.me/mia22"]),
        ("EXAMPLE.COM", ["EXAMPLE.COM"]),
        (
            "two: a.example.net and https://b.example.org/x",
            ["a.example.net", "https://b.example.org/x"],
        ),
    ],
)
def test_urls_found(values: Values, text: str, expected: list[str]) -> None:
    assert values(text, "url") == expected


@pytest.mark.parametrize(
    "text",
    [
        "amber@gmail.com",
        "new in town.Me and my friend",  # a sentence without a space, not a domain
        "I am.me",  # a weak TLD needs a path
        "price 19.99 today",
        "St.Louis tonight",
        "IG @mia.22",
        "e.g. this",
    ],
)
def test_not_urls(values: Values, text: str) -> None:
    assert values(text, "url") == []
