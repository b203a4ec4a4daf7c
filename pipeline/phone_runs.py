"""From a run of digit groups to the phone numbers in it (pure; see `pipeline.phones`).

A run is cut into the groups it was written in. The whole run, or else windows that start
and end on group boundaries, are validated; in a NANP region a window must be shaped like
a phone number and set apart from its neighbours, so price lists and dates that hold ten
digits are not taken. A number dialled abroad must write its exit prefix (011, or 00 for
"+") as one (`_dialled_abroad`): the 011 of a ZIP code ("01143-0120") or one joined from
two groups ("5:01. 12518") dials nowhere. A date, a price or a measure is in no number,
at its ends or inside; it, a ZIP+4 code, an id and a count ("13 reviews") are tokens of
their own, not items of a list that would keep a window from being set apart.
`numbers_in_run` returns ``(start, end, number, whole)`` in the offsets of the projected
text.
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
_UNIT_AFTER = re.compile(  # 140 lbs, 30 min, 40/hr, 200 per hour, 300 roses; 36F; 5'7
    r"\s?(?:/\s?|per\s)?(?:%|(?:lbs?|kgs?|cm|mm|ft|in|inch|inches|mi|km|miles|usd|dollars|roses?|hrs?|"
    r"hours?|mins?|minutes|am|pm|k|yo|years?|hh|hhr|qv|qk|half|overnight|nights?|days?|"
    r"weeks?|months?|sessions?|each)\b)"
    r"|(?<![0-9]{3})(?<=[2-5][0-9])([a-h])\1{0,2}(?![a-z])"  # 36F, 34DD: a band and cup size
    r"|(?<![0-9]{2})(?<=[3-7])'[0-9]"  # 5'7, 4'11": a height in feet and inches
)
_CURRENCY = frozenset("$€£¥")
_COUNT_AFTER = re.compile(r" [a-z]")  # "13 reviews", "40 photos": a count of something
_TIGHT = frozenset("-/.")  # separators that tie two groups into one token: 06052-6524, 12/24
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


_LEADING = -1  # in a blocked set: the first group is a price (see `_blocked`)
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

    In a NANP region without a "+" the run must be ten or eleven digits and well formed,
    or be dialled abroad with an exit prefix written as one (`_dialled_abroad`): 011, or
    "00" standing for "+" ("00 44 …", "001-702-…").
    """
    n = len(digits)
    if n > 17:
        return None
    if plus or region not in NANP_REGIONS:  # a country code, or another country's numbering
        found = validate(digits, region, plus)
        if found is None and not plus and digits.startswith("00"):
            return validate(digits[2:], region, True)
        return found
    if digits[:1] != "0":  # no exit prefix: most runs, so ``sizes`` is read only once
        shaped = n in (10, 11) and _well_formed(digits, sizes, seps)
        return validate(digits, region, False) if shaped else None
    shape = tuple(sizes)
    if digits.startswith("011"):
        shaped = _dialled_abroad(shape, seps, "011")
    else:
        shaped = n in (10, 11) and _well_formed(digits, shape, seps)
    found = validate(digits, region, False) if shaped else None
    if found is None and digits.startswith("00") and _dialled_abroad(shape, seps, "00"):
        return validate(digits[2:], region, True)
    return found


def _window_lengths(digits: str, a: int, plus: bool, nanp: bool) -> range | tuple[int, ...]:
    if plus and a == 0:
        return range(min(len(digits), 15), 7, -1)
    if nanp and digits.startswith("011", a):  # dialled from the US: 011, country, number
        return range(min(len(digits) - a, 18), 10, -1)
    if nanp:
        return (11, 10) if digits[a] == "1" else (10,)
    return range(min(len(digits) - a, 15), 6, -1)


def _well_formed(digits: str, sizes: Iterable[int], seps: list[str]) -> bool:
    """A run of ten or eleven digits may be a NANP number as a whole.

    It needs phone-shaped groups, or one separator used throughout ("70 25 55 01 47"):
    "22-32. 24/7. 100" is not one, nor is a list of rising values ("80/90/310/800").
    """
    merged = _merged(sizes)
    if merged in _NANP_SHAPES:
        return True
    return len(set(seps)) <= 1 and not _rising_list(digits, merged, len(seps) + 1)


def _rising_list(digits: str, merged: tuple[int, ...], groups: int) -> bool:
    """Whether three or more groups of two or more digits are a list of rates.

    ``merged`` is what `_merged` made of the sizes of the ``groups`` groups.
    """
    if groups < 3 or len(merged) != groups or min(merged) < 2:
        return False  # (merged one-digit groups: some group has one digit)
    bounds = itertools.pairwise(itertools.accumulate(merged, initial=0))
    return _rising(digits[a:b] for a, b in bounds)


def _rising(values: Iterable[str]) -> bool:
    """Whether numbers rise left to right, as rates do ("80-90-260-420")."""
    return all(int(a) < int(b) for a, b in itertools.pairwise(values))


