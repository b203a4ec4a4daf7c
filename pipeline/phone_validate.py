"""Validate digit strings as phone numbers with phonenumbers, and describe them.

Validation is cached per (digits, region, plus): a long-running worker sees the same
numbers again and again, since reposting with one phone is exactly what ads do.

NANP numbers (+1), most of what US ads hold, take a short path through phonenumbers'
own metadata: the region of an area code is learned from `region_code_for_number` the
first time, after which a number of that area code is valid when it matches the region's
fixed-line or mobile pattern; anything else (toll-free, a new area code) goes the full
way. The geocoder's +1 prefixes are at most seven digits long ("1" and six), so a
description is looked up once per area code and exchange. Tests check both against
phonenumbers' public API on random numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Final, NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberDesc, PhoneNumberFormat, geocoder
from phonenumbers.geodata import GEOCODE_DATA, GEOCODE_LONGEST_PREFIX

try:  # internal helper of the pinned phonenumbers; the public path is the fallback
    from phonenumbers.prefix import _prefix_description_for_number as _prefix_description
except ImportError:  # pragma: no cover
    _prefix_description = None  # type: ignore[assignment]

NANP_REGIONS: Final = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
E164_MAX_DIGITS: Final = 15  # ITU-T E.164: country code and national number together
_NANP_NATIONAL = re.compile(r"[2-9][0-9]{9}")
_area_regions: dict[str, str] = {}  # NANP area code -> region, learned from phonenumbers


class ValidNumber(NamedTuple):
    """A valid phone number: E.164, its region and geographic description."""

    e164: str
    region: str | None
    geo: str | None


def _anchored(desc: PhoneNumberDesc | None) -> str | None:
    """A lookahead: the whole number matches ``desc``'s pattern, in one of its lengths."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = sorted(desc.possible_length or ())
    sized = "|".join(f"[0-9]{{{n}}}" for n in lengths)
    return (f"(?=(?:{sized})\\Z)" if sized else "") + f"(?=(?:{desc.national_number_pattern})\\Z)"


@lru_cache(maxsize=64)
def _geographic_check(region: str) -> Callable[[str], bool]:
    """A test that a national number is a fixed-line or mobile number of ``region``.

    That is a sufficient condition for phonenumbers to call it valid (the general pattern
    comes first, as in phonenumbers' own type check). One regex of lookaheads runs all
    three tests: the general pattern, then the fixed-line or the mobile one.
    """
    metadata = PhoneMetadata.metadata_for_region(region)
    general = _anchored(metadata.general_desc) if metadata else None
    typed = (
        [t for t in (_anchored(metadata.fixed_line), _anchored(metadata.mobile)) if t]
        if metadata
        else []
    )
    if general is None or not typed:
        return lambda national: False
    pattern = re.compile(general + "(?:" + "|".join(typed) + ")")
    return lambda national: pattern.match(national) is not None


@lru_cache(maxsize=65_536)
def _nanp_prefix_geo(prefix: str) -> str:
    """Geocoder description of +1 numbers starting with ``prefix`` (six national digits)."""
    if _prefix_description is None:  # pragma: no cover
        return ""
    number = PhoneNumber(country_code=1, national_number=int(prefix + "0000"))
    return str(_prefix_description(GEOCODE_DATA, GEOCODE_LONGEST_PREFIX, number, "en"))


def _nanp(national: str) -> ValidNumber | None:
    if not _NANP_NATIONAL.fullmatch(national):
        return None
    region = _area_regions.get(national[:3])
    if region is None or not _geographic_check(region)(national):
        # region_code_for_number names the region of an area code even for numbers that
        # are not valid there: validity is the second question.
        number = PhoneNumber(country_code=1, national_number=int(national))
        region = phonenumbers.region_code_for_number(number)
        if region is None or not phonenumbers.is_valid_number_for_region(number, region):
            return None
        _area_regions[national[:3]] = region
    geo = _nanp_prefix_geo(national[:6])
    if not geo:
        number = PhoneNumber(country_code=1, national_number=int(national))
        if _prefix_description is None:  # pragma: no cover
            geo = geocoder.description_for_valid_number(number, "en")
        else:
            geo = geocoder.country_name_for_number(number, "en")
    return ValidNumber("+1" + national, region, geo or None)


@lru_cache(maxsize=65_536)
def validate(digits: str, region: str, plus: bool) -> ValidNumber | None:
    """The number ``digits`` stands for in an ad of ``region``, if valid.

    ``plus`` says the digits followed a "+" (they start with a country code).
    """
    if plus and digits[:1] == "1" and len(digits) == 11:
        return _nanp(digits[1:])
    if not plus and region in NANP_REGIONS and len(digits) in (10, 11):
        if len(digits) == 10:
            return _nanp(digits)
        if digits[0] == "1":
            return _nanp(digits[1:])
    try:
        number = phonenumbers.parse(("+" if plus else "") + digits, None if plus else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if len(e164) > E164_MAX_DIGITS + 1:
        return None  # metadata allows a few national numbers longer than E.164 can carry
    return ValidNumber(
        e164,
        phonenumbers.region_code_for_number(number),
        geocoder.description_for_number(number, "en") or None,  # checks the number's type
    )


def clear_cache() -> None:
    """Forget everything cached (benchmarks measure cold runs with it)."""
    validate.cache_clear()
    _nanp_prefix_geo.cache_clear()
    _area_regions.clear()
