"""Stated ages, in digits or words, between 10 and 79.

    age 19 · aged 21 · age: nineteen               "age" before the number   0.95
    19 years old · 19-year-old · 19yo · 19 y/o     a unit after it           0.95
    21yrs · 21 yrs                                 bare "yrs"                0.8
    I'm 19 · I am nineteen                         "I'm" before it           0.85
    just turned 18                                                           0.9
    Mia, 19, · in town, 19.                        a lone number in commas   0.6
                                                   (0.8 after a capitalized word)
Not ages: "18+" and "18 and up" disclaimers, "must be 18 years old" and other age limits
("over", "under", "at least"), durations ("for 19 years", "21 yrs of experience"),
measures and prices ("I'm 20 minutes away", "5'7", "36D", "24/7", "$19").
The value is the age as a decimal string ("19").
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.entities.base import Doc, Found, matches_at

KIND: Final = "age"
MIN_AGE: Final = 10
MAX_AGE: Final = 79

_UNITS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
         "seventy": 70}  # fmt: skip
_ONES = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9}  # fmt: skip

_WORD = rf"(?:{'|'.join(_UNITS)}|(?:{'|'.join(_TENS)})(?:[\s\-]?(?:{'|'.join(_ONES)}))?)"
# a number standing alone, and one glued to a unit ("19yo")
_NUMBER = rf"(?<![\d.$'/])(?P<n>[1-9][0-9](?![0-9a-z])|{_WORD}(?![a-z]))"
_NUMBER_UNIT = rf"(?<![\d.$'/])(?P<n>[1-9][0-9](?![0-9])|{_WORD})"
# what may not follow a number for it to be an age
_NOT_AGE_AFTER = (
    r"(?!\s*(?:\+|%|/|'|\"|[.,:\-]\d|\$|"
    r"(?:and|or|&)\s+(?:up|over|older|above)|"
    r"(?:min(?:ute)?s?|mi|miles?|hours?|hrs?|h|am|pm|lbs?|pounds|kgs?|ft|feet|inch(?:es)?|"
    r"cm|k|x|th|st|nd|rd|dollars?|usd|roses?|percent|times|blocks?|days?|weeks?|"
    r"months?|people|girls|guys|yards?|years?(?!\s+(?:old|young)))\b))"
)
_LIMIT_BEFORE = re.compile(
    r"(?:\b(?:must\s+be|be|at\s*least|over|under|above|below|atleast|minimum|min|"
    r"for|in|past|last|about|within|after|than|since|nearly|almost)\s+)$"
)
# a cue, then the number: "age 19", "I'm 19", "just turned 18"
_CUE_AGE = re.compile(
    r"(?:(?P<age>age[ds]?\s*(?:is\s+|of\s+|[:=\-]\s*)?(?:just\s+)?)"
    r"|(?P<im>i'?m\s+(?:just\s+|only\s+|now\s+)?|i\s+am\s+(?:just\s+|only\s+|now\s+)?)"
    r"|(?P<turned>turned\s+))"
    rf"{_NUMBER}{_NOT_AGE_AFTER}"
)
# cue words (as `Doc.words` holds them) -> where the cue starts in the lower-case text
_CUE_STARTS: Final = {"age": "age", "aged": "age", "ages": "age", "i'm": "i'm", "im": "im",
                      "am": "i am", "turned": "turned"}  # fmt: skip
_CUE_WORDS: Final = frozenset(_CUE_STARTS)
_CUE_CONFIDENCE: Final = {"age": 0.95, "im": 0.85, "turned": 0.9}
# the number, then a unit: "19 years old", "19yo", "21yrs"; searched for around the unit
_UNIT_AGE = re.compile(
    rf"\b{_NUMBER_UNIT}(?:(?P<old>[\s\-]*(?:years?|yrs?|yr)[\s\-]*(?:old|young)\b)"
    r"|(?P<yo>\s*(?:y/o|y\.o\.?|yo)(?![a-z]))"
    r"|(?P<yrs>\s*yrs?\b(?!\s+(?:of|ago|exp|experience|in|with|as)\b)))"
)
# unit words -> the strings that locate the unit
_UNIT_STARTS: Final = {"old": ("old",), "young": ("young",), "yo": ("yo",), "y": ("y/o", "y.o"),
                       "yr": ("yr",), "yrs": ("yr",)}  # fmt: skip
_UNIT_WORDS: Final = frozenset(_UNIT_STARTS)
_UNIT_CONFIDENCE: Final = {"old": 0.95, "yo": 0.95, "yrs": 0.8}
# "Mia, 19," / "in town, 19." : a lone number between commas (or before the sentence end)
_COMMA_AGE = re.compile(
    r",[ \t]*(?P<n>[1-7][0-9])(?=[ \t]*(?:[,;!)]|\.(?!\d)|$|\n|\s+(?:and|&|yrs?|years?)\b))"
)
_WORD_BEFORE = re.compile(r"[\w']+$")
_WORD_SPLIT = re.compile(r"[\s\-]+")


def age_value(number: str) -> int | None:
    """The age a number in digits or words stands for, None outside 10–79."""
    if number.isdigit():
        age = int(number)
    else:
        words = _WORD_SPLIT.split(number.lower())
        if words[0] in _UNITS:
            age = _UNITS[words[0]]
        else:
            age = _TENS[words[0]] + (_ONES[words[1]] if len(words) > 1 else 0)
    return age if MIN_AGE <= age <= MAX_AGE else None


def _unit_ages(lower: str, needles: set[str]) -> list[re.Match[str]]:
    """Matches of `_UNIT_AGE` around each unit needle ("19yo", "19 years old")."""
    found: list[re.Match[str]] = []
    for needle in needles:
        i = lower.find(needle)
        while i != -1:
            j = i + len(needle)
            if needle == "yr" or not lower[j : j + 1].isalpha():  # not "you", "older"
                for m in _UNIT_AGE.finditer(lower, max(0, i - 26), min(len(lower), j + 16)):
                    if m.start() <= i < m.end():
                        found.append(m)
            i = lower.find(needle, j)
    return found


def find_ages(doc: Doc) -> list[Found]:
    """Stated ages in ``doc``; the value is the age as a string."""
    lower = doc.lower
    found: list[Found] = []
    seen: set[int] = set()
    cues = doc.words & _CUE_WORDS
    for m in matches_at(_CUE_AGE, lower, {_CUE_STARTS[w] for w in cues}) if cues else ():
        age = age_value(m.group("n"))
        if age is not None and m.start("n") not in seen:
            seen.add(m.start("n"))
            cue = next(k for k in _CUE_CONFIDENCE if m.group(k) is not None)
            found.append(Found(KIND, m.start(), m.end(), str(age), _CUE_CONFIDENCE[cue]))
    units = doc.words & _UNIT_WORDS
    for m in _unit_ages(lower, {n for w in units for n in _UNIT_STARTS[w]}) if units else ():
        age = age_value(m.group("n"))
        if age is None or m.start("n") in seen:
            continue
        if _LIMIT_BEFORE.search(lower, max(0, m.start() - 14), m.start()):
            continue  # "must be 18 years old"
        seen.add(m.start("n"))
        unit = next(k for k in _UNIT_CONFIDENCE if m.group(k) is not None)
        found.append(Found(KIND, m.start(), m.end(), str(age), _UNIT_CONFIDENCE[unit]))
    if "," in lower:
        for m in _COMMA_AGE.finditer(lower):
            before = _WORD_BEFORE.search(doc.text, max(0, m.start() - 30), m.start())
            if m.start("n") in seen or before is None or before.group()[-1].isdigit():
                continue  # a list of numbers ("sizes 10, 12, 14"), not an age
            word = before.group()
            confidence = 0.8 if word[0].isupper() and word[1:].islower() else 0.6
            found.append(Found(KIND, m.start("n"), m.end("n"), m.group("n"), confidence))
    return found
