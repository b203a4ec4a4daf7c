"""One ad's text as the content rules read it: cue hits, negation, context words.

    NormalizedText.text ─> TextView (text, lower, match: same offsets)
                              └─ Lexicons.scan(match) ─> Scan.hits {list name: spans}
                                                          ├─ negator(start)   negation scope
                                                          ├─ sentence_has()   a hit nearby
                                                          └─ context()        context_* words,
                                                                              scanned on demand
Rules turn hits into `Candidate` spans of two strengths (``weak`` or firm);
`pipeline.indicators.content` weighs them against the ad's context words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from pipeline.indicators.lexicon import Lexicons, Span, lower_form, match_form
from pipeline.indicators.negation import SCOPE_WORDS, negator_before

ESCORT: str = "context_escort"
ORDINARY: str = "context_ordinary"
_SPACES = re.compile(r"(?<=\w)  +(?=\w)")  # runs between words: "new  in town"


class Candidate(NamedTuple):
    """A span that may raise a flag, in normalized offsets; ``weak`` needs escort context."""

    start: int
    end: int
    weak: bool
    note: str


@dataclass(frozen=True, slots=True)
class TextView:
    """The normalized text, its lower-case twin and the form the automaton reads."""

    text: str
    lower: str
    match: str

    @classmethod
    def of(cls, text: str) -> TextView:
        """The view of a normalized ``text``."""
        lower = lower_form(text)
        return cls(text, lower, match_form(lower))


def squeeze(text: str) -> tuple[str, list[int]] | None:
    """``text`` with runs of spaces between words as one, and each kept character's offset.

    None when there is no such run (most texts).
    """
    if "  " not in text:
        return None
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    runs = list(_SPACES.finditer(text))
    if not runs:
        return None
    for m in runs:
        keep = m.start() + 1
        parts.append(text[pos:keep])
        index.extend(range(pos, keep))
        pos = m.end()
    parts.append(text[pos:])
    index.extend(range(pos, len(text)))
    return "".join(parts), index


def _scan(scanner: Callable[[str], dict[str, list[Span]]], view: TextView) -> dict[str, list[Span]]:
    """Hits of ``scanner`` in ``view.match``, found with runs of spaces read as one."""
    squeezed = squeeze(view.match)
    if squeezed is None:
        return scanner(view.match)
    text, index = squeezed
    return {
        name: [(index[s], index[e - 1] + 1) for s, e in spans]
        for name, spans in scanner(text).items()
    }


@dataclass(slots=True)
class Scan:
    """Hits of every scanned list in one text, and the helpers the rules share."""

    view: TextView
    hits: dict[str, list[Span]]
    lex: Lexicons
    counts: tuple[int, int] | None = None  # context(), once computed

    @classmethod
    def of(cls, view: TextView, lex: Lexicons) -> Scan:
        """Scan ``view`` with the cue lists of ``lex`` ("new  in town" counts too)."""
        return cls(view, _scan(lex.scan, view), lex)

    def negator(self, start: int, scope: int = SCOPE_WORDS) -> int | None:
        """Offset of a negator whose scope covers a cue at ``start``, else None."""
        return negator_before(self.view.lower, start, self.lex.phrases("negators"), scope)

    def sentence_has(self, name: str, start: int, end: int, reach: int = 60) -> Span | None:
        """The hit of ``name`` nearest ``[start, end)`` in the same sentence, within ``reach``."""
        best: Span | None = None
        lower = self.view.lower
        for s, e in self.hits.get(name, ()):
            gap = (e, start) if e <= start else (end, s) if s >= end else None
            if gap is None:
                return (s, e)
            if gap[1] - gap[0] > reach or any(c in lower[gap[0] : gap[1]] for c in ".!?\n"):
                continue
            if best is None or abs(s - start) < abs(best[0] - start):
                best = (s, e)
        return best

    def context(self, cue_lists: Iterable[str]) -> tuple[int, int]:
        """How many distinct ``context_escort`` and ``context_ordinary`` phrases the text has.

        Ordinary words inside a hit of ``cue_lists`` ("shift" of "girls on shift") do not
        count.
        """
        if self.counts is not None:
            return self.counts
        match = self.view.match
        hits = _scan(self.lex.scan_context, self.view)
        escort = {match[s:e] for s, e in hits.get(ESCORT, ())}
        cues = [span for name in cue_lists for span in self.hits.get(name, ())]
        ordinary = {
            match[s:e]
            for s, e in hits.get(ORDINARY, ())
            if not any(s < ce and cs < e for cs, ce in cues)
        }
        self.counts = (len(escort), len(ordinary))
        return self.counts
