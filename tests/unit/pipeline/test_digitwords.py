"""Spelled-out digits (pipeline.digitwords): same-length projection of digit words."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.digitwords import (
    _RUN,
    DIGIT_WORDS,
    PAD,
    WEAK_ONE,
    WEAK_ZERO,
    _run_digits,
    project_digit_words,
    project_lookalikes,
)

MARKERS = PAD + WEAK_ZERO + WEAK_ONE


def digits_of(projected: str) -> str:
    """The digits a projection stands for (weak ones read as digits, padding dropped)."""
    return projected.replace(PAD, "").replace(WEAK_ZERO, "0").replace(WEAK_ONE, "1")


@pytest.mark.parametrize(
    "word",
    [
        "someone",
        "phone",
        "money",
        "tool",
        "alone",
        "often",
        "eighteen",
        "seventy",
        "nineteen",
        "fivefold",
        "sixth",
        "done",
        "tone",
        "twofer",
        "weight",
        "canine",
        "lemon",
        "ozone",
        "dashboard",
        "dotted",
        "hyphenated",
    ],
)
def test_words_holding_digit_words_are_untouched(word: str) -> None:
    for text in (word, f"call {word} now", f"{word}.", f"702 {word} 555"):
        assert project_digit_words(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nineonesix", "9" + PAD * 3 + "1" + PAD * 2 + "6" + PAD * 2),
        ("onezero07", "1" + PAD * 2 + "0" + PAD * 3 + "07"),
        ("4one5", "41" + PAD * 2 + "5"),
        ("five0three", "5" + PAD * 3 + "03" + PAD * 4),
        ("seven zero two", "7" + PAD * 4 + " 0" + PAD * 3 + " 2" + PAD * 2),
        ("seven-oh-two", "7" + PAD * 4 + "-0" + PAD + "-2" + PAD * 2),
        ("twooh", "2" + PAD * 2 + "0" + PAD),
        ("oh", "0" + PAD),
        ("oneo", "1" + PAD * 2 + "0"),  # a look-alike inside a word run is a real digit
        ("lone", "lone"),  # a word, though made of l·one
        ("ione", "11" + PAD * 2),
        ("7o2", "7o2"),  # look-alikes alone are read by project_lookalikes
        ("lol", "lol"),
    ],
)
def test_projection(text: str, expected: str) -> None:
    assert project_digit_words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7o2", "7" + WEAK_ZERO + "2"),
        ("o", WEAK_ZERO),
        ("l", WEAK_ONE),
        ("i", WEAK_ONE),
        ("lol", WEAK_ONE + WEAK_ZERO + WEAK_ONE),
        ("i 702", WEAK_ONE + " 702"),
        ("oil 5", WEAK_ZERO + WEAK_ONE + WEAK_ONE + " 5"),
        ("solo 5", "solo 5"),  # inside words: untouched
        ("lo-fi", WEAK_ONE + WEAK_ZERO + "-fi"),
    ],
)
def test_lookalikes(text: str, expected: str) -> None:
    assert project_lookalikes(text, 0, len(text)) == expected


def test_lookalikes_only_in_the_span() -> None:
    text = "o 7o2 o"
    assert project_lookalikes(text, 2, 5) == "o 7" + WEAK_ZERO + "2 o"


def _reference(lowered: str) -> str:
    """The projection by one regex pass over the whole text (the slower former way)."""

    def digits(match: re.Match[str]) -> str:
        run = match.group()
        return run if not run.strip("oli") else _run_digits(run)

    return _RUN.sub(digits, lowered)


_soup = st.lists(
    st.sampled_from([*DIGIT_WORDS, "o", "l", "i", "lol", "s", "x", "e", "n", " ", "-", "7", "."]),
    max_size=20,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(_soup)
def test_automaton_projection_equals_one_regex_pass(text: str) -> None:
    assert project_digit_words(text) == _reference(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "seven zero two dash five",
            "7" + PAD * 4 + " 0" + PAD * 3 + " 2" + PAD * 2 + "      5" + PAD * 3,
        ),
        ("two dot six", "2" + PAD * 2 + "     6" + PAD * 2),
        ("one hyphen two", "1" + PAD * 2 + "        2" + PAD * 2),
    ],
)
def test_spoken_separators_become_spaces(text: str, expected: str) -> None:
    assert project_digit_words(text) == expected


def test_expects_lowered_text() -> None:
    assert project_digit_words("SEVEN Zero") == "SEVEN Zero"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_length_is_kept(text: str) -> None:
    for variant in (text, text.lower()):
        projected = project_digit_words(variant)
        assert len(projected) == len(variant)
        for before, after in zip(variant, projected, strict=True):
            assert after == before or after in "0123456789 " + MARKERS


_word = st.sampled_from(sorted(DIGIT_WORDS))
_sep = st.sampled_from(["", "", " ", "-", ".", "  ", "\n", "7"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_word, _sep), min_size=1, max_size=12))
def test_digit_word_sequences_give_their_digits(pairs: list[tuple[str, str]]) -> None:
    text = "".join(word + sep for word, sep in pairs)
    expected = "".join(DIGIT_WORDS[word] + ("7" if sep == "7" else "") for word, sep in pairs)
    projected = project_digit_words(text)
    assert "".join(c for c in digits_of(projected) if c.isdigit()) == expected


_letters = st.sampled_from(sorted(set(string.ascii_lowercase) - set("oli")))


@settings(max_examples=200, deadline=None)
@given(st.lists(_word, min_size=1, max_size=4).map("".join), _letters, _letters)
def test_digit_words_glued_to_letters_are_untouched(words: str, before: str, after: str) -> None:
    for text in (before + words, words + after, before + words + after):
        assert project_digit_words(text) == text
