"""connectors.obfuscate: every style is read back by our extractor, and marked as written."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from connectors.obfuscate import OBFUSCATED, PLAIN, STYLES, national, pick_style, render
from connectors.synthetic import CITIES
from pipeline.phones import extract_phones

AREA_CODES = sorted({code for city in CITIES for code in city.area_codes})
# the phone sits where ads put it: after a word, before punctuation, a word or the end
CONTEXTS = [
    "Text {p}.",
    "Call {p} to book.",
    "Reach me at {p}, texts preferred.",
    "Hi, I'm Mia, 24. Book your time at {p}",
    "320 roses per hour 🌹 Serious inquiries only, call {p}.",
    "Available 24/7. Call or text {p} for details.",
]


def numbers(rng: random.Random, n: int) -> list[str]:
    return [f"+1{rng.choice(AREA_CODES)}55501{rng.randrange(100):02d}" for _ in range(n)]


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_is_extracted_as_the_number_it_renders(style: str) -> None:
    rng = random.Random(style)
    for e164 in numbers(rng, 150):
        written = render(e164, style, rng)
        for context in CONTEXTS:
            text = context.format(p=written)
            mentions = extract_phones(text)
            assert [m.e164 for m in mentions] == [e164], (style, text)
            (mention,) = mentions
            assert text[mention.start : mention.end] == mention.raw
            assert mention.raw in written and len(mention.raw) >= len(written) - 1
            assert mention.obfuscated == (style in OBFUSCATED), (style, written)


def test_all_fictional_numbers_of_every_city_are_valid() -> None:
    for code in AREA_CODES:
        for line in range(100):
            number = phonenumbers.parse(f"+1{code}55501{line:02d}")
            assert phonenumbers.is_valid_number(number), number


def test_rendering_is_deterministic_for_a_seeded_rng() -> None:
    def sample(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [render("+17025550147", style, rng) for style in sorted(STYLES) for _ in range(5)]

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_some_renderings() -> None:
    rng = random.Random(0)
    assert render("+17025550147", "paren", rng) == "(702) 555-0147"
    assert render("+17025550147", "words_caps", rng) == (
        "Seven-Zero-Two-Five-Five-Five-Zero-One-Four-Seven"
    )
    assert render("+17025550147", "wide_dash", rng) == "702 - 555 - 0147"
    assert "triple five" in render("+17025550147", "words_spoken", rng)
    assert render("+17025550147", "keycap", rng).count("\u20e3") == 10
    letters = render("+17025550147", "letters", rng)
    assert letters[0] == "7" and letters[-1] == "7" and not any(c == "0" for c in letters)


def test_plain_and_obfuscated_are_disjoint_and_cover_the_brief() -> None:
    assert not set(PLAIN) & set(OBFUSCATED)
    assert {"words", "mixed", "letters", "fullwidth", "circled", "math", "keycap", "spaced",
            "odd_separator", "newlines", "brackets"} <= set(OBFUSCATED)  # fmt: skip


def test_pick_style_follows_the_share() -> None:
    rng = random.Random(5)
    assert all(pick_style(rng, 0.0) in PLAIN for _ in range(200))
    assert all(pick_style(rng, 1.0) in OBFUSCATED for _ in range(200))
    share = sum(pick_style(rng, 0.3) in OBFUSCATED for _ in range(5_000)) / 5_000
    assert 0.27 < share < 0.33


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown phone style"):
        render("+17025550147", "morse", random.Random(0))
    for bad in ("+447911123456", "7025550147", "+1702555014x"):
        with pytest.raises(ValueError, match="ten digits"):
            national(bad)
