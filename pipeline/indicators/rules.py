"""Rules of the word-based content indicators: each turns list hits into candidates.

    youth_language     its phrases; a weak youth word ("young", "innocent", 🍒) is firm
                       when a person noun follows within two words ("young and sweet girl")
    movement           its phrases ("new in town", "here until", ✈️)
    third_party        its phrases ("my manager", "text her"); "ask for <Name>" (weak;
                       a lower-case name must be a known first name: "ask for jade")
    multiple_persons   its phrases ("duo", "girls on shift"); a quantifier before a plural
                       person noun ("2 ladies", "several new girls", "two friends")
    always_available   its phrases ("available 24/7"; "anytime" is weak)

Every cue is dropped when a negator covers it (`pipeline.indicators.negation`). Hotel,
police and pricing rules are in `pipeline.indicators.logistics`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Final

from pipeline.entities.base import word_list
from pipeline.entities.firstnames import is_first_name
from pipeline.indicators.scan import Candidate, Scan

PERSON_NOUNS: Final = "person_nouns"
QUANTIFIERS: Final = "quantifiers"
ASK_FRAMES: Final = "ask_frames"
ASK_NOT_NAMES: Final = "ask_not_names"
MAX_QUANTITY: Final = 30

# between a youth word and the person it describes: up to two words ("young and sweet girl")
_DESCRIBES = re.compile(r"[ ,&]+(?:[a-z']+[ ,&]+){0,2}")
# the word after "ask for" (quoted or not): a capitalized word, or a known first name
_NAME_AFTER = re.compile(r"[ \t]+[\"'(]?([A-Za-z][A-Za-z']{1,20})(?![A-Za-z0-9])")
_WORD_OR_STOP = re.compile(r"[^\s.,;:!?()\[\]]+|[.,;:!?()\[\]]")


def phrase_candidates(scan: Scan, indicator: str, note: str) -> list[Candidate]:
    """Hits of ``<indicator>`` (firm) and ``<indicator>.weak`` (weak) that no negator covers."""
    out = []
    for name, weak in ((indicator, False), (f"{indicator}.weak", True)):
        for start, end in scan.hits.get(name, ()):
            if scan.negator(start) is None:
                out.append(Candidate(start, end, weak, note))
    return out


def _person_after(scan: Scan, end: int) -> int | None:
    """End of a person noun that the word ending at ``end`` describes, else None."""
    for start, noun_end in scan.hits.get(PERSON_NOUNS, ()):
        if start > end and start - end <= 30 and _DESCRIBES.fullmatch(scan.view.match, end, start):
            return noun_end
    return None


def youth_language(scan: Scan) -> list[Candidate]:
    """Youth-suggestive words and emoji; a weak one is firm when it describes a person."""
    out = []
    for cand in phrase_candidates(scan, "youth_language", "youth-suggestive wording"):
        if cand.weak:
            noun_end = _person_after(scan, cand.end)
            if noun_end is not None:
                cand = Candidate(cand.start, noun_end, False, "youth-suggestive word for a person")
        out.append(cand)
    return out


def movement(scan: Scan) -> list[Candidate]:
    """Transient wording: arriving, leaving, touring, a short stay."""
    return phrase_candidates(scan, "movement", "transient wording (arriving, leaving, touring)")


def always_available(scan: Scan) -> list[Candidate]:
    """Round-the-clock availability."""
    return phrase_candidates(scan, "always_available", "round-the-clock availability")


@cache
def _not_names() -> frozenset[str]:
    return word_list("name_stopwords.txt")


def third_party(scan: Scan) -> list[Candidate]:
    """Someone else handles contact or booking; "ask for <Name>" is a weak cue."""
    out = phrase_candidates(scan, "third_party", "someone else handles contact or booking")
    frames = scan.hits.get(ASK_FRAMES, ())
    if frames:
        not_names = _not_names() | scan.lex.phrases(ASK_NOT_NAMES)
        for start, end in frames:
            m = _NAME_AFTER.match(scan.view.text, end)
            if m is None or m.group(1).lower() in not_names or scan.negator(start) is not None:
                continue
            if m.group(1)[0].isupper() or is_first_name(m.group(1)):  # "ask for jade"
                out.append(Candidate(start, m.end(1), True, "contact goes through a named person"))
    return out


def _is_quantity(word: str, quantifiers: frozenset[str]) -> bool:
    if word.isdigit():
        return 2 <= int(word) <= MAX_QUANTITY
    return word in quantifiers


def quantifier_before(scan: Scan, start: int) -> int | None:
    """Offset of a quantifier one or two words before ``start`` ("2 ladies", "two new girls")."""
    begin = max(0, start - 32)
    words = list(_WORD_OR_STOP.finditer(scan.view.lower, begin, start))[-2:]
    quantifiers = scan.lex.phrases(QUANTIFIERS)
    if words and _is_quantity(words[-1].group(), quantifiers):
        return words[-1].start()
    if (
        len(words) == 2
        and words[1].group().isalpha()
        and _is_quantity(words[0].group(), quantifiers)
    ):
        return words[0].start()
    return None


def multiple_persons(scan: Scan) -> list[Candidate]:
    """Several people offered: fixed phrases, or a quantity before a plural person noun."""
    note = "more than one person offered"
    out = phrase_candidates(scan, "multiple_persons", note)
    match = scan.view.match
    for start, end in scan.hits.get(PERSON_NOUNS, ()):
        if not match[start:end].endswith(("s", "women")):
            continue  # "girls", "ladies", "women", "friends": plural nouns only
        q = quantifier_before(scan, start)
        if q is not None and scan.negator(q) is None:
            out.append(Candidate(q, end, False, note))
    return out
