"""The text phone numbers are matched on, and what surrounds a run of digits.

`project` turns the lower-cased normalized text of an ad into the same-length text the
candidate pattern runs on: digit words become digits (`pipeline.digitwords`), and marks
that only glue digits together become spaces. `lead_in` and `is_identifier` read what
comes just before a run: a "+" or bracket that belongs to it, a cue ("post id", "zip",
"order no.") that makes its first group an identifier.
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.digitwords import PAD, WEAK_ONE, WEAK_ZERO, project_digit_words

# Hard stops that only glue digits together: "713#555#0147", "713+555+0147", "7,1,3,5,…",
# and a comma after a spelled-out digit ("seven one three, five five five"). Checked in `_unglue`.
_GLUE = re.compile(rf"[0-9{PAD}][#&@,+]")
_GLUE_STOPS = ",#&@+"
_MARKERS_TO_SPACE = str.maketrans({PAD: " ", WEAK_ZERO: " ", WEAK_ONE: " "})
# 702,555,0123 / 702'555'0123 / 702:555:0123 — a 4-digit last group is no thousands or time
_PUNCTUATED = re.compile(r"[0-9]{3}([,':])[0-9]{3}\1[0-9]{4}(?![0-9])")
_ROUND_THE_CLOCK = re.compile(r"24 ?[/x-] ?7(?![0-9])")  # literal start: a fast scan
_DIGITISH = frozenset("0123456789" + WEAK_ZERO + WEAK_ONE)
# Words after which a number is an identifier or a code, not a phone ("Post #99812",
# "ID: 7623481902", "zip 33101", "order no. 1234567"); checked on the text before a run.
_ID_WORDS: Final = frozenset({
    "post", "posting", "listing", "ref", "reference", "order", "invoice", "item", "sku",
    "ticket", "case", "confirmation", "tracking", "account", "acct", "zip", "postal", "id",
    "serial", "model", "vin", "lot", "ssn",
})  # fmt: skip
_NUMBER_WORDS: Final = frozenset({"no", "num", "number", "code", "id"})  # "order no.", "zip code"
_HASH_WORDS: Final = frozenset({"ad", "post", "listing", "order", "item", "ref"})  # "ad #"
_WORD = re.compile(r"[a-z]+")


def project(lowered: str) -> str:
    """The text phones are matched on: digit words as digits and odd separators as spaces.

    Same length as ``lowered``. Hard stops become spaces where they only separate digits:
    a "#", "&" or "@" between two digits ("713#555#0147"), commas between single digits
    ("7,1,3,…") or after spelled-out digits ("seven one three, five five five"), so
    prices ("1,200") and list punctuation elsewhere still end a run.
    """
    if PAD in lowered or WEAK_ZERO in lowered or WEAK_ONE in lowered:
        lowered = lowered.translate(_MARKERS_TO_SPACE)  # our markers, if the ad had them
    projected = project_digit_words(lowered.replace("_", " "))
    if "," in projected or "'" in projected or ":" in projected:
        projected = _PUNCTUATED.sub(lambda m: _depunctuate(m, projected), projected)
    if "24" in projected:  # "available 24/7" next to a number is not part of it
        projected = _ROUND_THE_CLOCK.sub(lambda m: _clock(m, projected), projected)
    if any(stop in projected for stop in _GLUE_STOPS):
        projected = _GLUE.sub(lambda m: _unglue(m, projected), projected)
    return projected


def _depunctuate(match: re.Match[str], text: str) -> str:
    if text[match.start() - 1 : match.start()] in _DIGITISH | {",", "'", ".", ":"}:
        return match.group()
    return match.group().replace(match.group(1), " ")


def _clock(match: re.Match[str], text: str) -> str:
    if text[match.start() - 1 : match.start()].isdigit():
        return match.group()  # "…124/7…" is not "24/7"
    return ";" * len(match.group())


def _unglue(match: re.Match[str], text: str) -> str:
    before, stop = match.group()[0], match.group()[1]
    at = match.end()  # just after the stop
    after = text[at : at + 1]
    if stop == "+":
        glued = before != PAD and after.isdigit()  # "713+555": a "+" starts no number here
    elif stop != ",":
        glued = before != PAD and after.isdigit()
    elif before == PAD:
        glued = text[at : at + 2].strip()[:1] in _DIGITISH
    else:  # a comma between single digits
        glued = (
            after.isdigit()
            and not text[at + 1 : at + 2].isdigit()
            and not text[match.start() - 1 : match.start()].isdigit()
        )
    return before + " " if glued else match.group()


def is_identifier(projected: str, start: int) -> bool:
    """True when the text before a run names it an identifier (post id, order no., zip)."""
    window = projected[max(0, start - 24) : start]
    before = window.rstrip(" #:.-\n")
    words = _WORD.findall(before[-12:])
    if not words or not before.endswith(words[-1]):
        return False
    last = words[-1]
    if last in _NUMBER_WORDS and len(words) > 1 and words[-2] in _ID_WORDS | _HASH_WORDS:
        return True  # "post id", "order no.", "zip code", "ad no" ("area code" is not)
    if last in _HASH_WORDS and "#" in window[len(before) :]:
        return True  # "ad #", "listing #"
    return last in _ID_WORDS


def lead_in(projected: str, start: int) -> tuple[int, bool]:
    """Extend a run back over an opening bracket and a "+"; say whether there was one."""
    if projected[start - 1 : start] in ("(", "[", "{"):
        start -= 1
    for lead in ("+", "+ "):
        if projected[start - len(lead) : start] == lead:
            start -= len(lead)
            if projected[start - 1 : start] in ("(", "["):
                start -= 1  # "(+1) 702 555 0123"
            return start, True
    return start, False
