"""pipeline.phone_validate agrees with phonenumbers' public API, short path included."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import geocoder

from pipeline.phone_validate import clear_cache, validate

Described = tuple[str, str | None, str | None]


def _public(digits: str, region: str) -> Described | None:
    number = phonenumbers.parse(digits, region)
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) > 16:  # "+" and 15 digits: E.164's limit, which ours also applies
        return None
    return (
        e164,
        phonenumbers.region_code_for_number(number),
        geocoder.description_for_number(number, "en") or None,
    )


def _ours(
    digits: str, region: str, plus: bool = False
) -> tuple[str, str | None, str | None] | None:
    found = validate(digits, region, plus)
    return None if found is None else (found.e164, found.region, found.geo)


def test_random_nanp_numbers_agree_with_phonenumbers() -> None:
    # Every area code 200-999, many exchanges: valid and invalid, US and the Caribbean,
    # Canada, toll-free. The learned area-code regions make later numbers take the short
    # path, so the sample checks both paths.
    clear_cache()
    rng = random.Random(20261128)
    checked_valid = 0
    for _ in range(20_000):
        digits = str(rng.randint(200, 999)) + f"{rng.randint(0, 9_999_999):07d}"
        expected = _public(digits, "US")
        assert _ours(digits, "US") == expected, digits
        assert _ours("1" + digits, "US") == expected, digits
        assert _ours("1" + digits, "GB", plus=True) == expected, digits
        checked_valid += expected is not None
    assert checked_valid > 5_000  # the sample really exercised valid numbers


@settings(max_examples=300, deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=7, max_size=15),
    region=st.sampled_from(["US", "CA", "GB", "AU", "DE", "MX"]),
)
def test_any_digits_any_region_agree_with_phonenumbers(digits: str, region: str) -> None:
    try:
        expected = _public(digits, region)
    except phonenumbers.NumberParseException:
        expected = None
    assert _ours(digits, region) == expected


@pytest.mark.parametrize(
    ("digits", "region", "plus", "e164"),
    [
        ("442079460958", "US", True, "+442079460958"),
        ("02079460958", "GB", False, "+442079460958"),
        ("011442079460958", "US", False, "+442079460958"),  # US international prefix
        ("61293744000", "US", True, "+61293744000"),
    ],
)
def test_international_forms(digits: str, region: str, plus: bool, e164: str) -> None:
    found = validate(digits, region, plus)
    assert found is not None
    assert found.e164 == e164


def test_numbers_longer_than_e164_allows_are_not_taken() -> None:
    # phonenumbers' German metadata accepts this 14-digit national number, but with the
    # country code it has 16 digits: no E.164 number (and no PhoneMention) can hold it.
    number = phonenumbers.parse("+4955518005180077")
    assert phonenumbers.is_valid_number(number)
    assert validate("4955518005180077", "DE", True) is None
    assert validate("55518005180077", "DE", False) is None


def test_invalid_anguilla_number_is_not_taken() -> None:
    # region_code_for_number names AI for any 264 number; validity is a separate check.
    assert validate("2643637510", "US", False) is None
