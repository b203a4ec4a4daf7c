"""Rules that read a cue with its neighbours: hotel incall, police screening, coded prices.

Each rule starts from a word list and looks around the hit:

    hotel_incall             a ``lodging`` word (hotel, motel…) that is not negated and is
                             · in the sentence of an ``incall`` word ("Incall at my hotel")
                             · given a room number: "Motel room 12", "hotel rm #4"   firm
                             · mine: "my hotel suite", "my room at the Days Inn"     firm
                             · where one goes: "at the motel by exit 4"              weak
    law_enforcement_evasion  its phrases ("entrapment"), or a ``le_terms`` word ("LE",
                             cops, police) that is negated ("no LE", "not affiliated with
                             police"), screened ("if you are a cop") or shut out after
                             ("cops not welcome"); "le"/"leo" count in capitals ("LE")
                             or at a clause end ("no le.") only
    coded_pricing            a ``price_codes`` word (roses, donations, 🌹) next to a number
                             (within the clause); firm with a ``time_units`` word in the
                             sentence ("120 roses per half hour", "150 🌹 hh"), weak
                             without ("200 roses"); and "200r/hh"
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.indicators.negation import clause_after
from pipeline.indicators.rules import phrase_candidates
from pipeline.indicators.scan import Candidate, Scan

LODGING: Final = "lodging"
INCALL: Final = "incall"
LE_FLAG: Final = "law_enforcement_evasion"
LE_TERMS: Final = "le_terms"
PRICE_CODES: Final = "price_codes"
TIME_UNITS: Final = "time_units"
# police words that are also other languages' words ("no le gusta"): capitals or clause end
_AMBIGUOUS: Final = frozenset({"le", "leo", "l e"})
LE_SCOPE: Final = 6  # "must not be affiliated with any police agency"

# "my hotel", "my private motel room", "my room at the Days Inn" (not "our hotel": a hotel's ad)
_OWNED = re.compile(r"\bmy +(?:[a-z']+ +|(?:room|suite|place) +(?:at|in) +(?:(?:the|a|an) +)?)?$")
_ROOM_AFTER = re.compile(r" *(?:(?:room|rm|suite|ste) *(?:#|no\.?|number)?|#) *\d{1,4}\b")
_NUMBER_AFTER = re.compile(r" *(?:#|no\.?|number)? *\d{1,4}\b")
# "at the motel by exit 4", "in a hotel downtown"; not "at your hotel" (an outcall)
_GOING = re.compile(
    r"\b(?:at|in|inside) +(?:(?:the|a|an|this|that) +)?(?:(?!your |ur )[a-z0-9']+ +)?$"
)
_SCREEN = re.compile(r"\b(?:if +(?:you|u|ur|you're|youre)|are +(?:you|u)|r +u)\b[^.!?;\n]{0,28}$")
_SHUT_OUT = re.compile(
    r"[ :,]*(?:are +|is +|r +)?(?:not +(?:welcome|allowed|wanted)|need +not|stay +away|keep +out"
    r"|do +not|don'?t|beware|🚫)"
)
_NUMBER = re.compile(r"(?<![\d.,\-])(?:\$ ?)?\d{2,4}(?![\d\-])")  # not a phone's digits
_CLAUSE_BREAK = re.compile(r"[.!?;\n]")
_CODED_R = re.compile(r"(?<![\w$.,])\d{2,4} ?r(?![a-z0-9])")


def hotel_incall(scan: Scan) -> list[Candidate]:
    """Incall logistics at a hotel or motel."""
    note = "incall at a hotel or motel"
    out = phrase_candidates(scan, "hotel_incall", note)
    match = scan.view.match
    for start, end in scan.hits.get(LODGING, ()):
        if scan.negator(start) is not None:
            continue  # "no hotels", "no motels"
        incall = scan.sentence_has(INCALL, start, end)
        if incall is not None and scan.negator(incall[0]) is None:
            out.append(Candidate(min(start, incall[0]), max(end, incall[1]), False, note))
            continue
        after = _NUMBER_AFTER if match.endswith(("room", "suite"), start, end) else _ROOM_AFTER
        room = after.match(match, end)
        if room is not None:  # "motel room 12", "Hotel suite #4"
            out.append(Candidate(start, room.end(), False, note))
            continue
        head_start = max(0, start - 32)
        head = match[head_start:start]
        owned = _OWNED.search(head)
        if owned is not None:
            out.append(Candidate(head_start + owned.start(), end, False, note))
            continue
        going = _GOING.search(head)
        if going is not None:
            out.append(Candidate(head_start + going.start(), end, True, note))
    return out


def _short_term_ok(scan: Scan, start: int, end: int) -> bool:
    """True for "LE" in capitals or "le" ending its clause ("no le."), not "no le gusta"."""
    if scan.view.text[start:end].isupper():
        return True
    return not clause_after(scan.view.lower, end).strip()


def law_enforcement_evasion(scan: Scan) -> list[Candidate]:
    """Wording that screens out police."""
    note = "screens out police"
    out = [
        Candidate(s, e, weak, note)
        for name, weak in ((LE_FLAG, False), (f"{LE_FLAG}.weak", True))
        for s, e in scan.hits.get(name, ())
    ]  # its phrases hold their own negation ("no 5-0"): no negation check
    lower = scan.view.lower
    for start, end in scan.hits.get(LE_TERMS, ()):
        if scan.view.match[start:end] in _AMBIGUOUS and not _short_term_ok(scan, start, end):
            continue
        negator = scan.negator(start, LE_SCOPE)
        if negator is not None:
            out.append(Candidate(negator, end, False, note))
            continue
        head_start = max(0, start - 48)
        screen = _SCREEN.search(lower, head_start, start)
        if screen is not None:
            out.append(Candidate(screen.start(), end, False, note))
            continue
        shut = _SHUT_OUT.match(lower, end)
        if shut is not None:
            out.append(Candidate(start, shut.end(), False, note))
    return out


def _number_near(lower: str, start: int, end: int) -> tuple[int, int] | None:
    """The number nearest ``[start, end)`` within 24 characters and the same clause."""
    best: tuple[int, int] | None = None
    for m in _NUMBER.finditer(lower, max(0, start - 24), min(len(lower), end + 32)):
        s, e = m.span()
        gap = lower[e:start] if e <= start else lower[end:s] if s >= end else ""
        if s - end > 24 or _CLAUSE_BREAK.search(gap):
            continue
        if best is None or abs(s - start) < abs(best[0] - start):
            best = (s, e)
    return best


def coded_pricing(scan: Scan) -> list[Candidate]:
    """Prices in code words: roses, donations, 🌹, "200r", with a number and a time unit."""
    note = "price given in code words"
    out = phrase_candidates(scan, "coded_pricing", note)
    lower = scan.view.lower
    for start, end in scan.hits.get(PRICE_CODES, ()):
        if scan.negator(start) is not None:
            continue
        number = _number_near(lower, start, end)
        if number is None:
            continue
        lo, hi = min(start, number[0]), max(end, number[1])
        unit = scan.sentence_has(TIME_UNITS, lo, hi, reach=24)
        if unit is not None:
            out.append(Candidate(min(lo, unit[0]), max(hi, unit[1]), False, note))
        else:
            out.append(Candidate(lo, hi, True, note))
    if TIME_UNITS in scan.hits:
        for m in _CODED_R.finditer(scan.view.match):
            unit = scan.sentence_has(TIME_UNITS, m.start(), m.end(), reach=16)
            if unit is not None:
                out.append(Candidate(min(m.start(), unit[0]), max(m.end(), unit[1]), False, note))
    return out
