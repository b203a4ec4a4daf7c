"""Content-level risk indicators: one ad's text, phones and entities in, flags with evidence out.

    NormalizedText ─> TextView ─> Scan (one automaton pass over every phrase list)
                                   │
                                   ├─ rules: youth, movement, third party, several persons,
                                   │         availability          (pipeline.indicators.rules)
                                   ├─ logistics: hotel incall, police screening, coded prices
                                   ├─ stated_age: age entities + a few forms they miss
                                   │     └─> candidates: firm | weak, negation already applied
                                   │            gated by the ad's context (scan.Scan.context)
    phones ─────────────────────────┼─ obfuscated_phone: every phone written to evade parsers
    phones + location + entities ───┴─ area_code_mismatch (pipeline.indicators.area_codes)
                                         └─> one Flag per id, evidence spans in the ORIGINAL text

Flags are leads for a human reviewer, never verdicts: each evidence span shows what fired
it (``norm.original[start:end] == text``), facts carry a neutral note. ``weight`` is left
at 0.0; scoring is a later stage. Most ads hold no cue word, and then the cost is one pass
of the automaton over the lower-cased text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Final

from pipeline.indicators import logistics, rules, stated_age
from pipeline.indicators.area_codes import ad_place, area_code_mismatches
from pipeline.indicators.lexicon import Lexicons, read_lists
from pipeline.indicators.scan import Candidate, Scan, TextView
from pipeline.textnorm import NormalizedText
from schemas import Entity, Evidence, Flag, PhoneMention

__all__ = ["CONTENT_FLAGS", "Lexicons", "content_flags", "default_lexicons", "load_lexicons"]

Rule = Callable[[Scan], list[Candidate]]

# indicator id -> its rule and the lists whose hits it reads (no hit: the rule is skipped)
_RULES: Final[dict[str, tuple[Rule, tuple[str, ...]]]] = {
    "always_available": (rules.always_available, ()),
    "coded_pricing": (logistics.coded_pricing, (logistics.PRICE_CODES, logistics.TIME_UNITS)),
    "hotel_incall": (logistics.hotel_incall, (logistics.LODGING,)),
    "law_enforcement_evasion": (logistics.law_enforcement_evasion, (logistics.LE_TERMS,)),
    "movement": (rules.movement, ()),
    "multiple_persons": (rules.multiple_persons, (rules.PERSON_NOUNS,)),
    "third_party": (rules.third_party, (rules.ASK_FRAMES,)),
    "youth_language": (rules.youth_language, ()),
}
_TRIGGERS: Final = {
    flag: frozenset({flag, f"{flag}.weak", *lists}) for flag, (_, lists) in _RULES.items()
}
# any hit of these lists (or a stated age under 20) sends an ad through the rules
_ANY_TRIGGER: Final = frozenset().union(*_TRIGGERS.values(), {stated_age.TRIGGER_LIST})
_CUE_LISTS: Final = tuple(name for flag in _RULES for name in (flag, f"{flag}.weak"))
CONTENT_FLAGS: Final = tuple(
    sorted({*_RULES, stated_age.MINOR, stated_age.YOUNG, "obfuscated_phone", "area_code_mismatch"})
)
_WEAK_NOTE: Final = " (a weak cue: counted because other wording in the ad supports it)"


def load_lexicons(extra_dirs: Sequence[Path] = ()) -> Lexicons:
    """The packaged phrase lists plus the analysts' same-named files in ``extra_dirs``.

    A line of an analyst's file adds a phrase; a line ``-phrase`` removes one (see
    docs/indicators.md, "Extending the lexicons").
    """
    return Lexicons.build(read_lists(extra_dirs), {stated_age.TRIGGER_LIST: stated_age.TRIGGERS})


@cache
def default_lexicons() -> Lexicons:
    """The packaged lexicons, loaded once."""
    return load_lexicons()


def _evidence(norm: NormalizedText, cands: list[Candidate], weak_ok: bool) -> list[Evidence]:
    """Evidence of the candidates that count, overlapping spans merged, in original offsets."""
    merged: list[Candidate] = []
    for c in sorted(cands):
        if c.weak and not weak_ok:
            continue
        if merged and c.start < merged[-1].end:
            last = merged[-1]
            keep = c if last.weak and not c.weak else last  # a firm cue's note wins
            merged[-1] = Candidate(last.start, max(last.end, c.end), keep.weak, keep.note)
        else:
            merged.append(c)
    out = []
    for start, end, weak, note in merged:
        note += _WEAK_NOTE if weak else ""
        if norm.offsets.is_identity:
            raw = norm.original[start:end]
        else:
            raw, start, end = norm.raw(start, end)
        out.append(Evidence(text=raw, start=start, end=end, note=note))
    return out


def _excluded(cands: list[Candidate], scan: Scan, flag: str) -> list[Candidate]:
    """``cands`` without those overlapping a hit of ``<flag>.exclude`` ("young at heart")."""
    masks = scan.hits.get(f"{flag}.exclude")
    if not masks:
        return cands
    return [c for c in cands if not any(c.start < e and s < c.end for s, e in masks)]


def _adult(value: str) -> bool:
    return value.isdigit() and int(value) >= stated_age.ADULT


def _reads_ordinary(scan: Scan, firm: int, persona: bool) -> bool:
    """True when the ad's ordinary words outweigh its escort words, firm cues and persona."""
    escort, ordinary = scan.context(_CUE_LISTS)
    return ordinary > 0 and ordinary >= escort + firm + persona


