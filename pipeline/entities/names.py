"""Names given after a cue: "ask for Ruby", "I'm Amber", "my name is Jade", "Mia here".

    cue (case-insensitive)                     name (must be capitalized)
    ask for · my name is · name's · name:      strong: any name-like word
    call me · I go by · known as
    I'm · I am · im · it's · its · this is     weak: a name gender-guesser does not know
    call · <Name> here                         counts only when a comma, a full stop, "and"
                                               or "here" follows ("I'm Xyla, 22")

Words of the packaged stop list never count ("I'm New", "ask for Details", "this is
Real", "call Now", "it's May"), and a month name does not when a number follows ("it's
June 5"). A name in capitals ("ASK FOR RUBY") must be a known first name. The value is
the name as written, in title case; the raw span is the name alone. Confidence: 0.9 for
a known first name, 0.8 for one in capitals, 0.6 for an unknown word.
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.entities.base import Doc, Found, matches_at, needle_starts, word_list
from pipeline.entities.firstnames import is_first_name

KIND: Final = "name"

_STRONG_CUES: Final = frozenset(
    {"ask for", "name is", "name's", "names", "name:", "go by", "call me", "known as"}
)
_NAME = r"(?:[A-Z][a-z]+(?:['\-][A-Z][a-z]+)?|[A-Z]{2,}(?:['\-][A-Z]{2,})?)"
# cues are matched on the lower-case text, the name after them on the original
_CUE = re.compile(
    r"(?P<cue>ask\s+for|name\s+is|name's|names|name\s*:|go\s+by|call\s+me|known\s+as|i'm|im|"
    r"i\s+am|it's|its|it\s+is|this\s+is|call)(?:(?<=:)[ \t]*|[ \t]+)(?=[a-z])"
)
_NAME_AT = re.compile(_NAME + r"(?![\w\-]|'\w)")
_NAME_BEFORE = re.compile(r"(?<![\w'\-])" + _NAME + r"$")
# cue words (as `Doc.words` holds them) -> where the cue starts in the lower-case text
_CUE_STARTS: Final = {
    "ask": "ask", "name": "name", "names": "name", "name's": "name", "go": "go by",
    "call": "call", "known": "known", "i'm": "i'm", "im": "im", "am": "i am", "it": "it is",
    "it's": "it's", "its": "its", "this": "this is",
}  # fmt: skip
_CUE_WORDS: Final = frozenset(_CUE_STARTS)
_NAME_LIKE_AFTER = re.compile(
    r"[ \t]*(?:[,.!?;:)\n(]|$|-|\s+(?:and|here|from|&)\b|\s+\d|[^\x00-\x7f])"
)
_PLACE_AFTER = re.compile(r"\s+(?:based|area|native|local|born)\b")
_OPENING_BEFORE = re.compile(r"(?:^|[.,!?;:\n(\-]|\b(?:hi|hey|hello|gentlemen|guys|babe|and))\s*$")
_MONTHS: Final = frozenset({"april", "june", "july", "august"})
_NUMBER_AFTER = re.compile(r"\s*\d")
_PARTS = re.compile(r"['\-]")


def _confidence(name: str, doc: Doc, end: int, weak: bool) -> float | None:
    """How sure ``name`` (ending at ``end``) is a person's name; None when it is not."""
    lowered = name.lower()
    if lowered in word_list("name_stopwords.txt"):
        return None
    if lowered in _MONTHS and _NUMBER_AFTER.match(doc.text, end):
        return None
    known = is_first_name(lowered) or all(is_first_name(p) for p in _PARTS.split(lowered))
    if name.isupper():
        return 0.8 if known else None
    if known:
        return None if _PLACE_AFTER.match(doc.lower, end) else 0.9
    if weak and not _NAME_LIKE_AFTER.match(doc.lower, end):
        return None
    return 0.6


def _title(name: str) -> str:
    return name.title() if name.isupper() else name


def _name_before_here(doc: Doc, i: int) -> re.Match[str] | None:
    """The capitalized word before "here" at ``i`` ("Mia here"), if any."""
    if doc.lower[i + 4 : i + 5].isalnum():
        return None  # "hereby"
    before = doc.text[max(0, i - 32) : i]
    end = i - (len(before) - len(before.rstrip(" \t")))
    if end == i:
        return None
    return _NAME_BEFORE.search(doc.text, max(0, end - 30), end)


def find_names(doc: Doc) -> list[Found]:
    """Names after a cue in ``doc``; the value is the name in title case."""
    lower, text = doc.lower, doc.text
    found: list[Found] = []
    cues = doc.words & _CUE_WORDS
    for m in matches_at(_CUE, lower, {_CUE_STARTS[w] for w in cues}) if cues else ():
        name = _NAME_AT.match(text, m.end())
        if name is None:
            continue
        cue = " ".join(m.group("cue").split())
        weak = cue not in _STRONG_CUES and not cue.startswith("name")
        confidence = _confidence(name.group(), doc, name.end(), weak)
        if confidence is not None:
            found.append(Found(KIND, name.start(), name.end(), _title(name.group()),
                               confidence))  # fmt: skip
    for i in needle_starts(lower, ("here",)) if "here" in doc.words else ():
        name = _name_before_here(doc, i)
        if name is None:
            continue
        confidence = _confidence(name.group(), doc, name.end(), weak=False)
        if confidence is None:
            continue
        opening = _OPENING_BEFORE.search(lower, max(0, name.start() - 12), name.start())
        if confidence < 0.9 and opening is None:
            continue  # an unknown word: only at the start of a sentence ("Hey, Xyla here")
        found.append(Found(KIND, name.start(), name.end(), _title(name.group()), confidence))
    return found
