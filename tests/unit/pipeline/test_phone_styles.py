"""The renderer library (phone_styles) renders what it claims, checked without the extractor.

A reference decoder, much simpler than the extractor and independent of it, turns each
rendering back into its digits; plain renderings must be found by phonenumbers' own
matcher. So when a property in test_phones fails, the renderer is not the suspect.
"""

from __future__ import annotations

import html
import re
import unicodedata

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.pipeline.phone_styles import (
    AREA_CODES,
    CIRCLED,
    CIRCLED_SANS,
    CUES,
    DEV_STYLES,
    FAMILIES,
    NEGATIVE_CIRCLED_SANS_OWN_ZERO,
    OBFUSCATED_FAMILIES,
    PLAIN_FAMILIES,
    PREFIXES,
    WORDS,
    AdCase,
    ad_cases,
    international_cases,
    is_valid,
    us_numbers,
)

# Every style name of the labeled dev set (combined styles like "spaces+paren" split).
_DEV_SET_STYLE_LIST = (
    "paren dots spaces plus1 one_dash run spaced_digits all_words all_words_caps mixed "
    "mixed_dash letter_o fullwidth circled bold tilde slash stars double_dot newlines "
    "wide_dash oh_words brackets"
)
DEV_SET_STYLES = _DEV_SET_STYLE_LIST.split()

_WORD = re.compile("|".join(sorted([*WORDS, "oh"], key=len, reverse=True)), re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def reference_digits(rendering: str, family: str) -> str:
    """Digits written in ``rendering``, decoded the simple way."""
    text = html.unescape(_TAG.sub("", rendering)) if family == "html" else rendering
    text = _WORD.sub(
        lambda m: "0" if m.group().lower() == "oh" else str(WORDS.index(m.group().lower())), text
    )
    if family == "letter_o":
        text = text.replace("O", "0").replace("o", "0")
    if family == "letter_l":
        text = text.replace("l", "1").replace("I", "1")
    out = []
    for ch in text:
        if ch in CIRCLED:
            out.append(str(CIRCLED.index(ch)))
        elif ch in CIRCLED_SANS + NEGATIVE_CIRCLED_SANS_OWN_ZERO:
            out.append("0" if ch in "🄋🄌" else str(unicodedata.digit(ch)))
        elif unicodedata.digit(ch, None) is not None:
            out.append(str(unicodedata.digit(ch)))
    return "".join(out)


def test_every_dev_style_has_a_family() -> None:
    assert set(DEV_SET_STYLES) <= set(DEV_STYLES)
    assert set(DEV_STYLES.values()) <= set(FAMILIES)


def test_area_codes_are_real() -> None:
    assert len(AREA_CODES) == len(set(AREA_CODES)) > 200
    for code in AREA_CODES:
        assert re.fullmatch(r"[2-9][0-8][0-9]", code), code


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_numbers_are_valid_and_hold_needed_digits(data: st.DataObject) -> None:
    needs = data.draw(st.sampled_from(["", "0", "1"]))
    national = data.draw(us_numbers(needs))
    assert len(national) == 10 and national.isdigit()
    assert is_valid("+1" + national)
    assert all(d in national for d in needs)


@pytest.mark.parametrize("name", sorted(FAMILIES))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_rendering_decodes_to_the_number(name: str, data: st.DataObject) -> None:
    family = FAMILIES[name]
    national = data.draw(us_numbers(family.needs))
    rendering = family.render(national, data.draw)
    digits = reference_digits(rendering, name)
    assert digits in (national, "1" + national), (rendering, digits)
    if name not in ("run", "plus1", "one_dash", "paren"):
        assert rendering != national


@pytest.mark.parametrize("name", [f.name for f in PLAIN_FAMILIES])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_plain_renderings_are_found_by_phonenumbers(name: str, data: st.DataObject) -> None:
    """Plain styles are the ones phonenumbers' own matcher reads as they are."""
    national = data.draw(us_numbers())
    rendering = FAMILIES[name].render(national, data.draw)
    found = [
        phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        for m in phonenumbers.PhoneNumberMatcher(f"call {rendering} now", "US")
    ]
    assert found == ["+1" + national], rendering


@pytest.mark.parametrize("name", [f.name for f in OBFUSCATED_FAMILIES])
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_obfuscated_renderings_are_not_plain_digits(name: str, data: st.DataObject) -> None:
    national = data.draw(us_numbers(FAMILIES[name].needs))
    rendering = FAMILIES[name].render(national, data.draw)
    assert not re.fullmatch(r"\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}", rendering)


@settings(max_examples=100, deadline=None)
@given(ad_cases())
def test_ad_case_places_the_rendering(case: AdCase) -> None:
    rendering = case.text[case.start : case.end]
    assert reference_digits(rendering, case.family) in (case.e164[1:], case.e164[2:])
    assert case.text[case.start - 1 : case.start] in ("", " ")
    assert case.text[: case.start].strip() in {
        " ".join(p for p in (prefix, cue) if p) for prefix in PREFIXES for cue in CUES
    }


@settings(max_examples=100, deadline=None)
@given(international_cases())
def test_international_cases_are_valid(case: AdCase) -> None:
    rendering = case.text[case.start : case.end]
    if rendering.startswith(("00", "011")):  # dialled from the hint's country
        rendering = "+" + rendering.split(" ", 1)[1]
    number = phonenumbers.parse(rendering, case.region)
    assert phonenumbers.is_valid_number(number)
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == case.e164