def _persona(entities: Sequence[Entity]) -> bool:
    """True when the ad states an adult's age ("Mia, 24"): a persona, as escort ads have."""
    return any(e.type == "age" and _adult(e.value) for e in entities)


def _word_flags(
    norm: NormalizedText, scan: Scan, entities: Sequence[Entity]
) -> tuple[dict[str, list[Evidence]], bool | None]:
    """Flags of the word-based indicators and stated ages, and whether the ad reads ordinary.

    The second value is None when there was no candidate to weigh. An ad reads as
    ordinary (a bakery, a job, a car) when it has ``context_ordinary`` words, at least as
    many as its ``context_escort`` words, indicators with a firm cue and a stated adult
    age together: then none of these flags is raised. Otherwise firm candidates count,
    and weak ones count when something else supports them: an escort-context word, a
    stated adult age, a candidate of another indicator or a firm cue of their own.
    """
    found: dict[str, list[Candidate]] = {}
    hit = scan.hits.keys()
    for flag, (rule, _) in _RULES.items():
        if not _TRIGGERS[flag].isdisjoint(hit):
            cands = _excluded(rule(scan), scan, flag)
            if cands:
                found[flag] = cands
    found.update(stated_age.age_candidates(scan, norm, list(entities)))
    if not found:
        return {}, None
    # a stated age is weighed as a persona (an adult's), not as a cue
    firm = {f for f, cands in found.items() if f in _RULES and any(not c.weak for c in cands)}
    persona = _persona(entities)
    if _reads_ordinary(scan, len(firm), persona):
        return {}, True  # a bakery, a job, a car: its words are no lead
    escort, _ = scan.context(_CUE_LISTS)
    out = {}
    for flag, cands in found.items():
        weak_ok = escort > 0 or persona or len(found) > 1 or flag in firm
        evidence = _evidence(norm, cands, weak_ok)
        if evidence:
            out[flag] = evidence
    return out, False


def content_flags(
    norm: NormalizedText,
    phones: Sequence[PhoneMention],
    entities: Sequence[Entity],
    location: str | None = None,
    lexicons: Lexicons | None = None,
) -> list[Flag]:
    """Content-level flags of one ad, ordered by id, each with its evidence.

    ``norm`` is the normalized ad text, ``phones`` and ``entities`` what the extractors
    found in it, ``location`` the ad's own location field (free text) and ``lexicons``
    the phrase lists (None: the packaged ones). Evidence offsets point into
    ``norm.original``; a fact (area_code_mismatch) carries the phone's span and a note.
    """
    lex = lexicons if lexicons is not None else default_lexicons()
    scan = Scan.of(TextView.of(norm.text), lex)
    flags: dict[str, list[Evidence]] = {}
    obfuscated = [p for p in phones if p.obfuscated]
    if obfuscated:
        note = "phone number written so that plain parsers miss it"
        flags["obfuscated_phone"] = [
            Evidence(text=p.raw, start=p.start, end=p.end, note=note) for p in obfuscated
        ]
    ordinary: bool | None = None
    if not _ANY_TRIGGER.isdisjoint(scan.hits) or any(
        e.type == "age" and stated_age.is_young(e.value) for e in entities
    ):
        words, ordinary = _word_flags(norm, scan, entities)
        flags.update(words)
    place = ad_place(location, entities) if phones else None
    mismatches = area_code_mismatches(phones, place) if place is not None else []
    if mismatches and place is not None and place.source == "text":
        # a place named in the text of an ordinary ad ("our Dallas, TX office") is no lead
        if ordinary is None:
            ordinary = _reads_ordinary(scan, 0, _persona(entities))
        if ordinary:
            mismatches = []
    if mismatches:
        flags["area_code_mismatch"] = mismatches
    return [Flag(id=flag, evidence=flags[flag]) for flag in sorted(flags)]
