"""Negation scope: a cue is denied by a negator a few words before it, in the same clause.

    "not new in town"   "no hotels, no motels"   "never a duo"   "🚫 hotels"   → negated
    "no drama. New in town"   "no rush, new in town"                            → not negated

The scope of a negator runs to the cue over at most `SCOPE_WORDS` words and stops at
clause punctuation (. , ; : ! ? brackets, a dash between spaces, a line break) and at
"but". Negators come from the ``negators`` list (no, not, never, don't, without, nothing…);
any word ending in "n't" counts too. No per-phrase exceptions: the rule is the same for
every indicator (law_enforcement_evasion reads a negated police word as the cue itself).
"""

from __future__ import annotations

import re
from collections.abc import Set
from typing import Final

SCOPE_WORDS: Final = 4
_WINDOW: Final = 60  # characters looked at before a cue
_CLAUSE_END = re.compile(r"[.,;:!?()\[\]{}|•\n]|\s[-~]+\s|\bbut\b|\bexcept\b")
_WORD = re.compile(r"[^\s\"*~]+")
_AFTER = re.compile(r"[^.,;:!?()\[\]{}|•\n]{0,40}")


def negator_before(
    lower: str, start: int, negators: Set[str], scope: int = SCOPE_WORDS
) -> int | None:
    """Offset of the negator whose scope covers the cue at ``start``, else None.

    ``lower`` is the lower-case text (clause punctuation intact); ``scope`` is how many
    words before the cue a negator may stand.
    """
    begin = max(0, start - _WINDOW)
    window = lower[begin:start]
    cut = 0
    for m in _CLAUSE_END.finditer(window):
        cut = m.end()
    words = list(_WORD.finditer(window, cut))[-scope:]
    for m in words:
        word = m.group().strip("'")
        if word in negators or word.endswith("n't"):
            return begin + m.start()
    return None


def clause_after(lower: str, end: int) -> str:
    """The rest of the clause after ``end`` (at most 40 characters)."""
    m = _AFTER.match(lower, end)
    return m.group() if m else ""
