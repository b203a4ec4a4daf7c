"""What surrounds a candidate run (pipeline.phone_text): identifier cues and lead-ins."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.phone_text import _HASH_WORDS, _ID_WORDS, _NUMBER_WORDS, is_identifier, lead_in

_WORD = re.compile(r"[a-z]+")


def _reference_is_identifier(projected: str, start: int) -> bool:
    """The rule read plainly, without the fast exits of `is_identifier`."""
    window = projected[max(0, start - 24) : start]
    before = window.rstrip(" #:.-\n")
    words = _WORD.findall(before[-12:])
    if not words or not before.endswith(words[-1]):
        return False
    last = words[-1]
    if last in _NUMBER_WORDS and len(words) > 1 and words[-2] in _ID_WORDS | _HASH_WORDS:
        return True
    if last in _HASH_WORDS and "#" in window[len(before) :]:
        return True
    return last in _ID_WORDS


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("post id: ", True),
        ("order no. ", True),
        ("zip code ", True),
        ("ad # ", True),
        ("listing #", True),
        ("zip ", True),
        ("call ", False),
        ("area code ", False),
        ("text me at ", False),
        ("ad ", False),  # "ad" alone is no cue; "ad #" is
        ("", False),
        ("(zip)", False),
    ],
)
def test_identifier_cues(before: str, expected: bool) -> None:
    text = before + "7025550123"
    assert is_identifier(text, len(before)) is expected


_PIECES = st.sampled_from([
    *_ID_WORDS, *_NUMBER_WORDS, *_HASH_WORDS, "call", "text", "me", "at", "areacode", "é",
    "x", " ", "#", ":", ".", "-", "\n", "(", "7", "confirmationzip", "abcconfirmation",
])  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=10).map("".join))
def test_is_identifier_follows_the_plain_rule(before: str) -> None:
    text = before + "7025550123"
    assert is_identifier(text, len(before)) == _reference_is_identifier(text, len(before))


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        ("call +1 702", 6, (5, True)),
        ("call + 1 702", 7, (5, True)),
        ("call (702)", 6, (5, False)),
        ("(+1) 702", 2, (0, True)),
        ("call 702", 5, (5, False)),
    ],
)
def test_lead_in(text: str, start: int, expected: tuple[int, bool]) -> None:
    assert lead_in(text, start) == expected
