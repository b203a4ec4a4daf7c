"""Negation scope: negators a few words before a cue, in the same clause."""

from __future__ import annotations

import pytest

from pipeline.indicators.content import default_lexicons
from pipeline.indicators.negation import negator_before

NEGATORS = default_lexicons().phrases("negators")


def negated(text: str, cue: str) -> bool:
    lower = text.lower()
    return negator_before(lower, lower.index(cue), NEGATORS) is not None


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Not new in town", "new in town"),
        ("I'm not new in town", "new in town"),
        ("no hotels", "hotels"),
        ("No hotels and motels", "motels"),
        ("never a duo", "duo"),
        ("I don't do hotels", "hotels"),
        ("without a driver", "driver"),
        ("🚫 hotels", "hotels"),
        ("I am not an agency", "agency"),
        ("nothing rushed and 24/7", "24/7"),
    ],
)
def test_negated(text: str, cue: str) -> None:
    assert negated(text, cue)


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("no drama, new in town", "new in town"),
        ("No games. New in town", "new in town"),
        ("no rush; new in town", "new in town"),
        ("No drama but new in town", "new in town"),
        ("not a cop - new in town", "new in town"),
        ("no\nnew in town", "new in town"),
        ("not at all, really, truly, very much new in town", "new in town"),
        ("Not rushed or hurried in any way new in town", "new in town"),  # five words away
        ("new in town", "new in town"),
    ],
)
def test_not_negated(text: str, cue: str) -> None:
    assert not negated(text, cue)


def test_negator_offset_and_wider_scope() -> None:
    text = "you must not be affiliated with any police agency"
    start = text.index("police")
    assert negator_before(text, start, NEGATORS) is None
    assert negator_before(text, start, NEGATORS, scope=6) == text.index("not")
