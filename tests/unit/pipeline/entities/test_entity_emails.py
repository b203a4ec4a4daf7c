"""Emails: plain and obfuscated, lower-case values, no prose taken for an address."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Values = Callable[[str, str], list[str]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email me at amber@gmail.com today", ["amber@gmail.com"]),
        ("Amber.Rose22@Example.COM", ["amber.rose22@example.com"]),
        ("amber at gmail dot com", ["amber@gmail.com"]),
        ("amber (at) gmail (dot) com", ["amber@gmail.com"]),
        ("amber[at]gmail[.]com", ["amber@gmail.com"]),
        ("amber @ gmail . com", ["amber@gmail.com"]),
        ("amber {at} yahoo {dot} net", ["amber@yahoo.net"]),
        ("reach me: sweet.mia22 AT yahoo DOT com!", ["sweet.mia22@yahoo.com"]),
        ("write to amber at gmail.com", ["amber@gmail.com"]),
        ("two: a1@example.org, b2 at example dot net", ["a1@example.org", "b2@example.net"]),
    ],
)
def test_emails_found(values: Values, text: str, expected: list[str]) -> None:
    assert values(text, "email") == expected


@pytest.mark.parametrize(
    "text",
    [
        "meet at noon dot",
        "book at sweetspa.com",
        "text me at 702-555-0133",
        "IG @mia.22",
        "I'm at the hotel. Call me",
        "a @ b",
    ],
)
def test_not_emails(values: Values, text: str) -> None:
    assert values(text, "email") == []


def test_confidence_by_form(extract: Callable[..., list]) -> None:
    [plain] = extract("amber@gmail.com", "email")
    [spelled] = extract("amber at gmail dot com", "email")
    assert plain.confidence == 1.0
    assert spelled.confidence == 0.9


def test_email_domain_is_no_url(values: Values) -> None:
    assert values("amber@gmail.com or amber at gmail.com", "url") == []
