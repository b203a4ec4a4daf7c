"""Phrase lists of the content indicators: packaged files, analysts' files, one automaton.

    pipeline/indicators/data/<name>.txt ───────────┐  one phrase a line, "# " comments
    <extra dir>/<name>.txt  (adds; "-phrase" drops) ┴─> read_lists ─> Lexicons.build
                                                         ├─ phrases(name)  word classes
                                                         └─ scan(text)     one Aho-Corasick
                                                            pass: {name: [(start, end), …]}

Phrases are read the way ad text is matched (`match_form`): normalized like the text
(NFKC, look-alike letters, typographic quotes), lower-cased, hyphens and underscores as
spaces, emoji variation selectors dropped and runs of spaces as one; a phrase of
several words is also found as a hashtag ("#newintown"). A hit must
stand as whole words: a phrase that starts (ends) with a letter or digit is not taken after
(before) another one, nor before a possessive "'s" ("my driver's license").

`TOKEN_LISTS` are compared with single words by the rules (negators, quantifiers…) and
are left out of the automata; the ``context_*`` lists have an automaton of their own, run
only when a cue was found; every other list is in the cue automaton.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import ahocorasick

from pipeline.textnorm import EMOJI_MARKS, normalize

SUFFIX: Final = ".txt"
TOKEN_LISTS: Final = frozenset({"negators", "quantifiers", "age_not_self", "ask_not_names"})
CONTEXT_PREFIX: Final = "context_"

_DROP_MARKS: Final = str.maketrans(dict.fromkeys(EMOJI_MARKS))

Span = tuple[int, int]


def lower_form(text: str) -> str:
    """``text`` lower-cased with its offsets kept ("İ" would otherwise grow)."""
    lower = text.lower()
    if len(lower) != len(text):
        lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return lower


def match_form(lower: str) -> str:
    """The lower-case text the automaton reads: separators as spaces, same offsets.

    Hyphens, underscores and tabs read as spaces ("24-7", "in-call", "barely_legal"), one
    character for one; line breaks stay (no phrase runs across one). Chained
    `str.replace` is several times faster than a `str.translate` table here.
    """
    return lower.replace("-", " ").replace("_", " ").replace("\t", " ")


def phrase_key(phrase: str) -> str:
    """A phrase of a list as the automaton looks for it ("" when nothing is left)."""
    key = match_form(lower_form(normalize(phrase).text)).translate(_DROP_MARKS)
    return " ".join(key.split())


def _lines(text: str, where: str, extra: bool) -> Iterable[tuple[bool, str]]:
    """``(drop, phrase)`` for each phrase line of a list file."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line == "#" or line.startswith(("# ", "#\t", "##")):
            continue  # a comment; "#nocops" (no space) is a hashtag phrase
        drop = line.startswith("-")
        if drop and not extra:
            raise ValueError(f"{where}:{number}: '-' lines belong in analysts' files")
        if drop:
            line = line[1:].strip()
        key = phrase_key(line)
        if key:
            yield drop, key


def packaged_lists() -> dict[str, set[str]]:
    """The lists shipped in ``pipeline/indicators/data``, by file name without ``.txt``."""
    lists: dict[str, set[str]] = {}
    for entry in (resources.files("pipeline.indicators") / "data").iterdir():
        if entry.name.endswith(SUFFIX):
            name = entry.name[: -len(SUFFIX)]
            text = entry.read_text("utf-8")
            lists[name] = {key for _, key in _lines(text, entry.name, extra=False)}
    return lists


