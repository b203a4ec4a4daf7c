"""US cities and states named in an ad, resolved with the packaged gazetteer.

Each capitalized word that starts a gazetteer key is tried with the one or two
capitalized words after it ("Just arrived in Las Vegas, NV"), longest first; only words
of `Doc.words` that start a key, and whose key's telling word ("vegas") the text holds
too, are looked for, so most texts are settled by a few set look-ups. A city name must
be capitalized as written; what follows and precedes it decides how sure the match is:

    Phoenix, AZ · Buffalo, New York    state after the name: the city in that state  0.95
    in Las Vegas · Dallas area         a location cue                                0.85
    Las Vegas                          the name alone: the most populous city        0.7

Names that are common words ("Mobile", "Normal", "Independence") count only with a state;
names that are also first names ("Aurora", "Madison") need a cue or a state, except the
big cities ("Houston", "Dallas"), taken alone at 0.6 unless a name cue ("I'm", "ask
for") comes right before. A state's full name gives its two-letter code ("Texas" → "TX";
0.9 after a cue, else 0.8); a one-word name of both ("Washington") is the state unless
a state follows it. Lone two-letter codes are too ambiguous ("OR", "IN") and count only
after a city of that state.
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.entities.base import Doc, Found
from pipeline.entities.firstnames import is_first_name
from pipeline.entities.gazetteer import MAX_WORDS, Gazetteer, Place, gazetteer

KIND: Final = "location"
BIG_CITY: Final = 300_000

_TOKEN = re.compile(r"(?:St|Ft|Mt)\.|[A-Z](?:[A-Za-z'\-]*[A-Za-z])?")
# context, matched on the lower-case text
_CUE_BEFORE = re.compile(
    r"(?:\b(?:in|near|from|to|around|outside|visiting|serving|downtown|greater|metro|of|"
    r"north|south|east|west)\s+(?:the\s+)?)$"
)
_CUE_AFTER = re.compile(
    r"[\s\-](?:area|based|local|locals|metro|downtown|incall|outcall|suburbs)\b"
)
_NAME_CUE_BEFORE = re.compile(
    r"(?:\b(?:i'?m|i\s+am|it'?s|this\s+is|ask\s+for|call|name\s+is|with)\s+)$"
)


def _in_state(places: tuple[Place, ...], code: str) -> Place | None:
    return next((p for p in places if p.state == code), None)


def _city(gaz: Gazetteer, doc: Doc, key: str, start: int, end: int) -> Found | None:
    """The city ``key`` at ``[start, end)``, or None when the context does not allow it.

    A one-word name that is also a state's ("Washington") is a city only with a state
    after it.
    """
    places = gaz.cities[key]
    after = gaz.state_after.match(doc.text, end)
    if after:
        if after.group("dc"):
            code = "DC"
        elif after.group("code"):
            code = after.group("code")
        else:
            code = gaz.states[after.group("name").lower()]
        place = _in_state(places, code)
        if place is not None:
            return Found(KIND, start, after.end(), place.value, 0.95)
    if key in gaz.need_state or (key in gaz.states and " " not in key):
        return None
    place = places[0]
    if _CUE_BEFORE.search(doc.lower, max(0, start - 16), start) or _CUE_AFTER.match(doc.lower, end):
        return Found(KIND, start, end, place.value, 0.85)
    if key in gaz.need_cue:
        return None
    if " " not in key and is_first_name(key):
        if place.population < BIG_CITY or _NAME_CUE_BEFORE.search(
            doc.lower, max(0, start - 12), start
        ):
            return None
        return Found(KIND, start, end, place.value, 0.6)
    return Found(KIND, start, end, place.value, 0.7)


def _state(gaz: Gazetteer, doc: Doc, key: str, start: int, end: int) -> Found | None:
    code = gaz.states[key]
    cue = _CUE_BEFORE.search(doc.lower, max(0, start - 16), start) or _CUE_AFTER.match(
        doc.lower, end
    )
    if cue:
        return Found(KIND, start, end, code, 0.9)
    if " " not in key and is_first_name(key):
        return None  # "Georgia", "Virginia": a name as likely as a state
    return Found(KIND, start, end, code, 0.8)


def _starts(doc: Doc, gaz: Gazetteer) -> list[int]:
    """Offsets of capitalized words that may start a place name, in order."""
    words = doc.words
    starts = []
    for word in words & gaz.first_word_set:
        if gaz.first_words[word].isdisjoint(words):
            continue  # "The" without "Bronx", "Woodlands"…
        i = doc.lower.find(word)
        while i != -1:
            if doc.text[i].isupper() and (i == 0 or not doc.lower[i - 1].isalnum()):
                starts.append(i)
            i = doc.lower.find(word, i + 1)
    return sorted(starts)


def find_locations(doc: Doc) -> list[Found]:
    """US cities ("City, ST") and states ("ST") named in ``doc``."""
    gaz = gazetteer()
    starts = _starts(doc, gaz)
    if not starts:
        return []  # most texts name no place, which one look at their words settles
    text = doc.text
    found: list[Found] = []
    covered = 0
    for start in starts:
        m = _TOKEN.match(text, start)
        if start < covered or m is None:
            continue
        tokens = [m]
        while len(tokens) < MAX_WORDS:
            end = tokens[-1].end()
            if not text.startswith(" ", end):
                break
            nxt = _TOKEN.match(text, end + 1)
            if nxt is None:
                break
            tokens.append(nxt)
        for n in range(len(tokens), 0, -1):
            end = tokens[n - 1].end()
            key = " ".join(t.group().lower() for t in tokens[:n])
            hit = _city(gaz, doc, key, start, end) if key in gaz.cities else None
            if hit is None and key in gaz.states:
                hit = _state(gaz, doc, key, start, end)
            if hit is not None:
                found.append(hit)
                covered = hit.end
                break
    return found
