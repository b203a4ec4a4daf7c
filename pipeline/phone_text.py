"""The text phone numbers are matched on, and what surrounds a run of digits.

`project` turns the lower-cased normalized text of an ad into the same-length text the
candidate pattern runs on: digit words become digits (`pipeline.digitwords`), and marks
that only glue digits together become spaces. `lead_in` and `is_identifier` read what
comes just before a run: a "+" or bracket that belongs to it, a cue ("post id", "zip",
"order no.") that makes its first group an identifier.
"""

from __future__ import annotations

import itertools
import re
from typing import Final

from pipeline.digitwords import PAD, WEAK_ONE, WEAK_ZERO, project_digit_words

# Stops the candidate pattern lets through; `pieces` keeps them only where they glue digits.
_STOP = re.compile(r"[,#&@+':]")
_MARKERS_TO_SPACE = str.maketrans({PAD: " ", WEAK_ZERO: " ", WEAK_ONE: " "})
# 702,555,0123 / 702'555'0123 / 702:555:0123 — a 4-digit last group is no thousands or time
_PUNCTUATED = re.compile(r"[0-9]{3}([,':])[0-9]{3}\1[0-9]{4}(?![0-9])")
_ROUND_THE_CLOCK = re.compile(r"24 ?[/x-] ?7(?![0-9])")  # literal start: a fast scan
_DIGITISH = frozenset("0123456789" + WEAK_ZERO + WEAK_ONE)
_NOT_BEFORE_PUNCTUATED = _DIGITISH | {",", "'", ".", ":"}  # else 702,555,0123 is a tail
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
_CUES = _ID_WORDS | _NUMBER_WORDS | _HASH_WORDS
_LAST_LETTERS = frozenset(word[-1] for word in _CUES)


def project(lowered: str) -> str:
    """The text phones are matched on: digit words as digits and odd separators as spaces.

    Same length as ``lowered``; "24/7" becomes a hard stop so it never joins a number.
    """
    if PAD in lowered or WEAK_ZERO in lowered or WEAK_ONE in lowered:
        lowered = lowered.translate(_MARKERS_TO_SPACE)  # our markers, if the ad had them
    projected = project_digit_words(lowered.replace("_", " "))
    if "24" in projected:  # "available 24/7" next to a number is not part of it
        projected = _ROUND_THE_CLOCK.sub(lambda m: _clock(m, projected), projected)
    return projected


def pieces(projected: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a candidate run at the stops that end a number there.

    The candidate pattern lets ``, # & @ + ' :`` join digits; here each one in the run is
    kept only where it glues digits together (see `_glues`) and otherwise cuts the run.
    """
    stops = _STOP.finditer(projected, start, end)
    cuts = [m.start() for m in stops if not _glues(projected, m.start())]
    if not cuts:
        return [(start, end)]
    bounds = [start, *cuts, end]
    return [(a if a == start else a + 1, b) for a, b in itertools.pairwise(bounds)]


def _glues(text: str, at: int) -> bool:
    """Whether the stop at ``at`` only separates digits of one number."""
    stop = text[at]
    before = text[at - 1 : at]
    after = text[at + 1 : at + 2]
    if stop in "'," or stop == ":":
        for begin in (at - 3, at - 7):  # 702,555,0123 / 702'555'0123 / 702:555:0123
            lone = text[begin - 1 : begin] not in _NOT_BEFORE_PUNCTUATED
            if begin >= 0 and lone and _PUNCTUATED.match(text, begin):
                return True
        if stop != ",":
            return False
    if stop in "#&@+":
        return before.isdigit() and after.isdigit()  # 713#555#0147, 713+555+0147
    if before == PAD:  # seven one three, five five five
        return text[at + 1 : at + 3].strip()[:1] in _DIGITISH
    return (  # a comma between single digits: 7,1,3,5,…
        after.isdigit()
        and before.isdigit()
        and not text[at + 2 : at + 3].isdigit()
        and not text[at - 2 : at - 1].isdigit()
    )


def _clock(match: re.Match[str], text: str) -> str:
    if text[match.start() - 1 : match.start()].isdigit():
        return match.group()  # "…124/7…" is not "24/7"
    return ";" * len(match.group())


def is_identifier(projected: str, start: int) -> bool:
    """True when the text before a run names it an identifier (post id, order no., zip)."""
    window = projected[max(0, start - 24) : start]
    before = window.rstrip(" #:.-\n")
    if before[-1:] not in _LAST_LETTERS:
        return False  # not the end of a cue word
    token = before.rsplit(None, 1)[-1]
    if len(token) <= 12 and token.isascii() and token.isalpha() and token not in _CUES:
        return False  # most runs: the word right before ("call", "at") is no cue
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