def read_lists(extra_dirs: Sequence[Path] = ()) -> dict[str, frozenset[str]]:
    """Packaged lists, then each extra directory's same-named files in order.

    A line adds its phrase; a line starting with ``-`` removes the phrase from what was
    read before it (phrases never start with a hyphen: hyphens read as spaces). A
    ``.txt`` file with no packaged namesake is an error, so a misspelt file name is not
    silently ignored.
    """
    lists = packaged_lists()
    for directory in extra_dirs:
        directory = Path(directory)
        if not directory.is_dir():
            raise ValueError(f"lexicon directory {str(directory)!r} does not exist")
        for path in sorted(directory.glob(f"*{SUFFIX}")):
            name = path.name[: -len(SUFFIX)]
            if name not in lists:
                known = ", ".join(sorted(lists))
                raise ValueError(f"{path}: no packaged lexicon of that name; known: {known}")
            phrases = lists[name]
            for drop, key in _lines(path.read_text("utf-8"), str(path), extra=True):
                if drop:
                    phrases.discard(key)
                else:
                    phrases.add(key)
    return {name: frozenset(phrases) for name, phrases in lists.items()}


def _automaton(entries: Iterable[tuple[str, str]]) -> Any:
    """An automaton of ``(list name, key)`` entries, None when there is none.

    Its values are ``(length, list names, check left boundary, check right boundary)``.
    """
    names: dict[str, set[str]] = {}
    for name, key in entries:
        if key:
            names.setdefault(key, set()).add(name)
            if " " in key:  # also as a hashtag: "#newintown", "#nocops"
                names.setdefault("#" + key.replace(" ", ""), set()).add(name)
    if not names:
        return None
    automaton = ahocorasick.Automaton()
    for key, owners in names.items():
        automaton.add_word(
            key, (len(key), tuple(sorted(owners)), key[0].isalnum(), key[-1].isalnum())
        )
    automaton.make_automaton()
    return automaton


def _scan(automaton: Any, text: str) -> dict[str, list[Span]]:
    """Whole-word hits of ``automaton``'s keys in ``text``, by list name."""
    found: dict[str, list[Span]] = {}
    if automaton is None:
        return found
    size = len(text)
    for last, (length, owners, left, right) in automaton.iter(text):
        start, end = last - length + 1, last + 1
        if left and start and text[start - 1].isalnum():
            continue
        if right and end < size:
            after = text[end]
            if after.isalnum():
                continue
            if text[end : end + 2] == "'s" and not text[end + 2 : end + 3].isalnum():
                continue  # a possessive: "my driver's license"
        for name in owners:
            found.setdefault(name, []).append((start, end))
    return found


@dataclass(frozen=True, slots=True, eq=False)
class Lexicons:
    """Every phrase list by name, and two automata over the scanned ones.

    The cue automaton finds the indicators' lists at once; the context lists
    (``context_*``) have their own, run only on the few texts that hold a cue.
    """

    lists: Mapping[str, frozenset[str]]
    _cues: Any = field(repr=False)
    _context: Any = field(repr=False)

    @classmethod
    def build(
        cls,
        lists: Mapping[str, frozenset[str]],
        internal: Mapping[str, Iterable[str]] | None = None,
    ) -> Lexicons:
        """Lexicons of ``lists``, plus ``internal`` trigger lists the code itself needs."""
        scanned = [(n, p) for n, ps in lists.items() if n not in TOKEN_LISTS for p in ps]
        scanned += [(n, phrase_key(p)) for n, ps in (internal or {}).items() for p in ps]
        cues = _automaton((n, k) for n, k in scanned if not n.startswith(CONTEXT_PREFIX))
        context = _automaton((n, k) for n, k in scanned if n.startswith(CONTEXT_PREFIX))
        return cls(dict(lists), cues, context)

    def phrases(self, name: str) -> frozenset[str]:
        """The phrases of one list (empty when there is no such list)."""
        return self.lists.get(name, frozenset())

    def scan(self, text: str) -> dict[str, list[Span]]:
        """Whole-word hits of the cue lists in ``text`` (a `match_form`), by list name."""
        return _scan(self._cues, text)

    def scan_context(self, text: str) -> dict[str, list[Span]]:
        """Whole-word hits of the ``context_*`` lists in ``text``, by list name."""
        return _scan(self._context, text)