def _dialled_abroad(sizes: tuple[int, ...], seps: list[str], prefix: str) -> bool:
    """Whether digits starting with an exit prefix are written as a number dialled abroad.

    Every digit is written together ("011442079460958") or apart ("0 1 1 4 4 …", words),
    or there is one separator throughout and the prefix is a group of its own: 011 alone
    ("011 44 20 7946 0958"), 00 alone or with the country code ("00 44 …", "0044 20 …",
    "001-702-555-0123"). A prefix glued to more digits, split across groups or followed by
    other separators is not one: "01143-0120. 01001-0000" is two ZIP+4 codes, "5:01.
    12518-0248" a time and a ZIP+4 code, "00601-7753 | 2966" a ZIP+4 code of Puerto Rico.
    """
    if len(sizes) == 1 or max(sizes) == 1:
        return True
    if len(set(seps)) > 1:
        return False
    return sizes[0] == 3 if prefix == "011" else 2 <= sizes[0] <= 5


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
    tied = _digit_by_digit(groups, digits, starts) if nanp else frozenset()
    counted = _COUNT_AFTER.match(projected, groups[-1].end) is not None
    tally = len(groups) - 1 if counted else -1  # "702 555 0123 13 reviews"
    run = _Run(groups, seps, digits, starts, ends, region, plus, blocked, strict, tied, tally)
    first = 0
    while first < len(groups):
        hit = None
        for begin in _single_run_starts(projected, groups, seps, first) if nanp else (first,):
            hit = _window_at(run, begin)
            if hit is not None:
                break
        if hit is None:
            first += 1
        else:
            hits.append(hit)
            first = hit.last + 1
    return hits


def _digit_by_digit(groups: list[_Group], digits: str, starts: list[int]) -> frozenset[int]:
    """Where a window may not cut: between the digits of a number written one at a time.

    A run of one-digit groups that is a NANP number by its length (ten digits, or eleven
    after a 1) is read whole: "suite 234 five zero two hyphen seven eight zero hyphen zero
    one two four" holds 502 780 0124, not 234 502 7800. Returns each k such that groups k
    and k + 1 are two digits of one such number.
    """
    tied: set[int] = set()
    k, n = 0, len(groups)
    while k < n:
        if len(groups[k].digits) != 1:
            k += 1
            continue
        j = k
        while j + 1 < n and len(groups[j + 1].digits) == 1:
            j += 1
        size, lead = j - k + 1, digits[starts[k]]
        if (size == 10 and lead not in "01") or (size == 11 and lead == "1"):
            tied.update(range(k, j))
        k = j + 1
    return frozenset(tied)


class _Run(NamedTuple):
    """A run as every window cut from it is checked (see `_window_at`)."""

    groups: list[_Group]
    seps: list[str]
    digits: str
    starts: list[int]  # digit offset of each group, then of the end
    ends: dict[int, int]  # digit offset -> index of the group starting there
    region: str
    plus: bool
    blocked: frozenset[int]
    strict: bool  # windows must be set apart
    tied: frozenset[int]  # see `_digit_by_digit`
    tally: int  # index of a count ending the run ("13 reviews"), else -1


def _window_at(run: _Run, first: int) -> _Hit | None:
    groups, seps, digits, starts, ends, region, plus, blocked, strict, tied, tally = run
    nanp = region in NANP_REGIONS
    a = starts[first]
    if first == 0 and _LEADING in blocked:
        return None
    if first - 1 in tied:
        return None  # it would start inside a number written one digit at a time
    for length in _window_lengths(digits, a, plus, nanp):
        last = ends.get(a + length, 0) - 1
        if last < first or (blocked and not blocked.isdisjoint(range(first, last + 1))):
            continue  # a price, a measure or a date is in no number, not even inside one
        if last in tied:
            continue
        window_plus = plus and first == 0
        if nanp and not window_plus:
            if digits.startswith("011", a):
                sizes = tuple(len(g.digits) for g in groups[first : last + 1])
                if not _dialled_abroad(sizes, seps[first:last], "011"):
                    continue
            elif _shape(groups[first : last + 1]) not in _NANP_SHAPES:
                continue
            if strict and not _set_apart(groups, seps, first, last, blocked, tally):
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
    tally: int = -1,
) -> bool:
    """Whether a window is a number of its own within its run.

    It is not when a neighbour of two or more digits joins it with a separator the window
    uses inside: "40/210/220/1000" is a price list, while "24/7 201 555 0000" and
    "Room 2 201 555 0000" end in a phone. No item of a list either: a blocked neighbour,
    one tied to its other side by a tight separator the window does not use (the ZIP+4
    code in "757 555 5757 06052-6524"), and the group at ``tally``, a count of what the
    word after it names ("702 555 0123 13 reviews") unless the values rise through it as
    rates do ("250 350 1000 2000 special").
    """
    if all(len(g.digits) == 1 for g in groups[first : last + 1]):
        return True  # digits written one by one: nothing to compare
    inside = set(seps[first:last])
    for sep_index, neighbour, far in (
        (first - 1, first - 1, first - 2),
        (last, last + 1, last + 1),
    ):
        joined = 0 <= sep_index < len(seps) and seps[sep_index] in inside
        if not joined or neighbour in blocked:  # a measure or a date next to it
            continue
        if neighbour == tally and not _rising(g.digits for g in groups[first : neighbour + 1]):
            continue
        if 0 <= far < len(seps) and seps[far] in _TIGHT and seps[far] not in inside:
            continue  # "06052-6524": the neighbour belongs to another token
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
    # An id named by its cue is one token, like a measure ("order no. 4155550117 | 317 |
    # 555 | 7171" ends in a phone). A leading price is kept apart from the rest differently:
    # it may head a list ("$40/210/220/1000"), so it still counts as a neighbour.
    if identifier:
        blocked.add(0)
    elif projected[groups[0].start - 1 : groups[0].start] in _CURRENCY:
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
