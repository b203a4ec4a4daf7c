"""``area_code_mismatch``: a phone's area-code region against the ad's location (facts only).

    phone.geo ("Los Angeles, CA", "Nevada", "Washington State") ─> state code ─┐
    ad location: the ``location`` field ("Dallas, TX", "dallas", "Las Vegas NV")  ├─ differ?
                 else the text's location entities ("City, ST" or "ST") ──────────┘
                 (`ad_place`)

It fires only when both sides are known and clearly differ: a US number whose state is
none of the states the location may be in (a bare city name may be in several:
"Portland" is OR or ME, and a number from either does not fire); a number of another
country (by its region, e.g. a Canadian +1 number) only against a location that names
its US state. US territories (PR, GU, VI…) and toll-free numbers are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final, NamedTuple

import phonenumbers
from phonenumbers import geocoder

from pipeline.entities.base import Doc
from pipeline.entities.gazetteer import gazetteer
from pipeline.entities.locations import find_locations
from schemas import Entity, Evidence, PhoneMention

FLAG: Final = "area_code_mismatch"
MIN_CONFIDENCE: Final = 0.7  # of a location entity read from the text
EXPLICIT_CONFIDENCE: Final = 0.95  # a city with its state written after it
_GEO_SPECIAL: Final = {"washington state": "WA", "washington d.c.": "DC"}
_TERRITORIES: Final = frozenset({"PR", "VI", "GU", "MP", "AS"})
_COUNTRY_SUFFIX = re.compile(r"[\s,]*\b(?:usa|us|u\.s\.a?\.?|united states)\s*$")


class Place(NamedTuple):
    """Where an ad says it is: a label for notes, the states it may be in, how it was read."""

    label: str
    states: frozenset[str]
    explicit: bool  # the state was written out, not inferred from a city name
    source: str  # "location" (the ad's field) or "text"


def _state_code(word: str) -> str | None:
    gaz = gazetteer()
    word = word.strip(" .").lower()
    if word in gaz.states:
        return gaz.states[word]
    code = word.replace(".", "").upper()
    return code if len(code) == 2 and code in gaz.states.values() else None


@lru_cache(maxsize=4096)
def parse_location(location: str) -> Place | None:
    """The states a free-text location may be in ("Dallas, TX", "dallas", "Las Vegas NV")."""
    gaz = gazetteer()
    text = _COUNTRY_SUFFIX.sub("", " ".join(location.lower().split())).strip(" ,")
    if not text:
        return None
    state = _state_code(text)
    if state is not None:  # "Texas", "TX"
        return Place(location.strip(), frozenset({state}), True, "location")
    for m in _split_state(text):
        state = _state_code(m[1])
        city = m[0].strip(" ,")
        if state is not None:
            in_state = [p for p in gaz.cities.get(city, ()) if p.state == state]
            label = in_state[0].value if in_state else location.strip()
            return Place(label, frozenset({state}), True, "location")
    if text in gaz.cities:
        places = gaz.cities[text]
        return Place(places[0].name, frozenset(p.state for p in places), False, "location")
    found = find_locations(Doc.of(location))  # "Downtown Dallas", "North Houston area"
    if found:
        states = frozenset(f.value[-2:] for f in found)
        explicit = all(len(f.value) == 2 or f.confidence >= EXPLICIT_CONFIDENCE for f in found)
        return Place(location.strip(), states, explicit, "location")
    return None


def _split_state(text: str) -> list[tuple[str, str]]:
    """``(city, state)`` readings of ``text`` whose last one to three words may be a state."""
    words = text.replace(",", " , ").split()
    out = []
    for n in (1, 2, 3):
        if len(words) > n:
            out.append((" ".join(words[:-n]), " ".join(words[-n:])))
    return out


@lru_cache(maxsize=4096)
def phone_state(geo: str) -> str | None:
    """The US state code of a geocoder description ("Los Angeles, CA", "Nevada")."""
    lower = geo.strip().lower()
    if lower in _GEO_SPECIAL:
        return _GEO_SPECIAL[lower]
    if ", " in geo:
        return _state_code(geo.rsplit(", ", 1)[1])
    return _state_code(lower)


def _text_place(entities: Sequence[Entity]) -> Place | None:
    """The states the text's location entities name (a bare big-city name at 0.6 is left)."""
    found = [
        e
        for e in entities
        if e.type == "location" and e.confidence >= MIN_CONFIDENCE and _is_place_value(e.value)
    ]
    if not found:
        return None
    label = " / ".join(dict.fromkeys(e.value for e in found))
    explicit = all(len(e.value) == 2 or e.confidence >= EXPLICIT_CONFIDENCE for e in found)
    return Place(label, frozenset(e.value[-2:] for e in found), explicit, "text")


def _is_place_value(value: str) -> bool:
    return (len(value) == 2 and value.isupper()) or value[-4:-2] == ", "


def _country(e164: str) -> str:
    return geocoder.country_name_for_number(phonenumbers.parse(e164), "en") or "another country"


def ad_place(location: str | None, entities: Sequence[Entity]) -> Place | None:
    """Where the ad says it is: its ``location`` field, else the text's location entities."""
    place = parse_location(location) if location and location.strip() else None
    return place if place is not None else _text_place(entities)


def area_code_mismatches(phones: Sequence[PhoneMention], place: Place) -> list[Evidence]:
    """Evidence for each phone whose region clearly differs from ``place``."""
    where = "ad location is" if place.source == "location" else "ad text names"
    out = []
    for phone in phones:
        if phone.region == "US":
            state = phone_state(phone.geo) if phone.geo else None
            if state is None or state in place.states:
                continue
            note = f"number's area code is in {phone.geo}; {where} {place.label}"
        elif phone.region and phone.region not in _TERRITORIES and place.explicit:
            country = _country(phone.e164)
            detail = f" ({phone.geo})" if phone.geo and phone.geo != country else ""
            note = f"number is from {country}{detail}; {where} {place.label}"
        else:
            continue
        out.append(Evidence(text=phone.raw, start=phone.start, end=phone.end, note=note))
    return out
