"""Spelled-out digits ("nine one six", "4one5", "Seven-One-Three") turned into digits.

`project_digit_words` rewrites every run of letters made only of digit words (one…nine,
zero, "oh") and the look-alike letters o/l/i, holding at least one digit word, into
digits. The result has the same length as its input, so offsets carry over: each word
becomes its digit followed by `PAD` characters ("nine" → "9" + 3 × PAD). A run must be
nothing but digit words: "someone" and "phone" are left alone, "nineonesix" becomes 9·1·6
and "onezero07" 1·0·07. An Aho-Corasick automaton finds the digit words in one pass (a
regex would try every "o", "e", "s"… of the text); only runs around its hits are read.

Runs of look-alikes alone ("O", "l", "lol") are read where a number is being matched, by
`project_lookalikes`: they become the weak digits `WEAK_ZERO`/`WEAK_ONE`, which count
only between real digits, so the pronoun in "I 212 555 0123" is not part of it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import ahocorasick

DIGIT_WORDS: Final = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
LOOKALIKES: Final = {"o": "0", "l": "1", "i": "1"}
# Words made only of digit words and look-alikes that are words in ads ("Ohio" = oh·i·o).
NOT_DIGITS: Final = frozenset({"ohio", "lone", "oho", "loh"})
PAD: Final = "\x01"
WEAK_ZERO: Final = "\x02"
WEAK_ONE: Final = "\x03"

_UNITS = sorted([*DIGIT_WORDS, *LOOKALIKES], key=len, reverse=True)
_UNIT = "(?:" + "|".join(_UNITS) + ")"
# The first unit must not follow a letter; the lookbehind sits after the first character
# so the regex engine can skip quickly to positions holding a possible first letter.
_FIRST = "(?:" + "|".join(rf"{u[0]}(?<![a-z]{u[0]}){u[1:]}" for u in _UNITS) + ")"
_RUN: Final = re.compile(rf"{_FIRST}{_UNIT}*(?![a-z])")
_TOKEN: Final = re.compile(_UNIT)
_WORDS = "|".join(sorted(DIGIT_WORDS, key=len, reverse=True))
_REPEAT: Final = re.compile(
    rf"(?<![a-z])(double|triple)[ -]?((?:{_WORDS}|o)(?![a-z])|[0-9](?![0-9]))"
)
_SPOKEN_SEPARATOR: Final = re.compile(r"(?<![a-z])(?:dash|dot|hyphen)(?![a-z])")
_WEAK = {"o": WEAK_ZERO, "l": WEAK_ONE, "i": WEAK_ONE}
_TO_WEAK: Final = str.maketrans(_WEAK)
_LOOKALIKE_RUN: Final = re.compile(r"(?<![a-z])[oli]+(?![a-z])")


def _automaton() -> ahocorasick.Automaton:
    """Digit words (value: their length) and the words that rewrite the text (value: -1)."""
    found = ahocorasick.Automaton()
    for word in DIGIT_WORDS:
        found.add_word(word, len(word))
    for word in ("dash", "dot", "hyphen", "double", "triple"):
        found.add_word(word, -1)
    found.make_automaton()
    return found


_AUTOMATON: Final = _automaton()


@lru_cache(maxsize=4096)
def _run_digits(run: str) -> str:
    if run in NOT_DIGITS:
        return run
    if len(run) == 1 or not run.strip("oli"):
        return "".join(_WEAK[c] for c in run)
    out: list[str] = []
    for token in _TOKEN.findall(run):
        out.append((DIGIT_WORDS.get(token) or LOOKALIKES[token]) + PAD * (len(token) - 1))
    return "".join(out)


def project_digit_words(lowered: str) -> str:
    """Replace digit-word runs in ``lowered`` (lower-case text) by digits, same length.

    The words "dash", "dot" and "hyphen" ("seven zero two dash five…") become spaces;
    "double"/"triple" repeat the digit after them ("triple five", "double oh", "double 0").
    Look-alike letters are left alone unless they sit in a run with a digit word.
    """
    hits = list(_AUTOMATON.iter(lowered))
    if any(size < 0 for _, size in hits):  # "dash", "double"…: rare, rewrite and read again
        lowered = _SPOKEN_SEPARATOR.sub(lambda m: " " * len(m.group()), lowered)
        lowered = _REPEAT.sub(_repeated, lowered)
        hits = list(_AUTOMATON.iter(lowered))
    parts: list[str] = []
    done = 0  # end of the text already copied into parts
    for last, size in hits:
        if size < 0 or last < done:
            continue  # inside a run already read ("nineonesix": one, six)
        start = last - size + 1
        while start > done and lowered[start - 1] in "oli":
            start -= 1  # look-alikes glued before the word ("ione", "lone")
        if start and "a" <= lowered[start - 1] <= "z":
            continue  # inside a word: "someone", "john"
        run = _RUN.match(lowered, start)
        if run is None or run.end() <= last:
            continue  # a word goes on after it: "ones", "seventh"
        parts += (lowered[done:start], _run_digits(run.group()))
        done = run.end()
    if not parts:
        return lowered
    parts.append(lowered[done:])
    return "".join(parts)


def project_lookalikes(text: str, start: int, end: int) -> str:
    """``text`` with the runs of look-alikes alone in ``[start, end)`` as weak digits.

    A run is letters o/l/i with no letter on either side ("O", "l", "lol" in "7O2 lol 5");
    the result has the same length.
    """
    span = _LOOKALIKE_RUN.sub(_weak_digits, text[start:end])
    return text[:start] + span + text[end:]


def _weak_digits(match: re.Match[str]) -> str:
    return match.group().translate(_TO_WEAK)


def _repeated(match: re.Match[str]) -> str:
    """Digits for "triple five" (555), padded to the words' length."""
    times = 2 if match.group(1) == "double" else 3
    unit = match.group(2)
    digit = DIGIT_WORDS.get(unit) or LOOKALIKES.get(unit) or unit
    return (digit * times).ljust(len(match.group()), PAD)
