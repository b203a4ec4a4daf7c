"""Phone numbers: find them in ad text however they are written, and normalize user input.

How `extract_phones` reads a text:

    text ─ normalize() ─ lower() ─ project_digit_words() ─ candidate runs ─ groups ─ numbers
          (Unicode digits,          ("nineonesix" → 916)   (digits and o/l/i   (windows on group
           keycaps, HTML…)                                   joined by ≤5        boundaries,
                                                             separator chars)    phonenumbers)

A candidate is any run of at least seven digits (or o/l/i standing for 0/1 next to digits)
joined by separators: spaces, line breaks, dashes, dots, slashes, stars, tildes, brackets,
emoji — anything but letters and a few hard stops (, ; : ! ? $ € £ % @ # & quotes). Each
run is cut into the digit groups it was written in; the whole run, or else windows that
start and end on group boundaries, are validated with phonenumbers. In a NANP region a
window must also look like a phone number (3-3-4, 3-7, ten digits, each digit apart…), so
price lists and dates that happen to hold ten digits are not taken. Runs after "post id",
"order #", "zip" and the like, and groups glued to a currency sign or unit, are not phones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat, geocoder

from pipeline.digitwords import PAD, WEAK_ONE, WEAK_ZERO, project_digit_words
from pipeline.textnorm import NormalizedText, normalize
from schemas import PhoneMention

EXTRACTOR: Final = "adwatch.phones"
NANP_REGIONS: Final = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])

_DIG = rf"[0-9{WEAK_ZERO}{WEAK_ONE}]{PAD}*"
_SEP = rf"(?:[^\w{PAD}{WEAK_ZERO}{WEAK_ONE},;:!?$€£¥%@#&'\"]|_)"
_CANDIDATE = re.compile(rf"(?:\+\s?)?[(\[{{]?{_DIG}(?:{_SEP}{{0,5}}{_DIG}){{6,}}")
_GROUP = re.compile(rf"[0-9{PAD}{WEAK_ZERO}{WEAK_ONE}]+")
_TO_DIGIT = str.maketrans({WEAK_ZERO: "0", WEAK_ONE: "1", PAD: None})
_PLAIN_GROUP = re.compile(r"[0-9]+")
_WEAK_CHARS = WEAK_ZERO + WEAK_ONE + PAD
_NANP_NATIONAL = re.compile(r"[2-9][0-9]{2}[2-9][0-9]{6}")
_NOT_A_PHONE_BEFORE = re.compile(
    r"(?:\b(?:post(?:ing)?|listing|ref(?:erence)?|order|invoice|item|sku|ticket|case|"
    r"confirmation|tracking|account|acct|zip|postal|code|id|ad\s*(?:id|#|no))"
    r"\s*(?:id|no|num|number|code)?\s*[#:.]?\s*)$"
)
_UNIT_AFTER = re.compile(
    r"\s?(?:%|(?:lbs?|kgs?|cm|mm|ft|in|inch|inches|mi|km|miles|usd|dollars|roses?|hrs?|"
    r"hours?|mins?|minutes|am|pm|k|yo|years?)\b)"
)
_CURRENCY = frozenset("$€£¥")
_PLAIN = re.compile(r"\+?\(?[0-9]+(?:(?:\) ?|[ .-])[0-9]+)*")

_TEN: Final = frozenset({(10,), (3, 7), (3, 3, 4), (6, 4), (3, 3, 2, 2)})
_NANP_SHAPES: Final = _TEN | {(1, *s) for s in _TEN} | {(s[0] + 1, *s[1:]) for s in _TEN}


@dataclass(frozen=True, slots=True)
class _Valid:
    e164: str
    region: str | None
    geo: str | None


@dataclass(frozen=True, slots=True)
class _Group:
    digits: str
    start: int  # span in the projected text
    end: int
    weak: bool  # made only of letters standing for digits


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
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _described(number: PhoneNumber, region: str | None) -> _Valid:
    geo = geocoder.description_for_valid_number(number, "en") or None
    return _Valid(phonenumbers.format_number(number, PhoneNumberFormat.E164), region, geo)


@lru_cache(maxsize=65_536)
def _validate(digits: str, region: str, plus: bool) -> _Valid | None:
    """Validate a digit string written in an ad of ``region`` (cached: phones repeat)."""
    national = None
    if plus and digits[:1] == "1":
        national = digits[1:]
    elif not plus and region in NANP_REGIONS:
        national = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    if national is not None and len(national) == 10:
        if not _NANP_NATIONAL.fullmatch(national):
            return None
        number = PhoneNumber(country_code=1, national_number=int(national))
        found = phonenumbers.region_code_for_number(number)
        return _described(number, found) if found else None
    try:
        number = phonenumbers.parse(("+" if plus else "") + digits, None if plus else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return _described(number, phonenumbers.region_code_for_number(number))


def clear_cache() -> None:
    """Forget cached validations (benchmarks measure cold runs with it)."""
    _validate.cache_clear()


def _groups(projected: str, start: int, end: int) -> list[_Group]:
    groups = []
    for m in _GROUP.finditer(projected, start, end):
        run = m.group()
        digits = run.translate(_TO_DIGIT)
        groups.append(_Group(digits, m.start(), m.end(), not run.strip(_WEAK_CHARS)))
    while groups and groups[0].weak:
        groups.pop(0)
    while groups and groups[-1].weak:
        groups.pop()
    if groups and projected[groups[0].start - 1 : groups[0].start] in _CURRENCY:
        groups.pop(0)
    if groups and _UNIT_AFTER.match(projected, groups[-1].end):
        groups.pop()
    return groups


def _cuts_and_shape(groups: list[_Group]) -> tuple[set[int], list[int]]:
    """Digit offsets where a number may start or end (group boundaries), and for each
    digit the id of its group, consecutive one-digit groups ("6 1 9 …") counting as one."""
    cuts = {0}
    merged_id: list[int] = []
    current = -1
    previous_single = False
    for group in groups:
        single = len(group.digits) == 1
        if not (single and previous_single):
            current += 1
        merged_id.extend([current] * len(group.digits))
        cuts.add(len(merged_id))
        previous_single = single
    return cuts, merged_id


def _shape(merged_id: list[int], a: int, b: int) -> tuple[int, ...]:
    sizes: list[int] = []
    for k in range(a, b):
        if k == a or merged_id[k] != merged_id[k - 1]:
            sizes.append(0)
        sizes[-1] += 1
    return tuple(sizes)


def _numbers(groups: list[_Group], region: str, plus: bool) -> list[tuple[int, int, _Valid]]:
    """Digit windows ``(a, b, number)`` of ``groups`` that are valid phone numbers."""
    digits = "".join(g.digits for g in groups)
    n = len(digits)
    nanp = region in NANP_REGIONS
    if n <= 17 and (plus or not nanp or n in (10, 11) or digits.startswith("011")):
        whole = _validate(digits, region, plus)
        if whole is not None:
            return [(0, n, whole)]
    cuts, merged_id = _cuts_and_shape(groups)
    found: list[tuple[int, int, _Valid]] = []
    a = 0
    while a < n:
        hit = None
        if a in cuts:
            if plus and a == 0:
                lengths: range | tuple[int, ...] = range(min(n, 15), 7, -1)
            elif nanp:
                lengths = (11, 10) if digits[a] == "1" else (10,)
            else:
                lengths = range(min(n - a, 15), 6, -1)
            for length in lengths:
                b = a + length
                if b > n or b not in cuts:
                    continue
                if nanp and not (plus and a == 0) and _shape(merged_id, a, b) not in _NANP_SHAPES:
                    continue
                valid = _validate(digits[a:b], region, plus and a == 0)
                if valid is not None:
                    hit = (a, b, valid)
                    break
        if hit is None:
            a += 1
        else:
            found.append(hit)
            a = hit[1]
    return found


def _is_obfuscated(raw: str) -> bool:
    """True unless ``raw`` is written the plain way parsers expect (ASCII digits, one
    space, dot or dash between a few groups)."""
    return not (_PLAIN.fullmatch(raw) and len(_PLAIN_GROUP.findall(raw)) <= 5)


def extract_phones(
    text: str, region: str = "US", normalized: NormalizedText | None = None
) -> list[PhoneMention]:
    """Find phone numbers in ``text`` written in any style; offsets index into ``text``.

    ``region`` is the ISO country the ad comes from (numbers without a country code are
    read as that country's). Pass ``normalized`` when the caller already has it.
    """
    norm = normalized if normalized is not None else normalize(text)
    lowered = norm.text.lower()
    if len(lowered) != len(norm.text):  # lower() expanded a rare letter: keep the case
        lowered = norm.text
    projected = project_digit_words(lowered)
    mentions: list[PhoneMention] = []
    for cand in _CANDIDATE.finditer(projected):
        if _NOT_A_PHONE_BEFORE.search(projected, max(0, cand.start() - 30), cand.start()):
            continue
        groups = _groups(projected, cand.start(), cand.end())
        if not groups:
            continue
        plus = cand.group().startswith("+") and groups[0].start < cand.start() + 3
        total = sum(len(g.digits) for g in groups)
        bounds = [0]
        for g in groups:
            bounds.append(bounds[-1] + len(g.digits))
        for a, b, valid in _numbers(groups, region, plus):
            first_group, last_group = bounds.index(a), bounds.index(b) - 1
            first = groups[first_group].start
            if first_group == 0 and first - cand.start() <= 3:
                first = cand.start()  # keep a leading "+" or "(" in the span
            start, end = norm.span(first, groups[last_group].end)
            raw = text[start:end]
            mentions.append(
                PhoneMention(
                    raw=raw,
                    start=start,
                    end=end,
                    extractor=EXTRACTOR,
                    confidence=1.0 if b - a == total else 0.8,
                    e164=valid.e164,
                    obfuscated=_is_obfuscated(raw),
                    region=valid.region,
                    geo=valid.geo,
                )
            )
    return mentions
