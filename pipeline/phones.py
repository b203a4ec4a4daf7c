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
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberFormat

from pipeline.digitwords import PAD, WEAK_ONE, WEAK_ZERO, project_lookalikes
from pipeline.phone_runs import numbers_in_run
from pipeline.phone_text import is_identifier, lead_in, pieces, project
from pipeline.phone_validate import NANP_REGIONS, clear_cache
from pipeline.textnorm import NormalizedText, normalize
from schemas import PhoneMention

__all__ = ["EXTRACTOR", "PhoneNumberError", "clear_cache", "extract_phones", "normalize_phone"]

EXTRACTOR: Final = "adwatch.phones"

# Possessive quantifiers: separators, digits and padding are disjoint classes, so giving
# back what a quantifier took can never help a match (and failing fast is most of a scan).
_DIG = rf"[0-9{WEAK_ZERO}{WEAK_ONE}]{PAD}*+"
_SEP_CHARS = rf"^\w{PAD}{WEAK_ZERO}{WEAK_ONE};!?$€£¥%\""  # "_" is made a space before matching
_SEP = rf"[{_SEP_CHARS}]"
_CANDIDATE = re.compile(rf"{_DIG}(?:{_SEP}{{0,8}}+{_DIG}){{6,}}")
# The same runs, with look-alike letters not yet read: a letter o/l/i counts as a digit
# when its run of o/l/i has no letter after it (nor before it: a separator or a digit is
# always there). A run starts on a real digit; `_lookalikes_before` finds any before it.
# In NANP regions every number has ten digits, so a run needs seven units without any
# look-alike before it; elsewhere, numbers of seven or eight digits may start with two.
_LOOKALIKE = r"[oli](?=[oli]*(?![a-z]))"
_SCAN_UNIT = rf"(?:{_SEP}{{0,8}}+(?:{_DIG}|{_LOOKALIKE}))"
_SCAN_NANP = re.compile(rf"{_DIG}{_SCAN_UNIT}{{6,}}")
_SCAN_OTHER = re.compile(rf"{_DIG}{_SCAN_UNIT}{{2,}}")
_SEP_CHAR = re.compile(_SEP)
_HAS_STOP = re.compile(r"[,#&@+':]")
_HAS_LOOKALIKE = re.compile("[oli]")
_PLAIN = re.compile(r"\(?\+?\(?[0-9]+(?:(?:\)[ .-]?|[ .-]\(?|\()[0-9]+)*")
_PLAIN_GROUP = re.compile(r"[0-9]+")


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


@lru_cache(maxsize=65_536)
def _is_obfuscated(raw: str) -> bool:
    """True unless ``raw`` is written the plain way parsers expect.

    Plain is ASCII digits in at most five groups with one space, dot or dash between them,
    an optional "+" and brackets around the area code.
    """
    if not _PLAIN.fullmatch(raw):
        return True
    sizes = [len(g) for g in _PLAIN_GROUP.findall(raw)]
    if len(sizes) <= 5:
        return False
    # "+33 1 00 00 00 00": international format, pairs after the first two groups
    return not (raw.startswith("+") and len(sizes) <= 7 and min(sizes[2:]) >= 2)


def extract_phones(
    text: str, region: str = "US", normalized: NormalizedText | None = None
) -> list[PhoneMention]:
    """Find phone numbers in ``text`` written in any style; offsets index into ``text``.

    ``region`` is the ISO country the ad comes from (numbers without a country code are
    read as that country's). Pass ``normalized`` when the caller already has it.
    """
    norm = normalized if normalized is not None else normalize(text)
    lowered = norm.text.lower()
    if len(lowered) != len(norm.text):  # lower() expanded a letter (İ): one for one instead
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in norm.text)
    projected = project(lowered)
    mentions: list[PhoneMention] = []
    done = 0
    scan = _SCAN_NANP if region in NANP_REGIONS else _SCAN_OTHER
    for found in scan.finditer(projected):
        wide_start, wide_end = _lookalikes_before(projected, found.start(), done), found.end()
        done = wide_end
        lookalikes = _HAS_LOOKALIKE.search(projected, wide_start, wide_end) is not None
        if lookalikes:
            projected = project_lookalikes(projected, wide_start, wide_end)
        if lookalikes or scan is _SCAN_OTHER:
            wide = _CANDIDATE.match(projected, wide_start, wide_end)
            if wide is None:
                continue  # fewer than seven digits, counting the look-alikes
            wide_end = wide.end()
        if _HAS_STOP.search(projected, wide_start, wide_end) is None:
            _add_mentions(mentions, text, norm, projected, wide_start, wide_end, region)
            continue
        # a "," or "#" in it: it may be several runs
        for begin, end in pieces(projected, wide_start, wide_end):
            for run in _CANDIDATE.finditer(projected, begin, end):
                _add_mentions(mentions, text, norm, projected, run.start(), run.end(), region)
    return mentions


def _lookalikes_before(projected: str, start: int, floor: int) -> int:
    """Where a run starting at ``start`` begins with the look-alike letters before it.

    "O7O2…", "l 8OO…": runs of o/l/i that no letter precedes, each at most 8 separator
    characters before the next, down to ``floor`` (the end of the previous run).
    """
    while True:
        at = start
        while at > floor and start - at < 8 and _SEP_CHAR.match(projected, at - 1):
            at -= 1
        letters = at
        while letters > floor and projected[letters - 1] in "oli":
            letters -= 1
        if letters == at or "a" <= projected[letters - 1 : letters] <= "z":
            return start
        start = letters


def _add_mentions(
    mentions: list[PhoneMention],
    text: str,
    norm: NormalizedText,
    projected: str,
    run_start: int,
    run_end: int,
    region: str,
) -> None:
    start, plus = lead_in(projected, run_start)
    identified = is_identifier(projected, start)
    found = numbers_in_run(projected, run_start, run_end, start, plus, region, identified)
    for begin, end, number, whole in found:
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
