"""Phone numbers: find them in ad text however they are written, and normalize user input.

How `extract_phones` reads a text:

    text ─ normalize() ─ lower() ─ project_digit_words() ─ candidate runs ─ groups ─ numbers
          (Unicode digits,          ("nineonesix" → 916,   (≥7 digits joined  (whole run, or
           keycaps, HTML…)           lone o/l/i → weak)     by ≤8 separator    windows on group
                                                            characters)        boundaries,
                                                                               phonenumbers)

Separators are anything but letters, digits and a few hard stops (, ; : ! ? $ € £ % @ # &
quotes): spaces, line breaks, dashes, dots, slashes, stars, tildes, underscores, brackets,
emoji. A run is cut into the digit groups it was written in; the whole run, or else
windows that start and end on group boundaries, are validated with phonenumbers. In a NANP
region a window must also be shaped like a phone number (3-3-4, 3-7, ten digits, each digit
apart…), so price lists and dates that happen to hold ten digits are not taken. Runs after
"post id", "order #", "zip" and the like, and groups glued to a currency sign or a unit,
are not phones.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberFormat

from pipeline.digitwords import PAD, WEAK_ONE, WEAK_ZERO, project_digit_words
from pipeline.phone_validate import NANP_REGIONS, ValidNumber, clear_cache, validate
from pipeline.textnorm import NormalizedText, normalize
from schemas import PhoneMention

__all__ = ["EXTRACTOR", "PhoneNumberError", "clear_cache", "extract_phones", "normalize_phone"]

EXTRACTOR: Final = "adwatch.phones"

_SPECIAL = PAD + WEAK_ZERO + WEAK_ONE
_DIG = rf"[0-9{WEAK_ZERO}{WEAK_ONE}]{PAD}*"
_SEP = rf"[^\w{_SPECIAL},;:!?$€£¥%@#&'\"]"  # "_" is made a space before matching
_CANDIDATE = re.compile(rf"{_DIG}(?:{_SEP}{{0,8}}{_DIG}){{6,}}")
_GLUE = re.compile(
    rf"(?<=[0-9])[#&@](?=[0-9])"  # 713#555#0147
    rf"|(?<=(?<![0-9])[0-9]),(?=[0-9](?![0-9]))"  # 7,1,3,5,…
    rf"|(?<={PAD}),(?=\s*[0-9{WEAK_ZERO}{WEAK_ONE}])"  # seven one three, five five five
)
_HAS_SPECIAL = re.compile(f"[{_SPECIAL}]")
_GROUP = re.compile(rf"[0-9{_SPECIAL}]+")
_TO_DIGIT = str.maketrans({WEAK_ZERO: "0", WEAK_ONE: "1", PAD: None})
# Words after which a number is an identifier or a code, not a phone ("Post #99812",
# "ID: 7623481902", "zip 33101", "order no. 1234567"); checked on the text before a run.
_ID_WORDS: Final = frozenset({
    "post", "posting", "listing", "ref", "reference", "order", "invoice", "item", "sku",
    "ticket", "case", "confirmation", "tracking", "account", "acct", "zip", "postal", "id",
    "serial", "model", "vin", "lot", "ssn",
})  # fmt: skip
_NUMBER_WORDS: Final = frozenset({"no", "num", "number", "code", "id"})  # "order no.", "zip code"
_HASH_WORDS: Final = frozenset({"ad", "post", "listing", "order", "item", "ref"})  # "ad #"
_DATE_LIKE = re.compile(
    r"(?:19|20)[0-9]{2}([-/.])[0-9]{1,2}\1[0-9]{1,2}|[0-9]{1,2}([-/.])[0-9]{1,2}\2(?:19|20)?[0-9]{2}"
)
_UNIT_AFTER = re.compile(
    r"\s?(?:%|(?:lbs?|kgs?|cm|mm|ft|in|inch|inches|mi|km|miles|usd|dollars|roses?|hrs?|"
    r"hours?|mins?|minutes|am|pm|k|yo|years?)\b)"
)
_CURRENCY = frozenset("$€£¥")
_PLAIN = re.compile(r"\+?\(?[0-9]+(?:(?:\) ?|[ .-])[0-9]+)*")
_PLAIN_GROUP = re.compile(r"[0-9]+")
_NON_DIGIT = re.compile(r"[^0-9]+")
_WORD = re.compile(r"[a-z]+")

_TEN: Final = frozenset({(10,), (3, 7), (3, 3, 4), (6, 4), (3, 3, 2, 2)})
_NANP_SHAPES: Final = _TEN | {(1, *s) for s in _TEN} | {(s[0] + 1, *s[1:]) for s in _TEN}


class _Group(NamedTuple):
    digits: str
    start: int  # span in the projected text
    end: int
    weak: bool  # only look-alike letters (o, l, i) standing for digits


class _Hit(NamedTuple):
    first: int  # index of the first and last group of the number
    last: int
    number: ValidNumber
    whole: bool  # the number is the whole run, not a window cut from it


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


def _groups(projected: str, start: int, end: int) -> list[_Group]:
    """The digit groups of a candidate run, without weak ends, currency or unit groups."""
    if _HAS_SPECIAL.search(projected, start, end):
        groups = [
            _Group(
                m.group().translate(_TO_DIGIT), m.start(), m.end(), not m.group().strip(_SPECIAL)
            )
            for m in _GROUP.finditer(projected, start, end)
        ]
        while groups and groups[0].weak:
            groups.pop(0)
        while groups and groups[-1].weak:
            groups.pop()
    else:
        groups = [
            _Group(m.group(), m.start(), m.end(), False)
            for m in _GROUP.finditer(projected, start, end)
        ]
    if groups and projected[groups[0].start - 1 : groups[0].start] in _CURRENCY:
        groups.pop(0)
    if groups and _UNIT_AFTER.match(projected, groups[-1].end):
        groups.pop()
    return groups


def _shape(groups: list[_Group]) -> tuple[int, ...]:
    """Group sizes, consecutive one-digit groups ("6 1 9 …") counting as one group."""
    sizes: list[int] = []
    previous_single = False
    for group in groups:
        single = len(group.digits) == 1
        if single and previous_single:
            sizes[-1] += 1
        else:
            sizes.append(len(group.digits))
        previous_single = single
    return tuple(sizes)


def _window_lengths(digits: str, a: int, plus: bool, nanp: bool) -> range | tuple[int, ...]:
    if plus and a == 0:
        return range(min(len(digits), 15), 7, -1)
    if nanp:
        return (11, 10) if digits[a] == "1" else (10,)
    return range(min(len(digits) - a, 15), 6, -1)


def _numbers(groups: list[_Group], region: str, plus: bool, whole: bool = True) -> list[_Hit]:
    """The valid phone numbers in a run: the whole run, or windows on group boundaries."""
    digits = "".join(g.digits for g in groups)
    n = len(digits)
    nanp = region in NANP_REGIONS
    if whole and n <= 17 and (plus or not nanp or n in (10, 11) or digits.startswith("011")):
        whole = validate(digits, region, plus)
        if whole is not None:
            return [_Hit(0, len(groups) - 1, whole, True)]
    starts = [0]
    for g in groups:
        starts.append(starts[-1] + len(g.digits))
    ends = {offset: k for k, offset in enumerate(starts)}  # digit offset -> group index
    hits: list[_Hit] = []
    first = 0
    while first < len(groups):
        a = starts[first]
        hit = None
        for length in _window_lengths(digits, a, plus, nanp):
            last = ends.get(a + length, 0) - 1
            if last < first:
                continue
            window_plus = plus and first == 0
            if nanp and not window_plus and _shape(groups[first : last + 1]) not in _NANP_SHAPES:
                continue
            number = validate(digits[a : a + length], region, window_plus)
            if number is not None:
                hit = _Hit(first, last, number, False)
                break
        if hit is None:
            first += 1
        else:
            hits.append(hit)
            first = hit.last + 1
    return hits


def _project(lowered: str) -> str:
    """The text phones are matched on: digit words as digits and odd separators as spaces.

    Same length as ``lowered``. Hard stops become spaces where they only separate digits:
    a "#", "&" or "@" between two digits ("713#555#0147"), commas between single digits
    ("7,1,3,…") or after spelled-out digits ("seven one three, five five five"), so
    prices ("1,200") and list punctuation elsewhere still end a run.
    """
    projected = project_digit_words(lowered.replace("_", " "))
    if "," in projected or "#" in projected or "&" in projected or "@" in projected:
        projected = _GLUE.sub(" ", projected)
    return projected


def _is_obfuscated(raw: str) -> bool:
    """True unless ``raw`` is written the plain way parsers expect.

    Plain is ASCII digits in at most five groups with one space, dot or dash between them,
    an optional "+" and brackets around the area code.
    """
    return not (_PLAIN.fullmatch(raw) and len(_PLAIN_GROUP.findall(raw)) <= 5)


def _is_identifier(projected: str, start: int) -> bool:
    """True when the text before a run names it an identifier (post id, order no., zip)."""
    window = projected[max(0, start - 24) : start]
    before = window.rstrip(" #:.-\n")
    if not before[-1:].isalpha():
        return False
    words = _WORD.findall(before)
    last = words[-1]
    if last in _NUMBER_WORDS and len(words) > 1 and words[-2] in _ID_WORDS | _HASH_WORDS:
        return True  # "post id", "order no.", "zip code", "ad no" ("area code" is not)
    if last in _HASH_WORDS and "#" in window[len(before) :]:
        return True  # "ad #", "listing #"
    return last in _ID_WORDS


def _lead_in(projected: str, start: int) -> tuple[int, bool]:
    """Extend a run back over an opening bracket and a "+"; say whether there was one."""
    if projected[start - 1 : start] in ("(", "[", "{"):
        start -= 1
    if projected[start - 1 : start] == "+":
        return start - 1, True
    if projected[start - 2 : start] == "+ ":
        return start - 2, True
    return start, False


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
    projected = _project(lowered)
    mentions: list[PhoneMention] = []
    for cand in _CANDIDATE.finditer(projected):
        start, plus = _lead_in(projected, cand.start())
        if _is_identifier(projected, start):
            continue
        for begin, end, number, whole in _hits(projected, cand, start, plus, region):
            begin, end = norm.span(begin, end)
            raw = text[begin:end]
            mentions.append(
                PhoneMention(
                    raw=raw,
                    start=begin,
                    end=end,
                    extractor=EXTRACTOR,
                    confidence=1.0 if whole else 0.8,
                    e164=number.e164,
                    obfuscated=_is_obfuscated(raw),
                    region=number.region,
                    geo=number.geo,
                )
            )
    return mentions


def _hits(
    projected: str, cand: re.Match[str], start: int, plus: bool, region: str
) -> list[tuple[int, int, ValidNumber, bool]]:
    """Numbers in one candidate run: ``(start, end, number, whole)``, projected offsets."""
    run = cand.group()
    if _DATE_LIKE.search(run):
        plus = False  # a date inside: only windows shaped like phone numbers count
    elif (
        _HAS_SPECIAL.search(run) is None
        and projected[cand.start() - 1 : cand.start()] not in _CURRENCY
        and _UNIT_AFTER.match(projected, cand.end()) is None
    ):  # the common case: plain digits making one number
        digits = _NON_DIGIT.sub("", run)
        if len(digits) in (10, 11) or (plus and len(digits) <= 17):
            number = validate(digits, region, plus)
            if number is not None:
                return [(start, cand.end(), number, True)]
    groups = _groups(projected, cand.start(), cand.end())
    if not groups:
        return []
    plus = plus and groups[0].start == cand.start()
    found = []
    for hit in _numbers(groups, region, plus, whole=_DATE_LIKE.search(run) is None):
        begin = start if hit.first == 0 and groups[0].start == cand.start() else None
        found.append(
            (
                groups[hit.first].start if begin is None else begin,
                groups[hit.last].end,
                hit.number,
                hit.whole,
            )
        )
    return found
