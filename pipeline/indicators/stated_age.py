"""Stated ages under 20: ``stated_age_minor`` (10-17) and ``stated_age_young`` (18, 19).

The age entities of `pipeline.entities.ages` ("Age 15", "I'm 17", "16yo", "fifteen years
old", "Mia, 19,", "18 years young") are the main source; a few forms they leave out are
read here, each only where the `TRIGGERS` automaton list saw its cue word:

    barely 17 · just 16, · only 19     "barely"/"just"/"only" before a lone number  firm
    16 years of age                    (not "must be 18 years of age")              firm
    Mia 19, · Mia (17) · Bella | 19    a lone number right after a first name       firm
    Sixteen, new in town · 19 and fun  a number 10-19 opening a clause, alone       weak

An age is not the advertised person's when it is a group's ("all ages 18 and over",
"ages 10 and under": the plural cue "ages"; "15 and under"), or when a word of the
``age_not_self`` list comes shortly before it in the clause ("my son is 15 years old",
"puppies, 12 weeks"). Disclaimers ("18+", "over 18", "must be 18") are no ages at all.
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.entities.ages import age_value, find_ages
from pipeline.entities.base import Doc, word_list
from pipeline.entities.firstnames import is_first_name
from pipeline.indicators.scan import Candidate, Scan
from pipeline.textnorm import NormalizedText
from schemas import Entity

MINOR: Final = "stated_age_minor"
YOUNG: Final = "stated_age_young"
ADULT: Final = 18
YOUNG_UNTIL: Final = 20
TRIGGER_LIST: Final = "_age"
_TEENS: Final = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                 "seventeen", "eighteen", "nineteen")  # fmt: skip
_NUMBERS: Final = (*_TEENS, *(str(n) for n in range(10, 20)))
_LEADS: Final = ("barely", "just", "only")
TRIGGERS: Final = ("of age", *_NUMBERS, *(f"{w} {n}" for w in _LEADS for n in _NUMBERS))

_NUM = rf"(?P<n>1[0-9]|{'|'.join(_TEENS)})"
_ALONE = (
    r"(?=[ ]*(?:,(?! *\d)|[!;)]|\.(?!\d)|$|\n|"
    r" +(?:and|&|n) +(?!(?:up|over|older|above|under|younger|below)\b|\d)[a-z]|"
    r" +[^\x00-\x7f]))"
)
_BARELY = re.compile(rf"(?:barely|just|only) +{_NUM}{_ALONE}")
_OF_AGE = re.compile(rf"{_NUM}[ \-]*(?:years?|yrs?)[ \-]+of +age$")
_LIMIT = re.compile(r"\b(?:must +be|be|at +least|over|under|minimum|min|above)\s+$")
_OPENING = re.compile(rf"{_NUM}{_ALONE}")
# a name, then the number alone or set off: "Mia 19", "Mia (17)", "Bella | 19", "Bella - 19"
_NAME_BEFORE = re.compile(r"\b([A-Z][a-z]+)(?: +| *[|~\-] *| *\()$")
_SET_OFF = re.compile(rf"{_NUM}(?:\)|(?=[ ]*[|~\-])|{_ALONE})")
_GROUP_AFTER = re.compile(
    r" *(?:(?:and|or|&|-) *(?:under|younger|below|less|up|over|older)\b"
    r"|(?:years?|yrs?) +(?:in|of|experience|exp|ago|with|as|on|at)\b)"
)
_CLAUSE = re.compile(r"[.!?;\n]")
_WORD = re.compile(r"[a-z']+")
_CLAUSE_STARTS: Final = frozenset(".!?\n•*~|")


def is_young(value: str) -> bool:
    """True for an age entity value under 20, the ages these flags are about."""
    return value.isdigit() and int(value) < YOUNG_UNTIL


def _belongs_to_advertiser(scan: Scan, start: int, end: int) -> bool:
    """False for a group's age or someone else's ("ages 10 and under", "my son is 15")."""
    lower = scan.view.lower
    if lower.startswith("ages", start) or _GROUP_AFTER.match(lower, end):
        return False
    head = lower[max(0, start - 40) : start]
    breaks = list(_CLAUSE.finditer(head))
    head = head[breaks[-1].end() :] if breaks else head
    others = scan.lex.phrases("age_not_self")
    return not any(w in others for w in _WORD.findall(head)[-5:])


def _entity_spans(norm: NormalizedText, ages: list[Entity]) -> list[tuple[int, int, int]]:
    """``(start, end, age)`` of age entities in normalized offsets."""
    if norm.offsets.is_identity:
        return [(e.start, e.end, int(e.value)) for e in ages]
    wanted = {(e.start, e.end) for e in ages}
    return [
        (f.start, f.end, int(f.value))
        for f in find_ages(Doc.of(norm.text))
        if norm.span(f.start, f.end) in wanted
    ]


def _supplements(scan: Scan) -> list[tuple[int, int, int, bool]]:
    """``(start, end, age, weak)`` of the forms the age entities leave out."""
    lower, text = scan.view.lower, scan.view.text
    found: list[tuple[int, int, int, bool]] = []
    for start, end in scan.hits.get(TRIGGER_LIST, ()):
        word = lower[start:end]
        m: re.Match[str] | None
        if word.startswith(_LEADS):
            m = _BARELY.match(lower, start)
            if m is not None:
                found.append((start, m.end(), _age(m.group("n")), False))
        elif word == "of age":
            m = _OF_AGE.search(lower, max(0, start - 24), end)
            if m is not None and not _LIMIT.search(lower, max(0, m.start() - 16), m.start()):
                found.append((m.start(), end, _age(m.group("n")), False))
        elif _named(text, start):
            m = _SET_OFF.match(lower, start)
            if m is not None:
                found.append((start, end, _age(m.group("n")), False))
        else:
            m = _OPENING.match(lower, start)
            before = lower[:start].rstrip()
            if m is not None and (not before or before[-1] in _CLAUSE_STARTS):
                found.append((start, m.end(), _age(m.group("n")), True))
    return found


def _named(text: str, start: int) -> bool:
    """True when a first name comes right before ``start`` ("Mia 19", "Mia (17)")."""
    m = _NAME_BEFORE.search(text, max(0, start - 24), start)
    if m is None:
        return False
    name = m.group(1)
    return is_first_name(name) and name.lower() not in word_list("name_stopwords.txt")


def _age(number: str) -> int:
    age = age_value(number)
    assert age is not None  # _NUM only matches 10-19
    return age


def age_candidates(
    scan: Scan, norm: NormalizedText, entities: list[Entity]
) -> dict[str, list[Candidate]]:
    """Candidates of the two stated-age flags, in normalized offsets, by flag id."""
    young = [e for e in entities if e.type == "age" and is_young(e.value)]
    found = [(s, e, age, False) for s, e, age in _entity_spans(norm, young)] if young else []
    if TRIGGER_LIST in scan.hits:
        found += _supplements(scan)
    out: dict[str, list[Candidate]] = {}
    for start, end, age, weak in found:
        if not _belongs_to_advertiser(scan, start, end):
            continue
        flag = MINOR if age < ADULT else YOUNG
        note = f"stated age {age}" + (" (under 18)" if age < ADULT else "")
        out.setdefault(flag, []).append(Candidate(start, end, weak, note))
    return out
