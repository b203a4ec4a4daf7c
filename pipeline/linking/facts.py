"""What linking reads from an enriched ad: its phones, cities, names, ages and variable spans.

    EnrichedAd ──┬─ ad_phones   distinct E.164 numbers, in order of mention
                 ├─ ad_cities   "City, ST": the ad's location field, else city entities
                 ├─ ad_names    name entities (title case) at or above min_name_confidence
                 ├─ ad_ages     stated ages at or above min_age_confidence
                 └─ ad_masks    spans a template varies (phones, names, places, ages, prices,
                                contacts), masked before shingling

Cities. The location field is the site's own statement of where an ad is listed, so it
comes first: for US ads (``region`` unset or ``"US"``) it is resolved in the gazetteer
("Dallas, TX", "dallas", "Dallas, Texas" → "Dallas, TX"); a field that does not resolve, or
of another country, is kept as written (white space collapsed), except coordinates. Only an
ad without a usable location field falls back to the cities named in its text (location
entities of the form "City, ST" at or above ``min_city_confidence``; a state alone is not
a city).
"""

from __future__ import annotations

import re
from typing import Annotated, Final, NamedTuple

from pydantic import StringConstraints

from pipeline.entities.gazetteer import gazetteer
from pipeline.linking.config import LinkConfig
from schemas import EnrichedAd

E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]
"""A phone number in E.164 form, as `PhoneMention.e164` holds it."""

# an entity type -> the placeholder its span becomes; numbers of every kind are one token
NUMBER: Final = "{num}"
PLACEHOLDERS: Final = {
    "phone": NUMBER,
    "age": NUMBER,
    "price": NUMBER,
    "name": "{name}",
    "location": "{place}",
    "email": "{contact}",
    "handle": "{contact}",
    "url": "{contact}",
}
_COORDINATES = re.compile(r"^\s*-?\d{1,3}(?:\.\d+)?\s*,\s*-?\d{1,3}(?:\.\d+)?\s*$")
_CITY_STATE = re.compile(r"^(?P<city>[^,]+?)\s*,\s*(?P<state>[^,]+?)\.?$")


class Mask(NamedTuple):
    """A span of an ad's text that a reused template varies, and its placeholder."""

    start: int
    end: int
    placeholder: str


def ad_phones(ad: EnrichedAd) -> list[str]:
    """The distinct E.164 numbers of ``ad``, in order of first mention."""
    return list(dict.fromkeys(p.e164 for p in ad.phones))


def ad_names(ad: EnrichedAd, cfg: LinkConfig) -> list[str]:
    """Distinct names the ad gives (title case), at or above ``min_name_confidence``."""
    return list(
        dict.fromkeys(
            e.value
            for e in ad.entities
            if e.type == "name" and e.confidence >= cfg.min_name_confidence
        )
    )


def ad_ages(ad: EnrichedAd, cfg: LinkConfig) -> list[int]:
    """Distinct stated ages of the ad, at or above ``min_age_confidence``."""
    ages = (
        e.value
        for e in ad.entities
        if e.type == "age" and e.confidence >= cfg.min_age_confidence and e.value.isdigit()
    )
    return list(dict.fromkeys(int(a) for a in ages))


def ad_cities(ad: EnrichedAd, cfg: LinkConfig) -> list[str]:
    """Where the ad is: its location field, else the cities its text names (module doc)."""
    if ad.location and not _COORDINATES.match(ad.location):
        where = " ".join(ad.location.split())
        if where:
            us = ad.region in (None, "US")
            return [(resolve_us_city(where) if us else None) or where]
    return list(
        dict.fromkeys(
            e.value
            for e in ad.entities
            if e.type == "location" and ", " in e.value and e.confidence >= cfg.min_city_confidence
        )
    )


def resolve_us_city(where: str) -> str | None:
    """``"City, ST"`` for a US city named as "City", "City, ST" or "City, State", else None.

    A city without a state is the most populous of its name; the match ignores case.
    """
    gaz = gazetteer()
    m = _CITY_STATE.match(where)
    name, state = (m["city"], m["state"].strip()) if m else (where, "")
    places = gaz.cities.get(name.strip().lower())
    if not places:
        return None
    if not state:
        return places[0].value
    code = gaz.states.get(state.lower(), state.upper())
    return next((p.value for p in places if p.state == code), None)


def ad_masks(ad: EnrichedAd) -> list[Mask]:
    """The spans of ``ad.text`` a reused template varies: phones and entities."""
    masks = [Mask(p.start, p.end, NUMBER) for p in ad.phones]
    masks += [Mask(e.start, e.end, PLACEHOLDERS.get(e.type, "{other}")) for e in ad.entities]
    return masks
