"""Phone numbers: normalize user input and find numbers in ad text (E.164 out).

This first version relies on phonenumbers' matcher; the extraction issue replaces
`extract_phones` with a de-obfuscating extractor behind the same signature.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import geocoder

from schemas import PhoneMention

EXTRACTOR = "phonenumbers.matcher"


class PhoneNumberError(ValueError):
    """A string given as a phone number is not a valid one."""


def normalize_phone(raw: str, region: str = "US") -> str:
    """Return the E.164 form of a phone number typed by a person, e.g. ``(213) 478-2231``.

    Raises `PhoneNumberError` with a readable message when it is not a valid number.
    """
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberError(f"{raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError(f"{raw!r} is not a valid phone number for region {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def extract_phones(text: str, region: str = "US") -> list[PhoneMention]:
    """Find valid phone numbers in ``text``; offsets index into ``text``."""
    mentions: list[PhoneMention] = []
    for match in phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.VALID
    ):
        number = match.number
        mentions.append(
            PhoneMention(
                raw=match.raw_string,
                start=match.start,
                end=match.end,
                extractor=EXTRACTOR,
                e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                obfuscated=False,
                region=phonenumbers.region_code_for_number(number),
                geo=geocoder.description_for_number(number, "en") or None,
            )
        )
    return mentions
