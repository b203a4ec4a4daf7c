"""From a run of digit groups to the phone numbers in it (pure; see `pipeline.phones`).

A run is cut into the groups it was written in. The whole run, or else windows that start
and end on group boundaries, are validated; in a NANP region a window must be shaped like
a phone number and set apart from its neighbours, so price lists and dates that hold ten
digits are not taken. `numbers_in_run` returns ``(start, end, number, whole)`` in the
offsets of the projected text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Final, NamedTuple

from pipeline.digitwords import PAD, WEAK_ONE, WEAK_ZERO
from pipeline.phone_validate import NANP_REGIONS, ValidNumber, validate

_SPECIAL = PAD + WEAK_ZERO + WEAK_ONE
_HAS_SPECIAL = re.compile(f"[{_SPECIAL}]")
_GROUP = re.compile(rf"[0-9{_SPECIAL}]+")
_TO_DIGIT = str.maketrans({WEAK_ZERO: "0", WEAK_ONE: "1", PAD: None})
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_DATE_LIKE = re.compile(  # 2025-06-15, 12/24/2025, 24.12.25 (not inside longer digit runs)
    rf"(?<![0-9])(?:(?:19|20)[0-9]{{2}}([-/.]){_MONTH}\1{_DAY}"
    rf"|{_DAY}([-/.]){_DAY}\2(?:19|20)?[0-9]{{2}})(?![0-9])"
)
_UNIT_AFTER = re.compile(  # 140 lbs, 30 min, 40/hr, 200 per hour, 300 roses
    r"\s?(?:/\s?|per\s)?(?:%|(?:lbs?|kgs?|cm|mm|ft|in|inch|inches|mi|km|miles|usd|dollars|roses?|hrs?|"
    r"hours?|mins?|minutes|am|pm|k|yo|years?|hh|hhr|qv|qk|half|overnight|nights?|days?|"
    r"weeks?|months?|sessions?|each)\b)"
)
_CURRENCY = frozenset("$€£¥")
_NON_DIGIT = re.compile(r"[^0-9]+")
_PLAIN_GROUP = re.compile(r"[0-9]+")
_TEN: Final = frozenset({(10,), (3, 7), (3, 3, 4), (6, 4), (3, 3, 2, 2)})
_NANP_SHAPES: Final = _TEN | {(1, *s) for s in _TEN} | {(s[0] + 1, *s[1:]) for s in _TEN}


class _Group(NamedTuple):
    digits: str
    start: int  # span in the projected text
    end: int
    weak: bool  # only look-alike letters (o, l, i) standing for digits

    @property
    def spelled(self) -> bool:
        """Digits written as words ("seven" is 7 plus PAD characters in the text)."""
        return self.end - self.start != len(self.digits)


_LEADING = -1  # in a blocked set: the first group is an id or a price (see `_blocked`)
_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (hot path)


class _Hit(NamedTuple):
    first: int  # index of the first and last group of the number
    last: int
    number: ValidNumber
    whole: bool  # the number is the whole run, not a window cut from it


def _groups(projected: str, start: int, end: int, strip_weak: bool = True) -> list[_Group]:
    """The digit groups of a candidate run.

    Short look-alike words at the ends ("I", "lol") are dropped unless ``strip_weak`` is
    false; a 3-letter one could not start a number anyway (no area code begins with 0/1).
    """
    if _HAS_SPECIAL.search(projected, start, end):
        groups = []
        for m in _GROUP.finditer(projected, start, end):
            run = m.group()
            weak = not run.strip(_SPECIAL)
            groups.append(_new(_Group, (run.translate(_TO_DIGIT), m.start(), m.end(), weak)))
        while strip_weak and groups and _word_like(groups[0], groups[1:2]):
            groups.pop(0)
        while strip_weak and groups and _word_like(groups[-1], groups[-2:-1]):
            groups.pop()
    else:
        groups = [
            _new(_Group, (m.group(), m.start(), m.end(), False))
            for m in _GROUP.finditer(projected, start, end)
        ]
    return groups


def _word_like(group: _Group, neighbour: list[_Group]) -> bool:
    """Whether a weak group at the end of a run is a word rather than digits.

    It is not when it is one letter among digits written one by one ("2 0 1  5 5 5  O O").
    """
    if not group.weak or len(group.digits) >= 4:
        return False
    return not (len(group.digits) == 1 and neighbour and len(neighbour[0].digits) == 1)


def _merged(sizes: Iterable[int]) -> tuple[int, ...]:
    """Group sizes, consecutive one-digit groups ("6 1 9 …") counting as one group."""
    merged: list[int] = []
    previous_single = False
    for size in sizes:
        single = size == 1
        if single and previous_single:
            merged[-1] += 1
        else:
            merged.append(size)
        previous_single = single
    return tuple(merged)


def _shape(groups: list[_Group]) -> tuple[int, ...]:
    return _merged(len(g.digits) for g in groups)


def _whole(
    digits: str, sizes: Iterable[int], seps: list[str], region: str, plus: bool
) -> ValidNumber | None:
    """The whole run as one number, if it is one (the rule shared by both paths).

    In a NANP region without a "+" the run must be ten or eleven digits (or start with the
    011 prefix) and well formed; "00" may stand for "+" ("00 44 …", "001-702-…").
    """
    n = len(digits)
    if n > 17:
        return None
    nanp = region in NANP_REGIONS
    loose = plus or not nanp  # a country code, or another country's numbering
    plausible = n in (10, 11) or digits.startswith("011")
    if loose or (plausible and _well_formed(_merged(sizes), seps)):
        found = validate(digits, region, plus)
        if found is not None:
            return found
    if not plus and digits.startswith("00"):
        return validate(digits[2:], region, True)
    return None


def _window_lengths(digits: str, a: int, plus: bool, nanp: bool) -> range | tuple[int, ...]:
    if plus and a == 0:
        return range(min(len(digits), 15), 7, -1)
    if nanp and digits.startswith("011", a):  # dialled from the US: 011, country, number
        return range(min(len(digits) - a, 18), 10, -1)
    if nanp:
        return (11, 10) if digits[a] == "1" else (10,)
    return range(min(len(digits) - a, 15), 6, -1)


def _well_formed(sizes: tuple[int, ...], seps: list[str]) -> bool:
    """A run may be a NANP number as a whole.

    It needs phone-shaped groups, or one separator used throughout ("70 25 55 01 47"):
    "22-32. 24/7. 100" is not one.
    """
    return sizes in _NANP_SHAPES or len(set(seps)) <= 1


def _numbers(
    projected: str,
    groups: list[_Group],
    seps: list[str],
    region: str,
    plus: bool,
    try_whole: bool = True,
    blocked: frozenset[int] = frozenset(),
) -> list[_Hit]:
    """The valid phone numbers in a run: the whole run, or windows on group boundaries.

    ``seps[k]`` is what separates group k from group k+1. A window cut from a longer run
    must be set apart by a separator it does not use inside ("Oh 212-555-0123",
    "12/24/2025 702-555-0123"), so "Rates 40/210/220/1000" holds no phone; a run made of
    nothing but phone numbers ("702 555 0123 702 555 0145") is the exception. Groups in
    ``blocked`` (a price, a measure, an id) are in no number but still part of the run.
    """
    digits = "".join(g.digits for g in groups)
    nanp = region in NANP_REGIONS
    if try_whole and not blocked:
        whole = _whole(digits, [len(g.digits) for g in groups], seps, region, plus)
        if whole is not None:
            return [_Hit(0, len(groups) - 1, whole, True)]
    hits = _windows(projected, groups, seps, digits, region, plus, blocked, strict=True)
    if nanp and len(groups) > 1 and not blocked:
        tiled = _windows(projected, groups, seps, digits, region, plus, blocked, strict=False)
        covers = bool(tiled) and tiled[0].first == 0 and tiled[-1].last == len(groups) - 1
        contiguous = all(b.first == a.last + 1 for a, b in itertools.pairwise(tiled))
        if covers and contiguous and len(tiled) > len(hits):
            hits = tiled
    return hits


def _windows(
    projected: str,
    groups: list[_Group],
    seps: list[str],
    digits: str,
    region: str,
    plus: bool,
    blocked: frozenset[int],
    strict: bool,
) -> list[_Hit]:
    nanp = region in NANP_REGIONS
    starts = [0]
    for g in groups:
        starts.append(starts[-1] + len(g.digits))
    ends = {offset: k for k, offset in enumerate(starts)}  # digit offset -> group index
    hits: list[_Hit] = []
    first = 0
    while first < len(groups):
        hit = None
        for begin in _single_run_starts(projected, groups, seps, first) if nanp else (first,):
            hit = _window_at(
                groups, seps, digits, starts, ends, begin, region, plus, blocked, strict
            )
            if hit is not None:
                break
        if hit is None:
            first += 1
        else:
            hits.append(hit)
            first = hit.last + 1
    return hits


def _window_at(
    groups: list[_Group],
    seps: list[str],
    digits: str,
    starts: list[int],
    ends: dict[int, int],
    first: int,
    region: str,
    plus: bool,
    blocked: frozenset[int],
    strict: bool,
) -> _Hit | None:
    nanp = region in NANP_REGIONS
    a = starts[first]
    for length in _window_lengths(digits, a, plus, nanp):
        last = ends.get(a + length, 0) - 1
        leading = first == 0 and _LEADING in blocked
        if last < first or first in blocked or last in blocked or leading:
            continue
        window_plus = plus and first == 0
        if nanp and not window_plus and not digits.startswith("011", a):
            if _shape(groups[first : last + 1]) not in _NANP_SHAPES:
                continue
            if strict and not _set_apart(groups, seps, first, last, blocked):
                continue
        number = validate(digits[a : a + length], region, window_plus)
        if number is not None:
            return _Hit(first, last, number, False)
    return None


def _set_apart(
    groups: list[_Group],
    seps: list[str],
    first: int,
    last: int,
    blocked: frozenset[int] = frozenset(),
) -> bool:
    """Whether a window is a number of its own within its run.

    It is not when a neighbour of two or more digits joins it with a separator the window
    uses inside: "40/210/220/1000" is a price list, while "24/7 201 555 0000" and
    "Room 2 201 555 0000" end in a phone.
    """
    if all(len(g.digits) == 1 for g in groups[first : last + 1]):
        return True  # digits written one by one: nothing to compare
    inside = set(seps[first:last])
    for sep_index, neighbour in ((first - 1, first - 1), (last, last + 1)):
        joined = 0 <= sep_index < len(seps) and seps[sep_index] in inside
        if not joined or neighbour in blocked:  # a measure or a date next to it: not a number
            continue
        other = groups[neighbour]
        if len(other.digits) >= 2 and not other.weak and not other.spelled:
            return False  # (a weak or spelled neighbour is a word such as "Lili", "one two")
    return True


def _single_run_starts(
    projected: str, groups: list[_Group], seps: list[str], first: int
) -> tuple[int, ...]:
    """Where to look for a number in a run of one-digit groups starting at ``first``.

    "2 3 1  5 5 5  0 0 0 0 oh" or "24/7 2 0 2 5 5 5 0 1 4 7" hold eleven digits for ten.
    The separators usually tell which one is extra (wider gaps between 2 3 1 | 5 5 5 |
    0 0 0 0 0 show a trailing one); without that, a digit next to a word is the extra one
    ("Room 2 …", "… 2 girls"), and else a leading one is likelier; both are tried.
    """
    if len(groups[first].digits) != 1 or (first and len(groups[first - 1].digits) == 1):
        return (first,)
    length = 0
    while first + length < len(groups) and len(groups[first + length].digits) == 1:
        length += 1
    extra = length % 10 if length > 10 else 0
    if not extra:
        return (first,)
    inner = seps[first : first + length - 1]
    usual = max(set(inner), key=inner.count)
    sizes, size = [], 1
    for sep in inner:
        if sep == usual:
            size += 1
        else:
            sizes.append(size)
            size = 1
    sizes.append(size)
    if sizes[-1] == extra or (len(sizes) >= 3 and sizes[-1] == 4 + extra and sizes[0] == 3):
        return (first,)  # "… zero 2 girls", 3-3-(4+extra): the extra digits trail
    if sizes[0] == extra or (len(sizes) >= 3 and sizes[0] == 3 + extra and sizes[-1] == 4):
        return (first + extra,)  # "24/7 2 0 2…", (3+extra)-3-4: they lead
    start, end = groups[first].start, groups[first + length - 1].end
    word_before = projected[max(0, start - 4) : start].rstrip()[-1:].isalpha()
    word_after = projected[end : end + 4].lstrip()[:1].isalpha()
    if word_after and not word_before:
        return (first, first + extra)
    return (first + extra, first)


def _blocked(
    projected: str, groups: list[_Group], identifier: bool = False, dated: bool = False
) -> frozenset[int]:
    """Groups that are not part of a phone.

    An id after "post #", a price, a measure, and the groups of a date.
    """
    blocked = set()
    if _UNIT_AFTER.match(projected, groups[-1].end):
        blocked.add(len(groups) - 1)
    if dated:
        dates = list(_DATE_LIKE.finditer(projected, groups[0].start, groups[-1].end))
        for k, g in enumerate(groups):
            if any(d.start() <= g.start and g.end <= d.end() for d in dates):
                blocked.add(k)
    # A leading id or price is kept apart from the rest differently: unlike a measure or a
    # date it may head a list ("$40/210/220/1000"), so it still counts as a neighbour.
    if identifier or projected[groups[0].start - 1 : groups[0].start] in _CURRENCY:
        blocked.add(_LEADING)
    return frozenset(blocked)


def _separators(projected: str, groups: list[_Group]) -> list[str]:
    return [projected[a.end : b.start] for a, b in itertools.pairwise(groups)]


def numbers_in_run(
    projected: str,
    run_start: int,
    run_end: int,
    start: int,
    plus: bool,
    region: str,
    identified: bool = False,
) -> list[tuple[int, int, ValidNumber, bool]]:
    """Numbers in one candidate run: ``(start, end, number, whole)``, projected offsets.

    The run is ``projected[run_start:run_end]``; ``start`` is where it begins with its
    lead-in ("+", "("). ``identified`` says the run follows "post #", "zip" and the like:
    its first group is that identifier, and only the rest of the run may hold a phone.
    """
    run = projected[run_start:run_end]
    dated = not plus and _DATE_LIKE.search(run) is not None
    if dated or identified:
        plus = False  # only windows shaped like phone numbers count
    elif (
        _HAS_SPECIAL.search(run) is None
        and projected[run_start - 1 : run_start] not in _CURRENCY
        and _UNIT_AFTER.match(projected, run_end) is None
    ):  # the common case: plain digits making one number
        parts = _PLAIN_GROUP.findall(run)
        seps = _NON_DIGIT.findall(run)
        number = _whole("".join(parts), map(len, parts), seps, region, plus)
        if number is not None:
            return [(start, run_end, number, True)]
    groups = _groups(projected, run_start, run_end)
    if not groups:  # only look-alike words ("lol I lol"), stripped
        return []
    spelled_one = groups[0].digits == "1" and PAD in projected[groups[0].start : groups[0].end]
    if len(groups) > 1 and spelled_one and projected[groups[1].start].isdigit():
        groups.pop(0)  # "I'm the one (201) 555-0000": a word, not a country code
    plus = plus and groups[0].start == run_start
    blocked = _blocked(projected, groups, identified and groups[0].start == run_start, dated)
    seps = _separators(projected, groups)
    hits = _numbers(projected, groups, seps, region, plus, not dated, blocked)
    weak = WEAK_ZERO in run or WEAK_ONE in run
    if weak and not identified:  # maybe a lone "l" or "O" at an end was a digit after all
        every = _groups(projected, run_start, run_end, strip_weak=False)
        if len(every) != len(groups):
            seps = _separators(projected, every)
            more = _numbers(
                projected,
                every,
                seps,
                region,
                plus,
                not dated,
                _blocked(projected, every, dated=dated),
            )
            if len(more) > len(hits):
                groups, hits = every, more
    found = []
    for hit in hits:
        if hit.first == 0 and groups[0].start == run_start:
            begin = start
        else:
            begin = groups[hit.first].start
            if projected[begin - 1 : begin] in ("(", "["):
                begin -= 1  # "(201) …" cut from a longer run keeps its bracket
        found.append((begin, groups[hit.last].end, hit.number, hit.whole))
    return found
