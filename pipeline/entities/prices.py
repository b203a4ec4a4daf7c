"""Prices, with the unit of time they buy when one is given.

    $200/hr · 200 hh · 150 qv · $150 half hour · 300 for an hour · 250 per hour
    120 roses per half hour · Donations: 250 per hour · 100 🌹 · hh 150 · qv: 100 · $23,800

A number is a price when money marks it (``$``, "usd", "dollars", or the coded "roses",
🌹, "donations", "gifts"), or when a unit of time follows it that prices are quoted in:
after "/", "per", "a(n)", "for" any unit, after a bare space only the unambiguous ones
(hh, qv, hr, half hour, overnight) and only for amounts from 50 up, so "24 hr" and
"2 hours" are not prices. A unit may also come first ("hh 150", "1hr: 250", "30 min
120"). The raw span keeps the money word; the value is the amount with its canonical
unit: "200/hour", "150/quick visit", "120/half hour", "300/2 hours", "120/30 min", or
"200" alone. Numbers that are part of a phone number (followed by ``-555``), ages, dates
and heights carry no money mark or unit and are not taken.

How it stays fast: money-led prices are matched where a money sign or word starts;
amount-led ones from the numbers just before a unit or money word; unit-led ones where
a unit word starts. No pattern is run over the whole text.
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.entities.base import Doc, Found, matches_at
from pipeline.entities.price_units import canonical_unit, price_value

KIND: Final = "price"

# all patterns run on the lower-case text
_AMOUNT = (
    r"(?P<amt>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{2})?|[0-9]{1,5}(?:\.[0-9]{2})?)"
    r"(?![0-9]|[,.][0-9])"
)
_MONEY_WORD = r"(?:roses?|donations?|gifts?|tributes?|dollars?|bucks|usd)"
_PRE = rf"(?P<pre>\$\s?|🌹+\s?|{_MONEY_WORD}\s*[:=\-]?\s*(?:of\s+)?\$?\s?)"
_POST = rf"(?P<post>\s?(?:\$|🌹+|{_MONEY_WORD}\b))"
_UNIT = (
    r"(?=[qhm0-9ofatnwdsv])"  # the first letters of units: most words fail here at once
    r"(?P<unit>q\.?\s?v\b\.?|quick\s?visits?\b|quickies?\b"
    r"|h\.?h\.?r?\b|half\s?(?:an?\s)?(?:hours?|hrs?|hh)\b|1/2\s?(?:hours?|hrs?|h)\b"
    r"|[0-9]{1,3}\s?(?:minutes?|mins?|m)\b"
    r"|(?:[0-9]{1,2}|one|two|three|four|full|an?)\s?(?:hours?|hrs?|h)\b|hours?\b|hrs?\b|h\b"
    r"|overnight\b|over\s?night\b|ovn\b|o/n\b|all\s?night\b"
    r"|nights?\b|days?\b|weeks?\b|wk\b|months?\b|mo\b|sessions?\b|visits?\b"
    r"|min(?:ute)?s?\b)"  # "min" alone only as the count of a unit-led price: "30 min 120"
)
_CONN = (
    r"(?P<conn>[ \t]*(?:/|per\b|an?\b|each\b|for[ \t]+(?:the|an?|one)?)[ \t]*"
    r"|[ \t]?-[ \t]?|[ \t]+|)"
)
# "$200/hr", "donations: 250 per hour", "🌹 150"
_MONEY_FIRST = re.compile(rf"{_PRE}{_AMOUNT}{_POST}?(?:{_CONN}{_UNIT})?")
# "200 hh", "120 roses per half hour", "300 for an hour": tried at a number that starts a
# token, it must end on money or a unit, not on the amount
_AMOUNT_FIRST = re.compile(rf"{_AMOUNT}(?:{_POST})?(?:{_CONN}{_UNIT})?(?<![0-9])")
_TOKEN_DIGIT = re.compile(r"[0-9](?<![\w$.,/:'\-][0-9])")
# "hh 150", "qv: 100", "1hr - 250", "30 min 120"
_UNIT_LED_TAIL = (
    r"\s*[:=\-@]?\s*(?P<pre>\$|🌹+\s?)?(?P<amt>[0-9]{2,4})"
    rf"(?![0-9']|[,.][0-9]|\s?(?:min|hour|hr|%|/))(?:{_POST})?"
)
_UNIT_FIRST = re.compile(
    r"(?P<unit>q\.?v\.?|quick\s?visits?|h\.?h\.?r?|half\s?(?:an?\s)?(?:hour|hr)"
    r"|(?:one|full)\s?(?:hour|hr|h)|hours?|hrs?|overnight|ovn)" + _UNIT_LED_TAIL
)
# after a count and its unit ("30 min", "1hr"), the amount of a unit-led price
_COUNT_TAIL = re.compile(_UNIT_LED_TAIL)

# words (as `Doc.words` holds them) -> where they start in the lower-case text
_MONEY_STARTS: Final = {
    "rose": "rose", "roses": "rose", "donation": "donation", "donations": "donation",
    "gift": "gift", "gifts": "gift", "tribute": "tribute", "tributes": "tribute",
    "dollar": "dollar", "dollars": "dollar", "bucks": "buck", "usd": "usd",
}  # fmt: skip
# units an amount without money may be priced in ("200 hh", "150 qv", "200/h")
_UNIT_STARTS: Final = {
    "hr": "hr", "hrs": "hr", "hour": "hour", "hours": "hour", "h": "/h", "hh": "hh",
    "hhr": "hh", "qv": "qv", "q": "q.", "quick": "quick", "quickie": "quick",
    "quickies": "quick", "min": "min", "mins": "min", "minute": "min", "minutes": "min",
    "overnight": "overnight", "ovn": "ovn", "o": "o/n", "half": "half",
}  # fmt: skip
# units prices are quoted in only after "/", "per", "a", "for" ("300 per session")
_WEAK_UNIT_STARTS: Final = {
    "night": "night", "nights": "night", "day": "day", "days": "day", "week": "week",
    "weeks": "week", "wk": "wk", "month": "mo", "months": "mo", "mo": "mo",
    "session": "session", "sessions": "session", "visit": "visit", "visits": "visit",
}  # fmt: skip
# unit words a unit-led price may start with ("hh 150"; "full" is added when "hour" is)
_UNIT_FIRST_WORDS: Final = frozenset(
    {"hh", "hhr", "qv", "q", "quick", "half", "hr", "hrs", "hour", "hours", "overnight", "ovn"}
)
_MONEY_WORDS: Final = frozenset(_MONEY_STARTS)
_DOLLAR: Final = frozenset({"$"})
_UNIT_WORDS: Final = frozenset(_UNIT_STARTS)
_WEAK_UNIT_WORDS: Final = frozenset(_WEAK_UNIT_STARTS)
# how far before a unit or money word its amount may start ("300 for an hour")
_LOOK_BACK: Final = 24

# units of a count-led price ("30 min 120", "1hr 200", "2 hrs 350")
_COUNT_UNITS: Final = frozenset({"hour", "15 min", "20 min", "30 min", "45 min", "60 min",
                                 "90 min", "2 hours", "3 hours", "4 hours"})  # fmt: skip
# units that may follow an amount after nothing but a space ("200 hh", not "2 hours")
_BARE_UNITS: Final = frozenset({"quick visit", "half hour", "hour", "overnight"})
_PHONE_AFTER = re.compile(r"[\s.\-)]{0,2}[0-9]{3,}")


def _unit_ok(m: re.Match[str], amount: float) -> bool:
    """Whether the unit after an amount without money makes it a price."""
    unit = m.group("unit")
    if not m.group("conn").strip():
        bare_ok = canonical_unit(unit) in _BARE_UNITS and not unit.endswith("s")
        return bare_ok and amount >= 50
    return amount >= 20


def _after_amount(lower: str, m: re.Match[str], has_money: bool) -> Found | None:
    """The price an amount-led or money-led match stands for, None when it is none."""
    unit = m.group("unit")
    if not has_money:
        if unit is None or not _unit_ok(m, float(m.group("amt").replace(",", ""))):
            return None
        return Found(KIND, m.start(), m.end(), price_value(m.group("amt"), unit), 0.8)
    if unit is not None:
        return Found(KIND, m.start(), m.end(), price_value(m.group("amt"), unit), 0.9)
    if _PHONE_AFTER.match(lower, m.end("amt")):
        return None  # the first group of a phone number
    end = m.end("post") if m.group("post") else m.end("amt")
    return Found(KIND, m.start(), end, price_value(m.group("amt"), None), 0.9)


def _counted(lower: str, m: re.Match[str]) -> tuple[int, str, re.Match[str]] | None:
    """The unit-led price that starts with a count ("30 min 120", "1hr - 250"), if any.

    ``m`` is an amount-led match that may be the count and its unit; the result is
    (start, unit as written, the match of the amount after it).
    """
    unit = m.group("unit")
    if unit is None or m.group("post") or m.group("conn").strip():
        return None
    written = lower[m.start() : m.end()]
    if canonical_unit(written) not in _COUNT_UNITS:
        return None
    tail = _COUNT_TAIL.match(lower, m.end())
    return None if tail is None else (m.start(), written, tail)


_PLAIN, _LEADS, _WEAK = 0, 1, 2  # kinds of needle: plain, may lead a price, weak unit
_WEAK_CONNECTORS: Final = ("/", "per ", "a ", "an ", "each ", "for ", "the ")


def _anchors(lower: str, needles: dict[str, int]) -> list[tuple[int, bool]]:
    """Where each needle (a unit or money word) occurs, not inside a word.

    Each offset comes with whether a unit-led price ("hh 150") may start there. A weak
    unit ("night", "day") counts only right after a connector ("/night", "per day").
    """
    anchors = []
    for needle, kind in needles.items():
        i = lower.find(needle)
        while i != -1:
            before = lower[i - 1] if i else " "
            if kind == _WEAK:
                if lower.endswith(_WEAK_CONNECTORS, max(0, i - 5), i):
                    anchors.append((i, False))
            elif not before.isalpha() or not needle[0].isalpha():
                anchors.append((i, kind == _LEADS and not before.isalnum()))
            i = lower.find(needle, i + 1)
    return anchors


def _amount_led(lower: str, anchors: list[tuple[int, bool]]) -> list[re.Match[str]]:
    """`_AMOUNT_FIRST` matches at the token-initial numbers just before the anchors."""
    starts: set[int] = set()
    for i, _ in anchors:
        starts.update(m.start() for m in _TOKEN_DIGIT.finditer(lower, max(0, i - _LOOK_BACK), i))
    found = []
    for start in sorted(starts):
        m = _AMOUNT_FIRST.match(lower, start)
        if m is not None:
            found.append(m)
    return found


def find_prices(doc: Doc) -> list[Found]:
    """Prices in ``doc``; the value is ``amount/unit`` or the amount alone."""
    lower, words = doc.lower, doc.words
    money = {_MONEY_STARTS[w] for w in words & _MONEY_WORDS}
    if "$" in lower:
        money.add("$")
    if "🌹" in lower:
        money.add("🌹")
    units = words & _UNIT_WORDS
    weak = words & _WEAK_UNIT_WORDS if "/" in lower or "per" in words else None
    if not (money or units or weak):
        return []
    found: list[Found] = []
    for m in matches_at(_MONEY_FIRST, lower, money) if money else ():
        price = _after_amount(lower, m, has_money=True)
        if price is not None and not (found and _overlaps_found(price.start, price.end, found)):
            found.append(price)
    if not units and not weak and money == _DOLLAR and not _money_after_amount(lower):
        return found  # "$200", "$1,100/mo": money-led prices only, the common case
    # the rest is found from unit and money words: an amount-led price ends on one
    # ("200 hh", "120 roses", "200$"), a unit-led one starts with one ("hh 150")
    needles = {_UNIT_STARTS[w]: _LEADS if w in _UNIT_FIRST_WORDS else _PLAIN for w in units}
    needles.update((n, _PLAIN) for n in money if n != "$")
    if weak:
        needles.update((_WEAK_UNIT_STARTS[w], _WEAK) for w in weak)
    if units and "full" in words:
        needles["full"] = _LEADS
    if "$" in money and _money_after_amount(lower):
        needles["$"] = _PLAIN  # "200$"
    anchors = _anchors(lower, needles) if needles else []
    if found and anchors:
        covered = bytearray(len(lower))
        for f in found:
            covered[f.start : f.end] = b"\x01" * (f.end - f.start)
        anchors = [a for a in anchors if not covered[a[0]]]
    if not anchors:
        return found
    unit_led: list[tuple[int, str, re.Match[str]]] = []
    for m in _amount_led(lower, anchors):
        counted = _counted(lower, m)
        if counted is not None:
            unit_led.append(counted)
            continue
        price = _after_amount(lower, m, has_money=m.group("post") is not None)
        if price is not None and not _overlaps_found(price.start, price.end, found):
            found.append(price)
    for i, led in anchors:
        if led and (first := _UNIT_FIRST.match(lower, i)) is not None:
            unit_led.append((i, first.group("unit"), first))
    for start, unit, m in unit_led:
        if int(m.group("amt")) < 20 or _PHONE_AFTER.match(lower, m.end("amt")):
            continue
        if not _overlaps_found(start, m.end(), found):
            confidence = 0.85 if m.group("pre") or m.group("post") else 0.75
            found.append(Found(KIND, start, m.end(), price_value(m.group("amt"), unit), confidence))
    return found


def _money_after_amount(lower: str) -> bool:
    """Whether a "$" follows a digit somewhere ("200$", "200 $")."""
    i = lower.find("$")
    while i > 0:
        if lower[i - 1].isdigit() or (lower[i - 1] == " " and lower[i - 2 : i - 1].isdigit()):
            return True
        i = lower.find("$", i + 1)
    return False


def _overlaps_found(start: int, end: int, found: list[Found]) -> bool:
    return any(start < f.end and f.start < end for f in found)
