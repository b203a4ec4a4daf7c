"""What every entity extractor shares: the text it reads, its match record, word lists.

Each extractor module reads a `Doc` (the normalized text `NormalizedText.text`, its
lower-case twin and its set of words) and returns `Found` records in normalized offsets;
`to_entity` maps one back to the original text, so ``original[start:end] == raw`` holds.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Final, NamedTuple

from pipeline.textnorm import NormalizedText
from schemas import Entity

EXTRACTOR_PREFIX: Final = "adwatch.entities"


# ASCII punctuation and digits become spaces, so "19yo", "snap:", "$200/hr" and "(at)"
# yield the words "yo", "snap", "hr" and "at"; the apostrophe stays ("i'm", "it's")
_WORD_BREAKS = bytes(
    32 if b < 128 and (chr(b) in string.punctuation or chr(b).isdigit()) and b != 39 else b
    for b in range(256)
)


class Doc(NamedTuple):
    """A normalized text, its lower-case twin (same offsets) and the set of its words.

    Extractors match most patterns on ``lower`` (case-insensitive regexes are several
    times slower), read values and capitalization from ``text``, and look in ``words``
    before running a pattern at all: one set built per text is far cheaper than testing
    dozens of substrings, and most texts hold none of an extractor's cue words.
    """

    text: str
    lower: str
    words: frozenset[str]

    @classmethod
    def of(cls, text: str) -> Doc:
        """Build the `Doc` of a normalized ``text``."""
        lower = text.lower()
        if len(lower) != len(text):  # rare: "İ" lower-cases to two characters
            lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        raw = lower.encode("utf-8", "surrogatepass").translate(_WORD_BREAKS)
        words = raw.decode("utf-8", "surrogatepass").split()
        return cls(text, lower, frozenset(words))


class Found(NamedTuple):
    """One extraction in normalized-text offsets, before it is mapped back."""

    kind: str
    start: int
    end: int
    value: str
    confidence: float


def to_entity(norm: NormalizedText, found: Found) -> Entity:
    """The `Entity` for ``found``, with its raw text and offsets in ``norm.original``."""
    if norm.offsets.is_identity:  # most texts: no HTML, nothing that expands or vanishes
        start, end = found.start, found.end
        raw = norm.original[start:end]
    else:
        raw, start, end = norm.raw(found.start, found.end)
    return Entity(
        raw=raw,
        start=start,
        end=end,
        extractor=f"{EXTRACTOR_PREFIX}.{found.kind}",
        confidence=found.confidence,
        type=found.kind,
        value=found.value,
    )


def overlaps(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    """True when ``[start, end)`` overlaps one of ``spans``."""
    return any(start < e and s < end for s, e in spans)


def data_lines(name: str) -> list[str]:
    """Non-empty lines of the packaged file ``pipeline/entities/data/<name>``, no comments."""
    text = (resources.files("pipeline.entities") / "data" / name).read_text("utf-8")
    lines = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


@cache
def word_list(name: str) -> frozenset[str]:
    """Lower-case words of a packaged word list (several a line are allowed), cached."""
    return frozenset(word.lower() for line in data_lines(name) for word in line.split())


def needle_starts(text: str, needles: Iterable[str]) -> list[int]:
    """Sorted offsets where one of ``needles`` starts a word of ``text``.

    A needle right after a letter, digit, ``_`` or ``'`` is inside a word and left out.
    `str.find` locates a few fixed strings far faster than a regex that starts with an
    alternation of words (the regex engine tries every position).
    """
    starts: list[int] = []
    for needle in needles:
        i = text.find(needle)
        while i != -1:
            if i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_'"):
                starts.append(i)
            i = text.find(needle, i + 1)
    if len(starts) > 1:
        starts = sorted(set(starts))
    return starts


def matches_at(pattern: re.Pattern[str], text: str, needles: Iterable[str]) -> list[re.Match[str]]:
    """Matches of ``pattern`` anchored at each `needle_starts` offset (they may overlap)."""
    found = []
    for i in needle_starts(text, needles):
        m = pattern.match(text, i)
        if m is not None:
            found.append(m)
    return found
