"""Units of time prices are quoted in, by canonical name, and the value of a price.

    hh, half hour, 1/2 hr → "half hour"      qv, quick visit → "quick visit"
    hr, hour, 1hr, full hour → "hour"        2 hrs → "2 hours"        30min → "30 min"
    overnight, ovn, o/n → "overnight"        /night, /day, /wk, /mo → night, day, week, month

A price's value is its amount without thousands separators, then "/" and the unit.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SPACE_DOT = re.compile(r"[\s.]")
_COUNTED = re.compile(r"([0-9]+|one|two|three|four|full|an?)?(minutes?|mins?|m|hours?|hrs?|h)")


@lru_cache(maxsize=1024)
def canonical_unit(unit: str) -> str:
    """The canonical name of a unit of time as written ("hh" → "half hour")."""
    u = _SPACE_DOT.sub("", unit.lower())
    if u in ("qv", "quickvisit", "quickvisits", "quickie", "quickies"):
        return "quick visit"
    if u in ("hh", "hhr") or u.startswith(("half", "1/2")):
        return "half hour"
    if u in ("overnight", "ovn", "o/n", "allnight"):
        return "overnight"
    m = _COUNTED.fullmatch(u)
    if m:
        count = {"one": "1", "two": "2", "three": "3", "four": "4"}.get(m[1] or "", m[1])
        if m[2].startswith("m"):
            return f"{count} min" if count else "min"
        if count and count.isdigit() and count != "1":
            return f"{count} hours"
        return "hour"
    for prefix, name in (("night", "night"), ("day", "day"), ("w", "week"), ("mo", "month")):
        if u.startswith(prefix):
            return name
    return u.rstrip("s")


def price_value(amount: str, unit: str | None) -> str:
    """The value of a price: amount without thousands separators, and its unit."""
    amount = amount.replace(",", "")
    amount = amount.removesuffix(".00")
    return f"{amount}/{canonical_unit(unit)}" if unit else amount
