"""Evaluate a `SearchQuery` in memory, one `EnrichedAd` at a time: the in-stream evaluator.

`compile_predicate` turns a query into a function of one ad, for matching alert
subscriptions (saved searches) against ads as they flow, without an index. Which ads match
is exactly what `pipeline.query_sql` selects from the SQLite index:

- every criterion given must hold; ``phones``, ``sources`` and ``flags_any`` match any of
  their values (phones on ``ad.phones[*].e164``, flags on ``ad.flags[*].id``), every id of
  ``flags_all`` must be on the ad; ``min_score`` is inclusive;
- ``since`` (inclusive) and ``until`` (exclusive) compare with the posted time, or the
  scraped time when the posting time is unknown, as the same epoch floats SQLite stores;
- ``text`` is split by `pipeline.query_sql.split_terms`. A word term must occur as a phrase
  (its words adjacent, in order) within the title or within the body, words being cut and
  folded exactly as FTS5's ``unicode61 remove_diacritics 2`` tokenizer does (see
  `fts_tokens`); word terms with no FTS5 word at all are ignored, except that when every
  word term is like that nothing matches (as an FTS5 MATCH of only empty phrases). A
  symbol-only term must occur literally in the title and body joined by a newline.

Ordering and ``limit`` do not apply to a predicate: it answers "does this ad match?", and
relevance (bm25) only orders SQLite's results. A saved search's ``limit`` is ignored here.

Words are cut by SQLite itself: which characters are parts of words and what they fold to
(case, diacritics) come from the tables of the SQLite library Python links, asked once per
process for each distinct non-ASCII character met (`_learn`), not from Python's
`unicodedata`, whose newer Unicode data disagrees on thousands of characters (emoji newer
than SQLite's tables are word characters to FTS5, ``µ`` folds to ``μ``, Arabic hamza forms
keep their hamza, …).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache

from pipeline.query_sql import epoch, split_terms
from schemas import EnrichedAd, SearchQuery

#: The FTS5 tokenizer of ``ads_fts`` in `pipeline.sinks.sqlite` (a test checks they agree).
FTS_TOKENIZER = "unicode61 remove_diacritics 2"

Predicate = Callable[[EnrichedAd], bool]

# ord(char) -> what FTS5 makes of it: " " for a separator, else its folded form inside a
# word ("" for a mark that folds away). ASCII is known: only letters and digits are word
# characters; the rest is learnt from SQLite on first sight.
_FOLD: dict[int, str] = {
    cp: chr(cp).lower() if chr(cp).isascii() and chr(cp).isalnum() else " " for cp in range(128)
}
_LEARN_LOCK = threading.Lock()


def compile_predicate(query: SearchQuery) -> Predicate:
    """Return a function telling whether one ad matches ``query`` (see the module doc).

    Compile once per query, then call per ad; the function is pure and thread-safe.
    ``query.limit`` is ignored and there is no order.
    """
    phrases, literals = split_terms(query.text or "")
    words = [fts_tokens(term) for term in phrases]
    word_phrases = tuple(tokens for tokens in words if tokens)
    # FTS5 drops an empty phrase from an AND, but a MATCH of only empty phrases is empty.
    text_never_matches = bool(phrases) and not word_phrases
    symbol_terms = tuple(literals)
    phones = frozenset(query.phones)
    sources = frozenset(query.sources)
    flags_any = frozenset(query.flags_any)
    flags_all = frozenset(query.flags_all)
    min_score = query.min_score
    since = epoch(query.since) if query.since is not None else None
    until = epoch(query.until) if query.until is not None else None

    def predicate(ad: EnrichedAd) -> bool:
        if text_never_matches:
            return False
        if sources and ad.source not in sources:
            return False
        if min_score is not None and not ad.risk_score >= min_score:
            return False
        if since is not None or until is not None:
            at = event_epoch(ad)
            if since is not None and not at >= since:
                return False
            if until is not None and not at < until:
                return False
        if phones and not any(mention.e164 in phones for mention in ad.phones):
            return False
        if flags_any or flags_all:
            ids = {flag.id for flag in ad.flags}
            if flags_any and ids.isdisjoint(flags_any):
                return False
            if not flags_all <= ids:
                return False
        if symbol_terms:
            text = ad.title + "\n" + ad.body
            if not all(term in text for term in symbol_terms):
                return False
        if word_phrases:
            title, body = fts_tokens(ad.title), fts_tokens(ad.body)
            for tokens in word_phrases:
                if not (has_phrase(title, tokens) or has_phrase(body, tokens)):
                    return False
        return True

    return predicate


def matches(query: SearchQuery, ad: EnrichedAd) -> bool:
    """Whether ``ad`` matches ``query``; compiles each time, so prefer `compile_predicate`."""
    return compile_predicate(query)(ad)


def event_epoch(ad: EnrichedAd) -> float:
    """The ad's time as the SQLite index stores it: posted, else scraped, in epoch seconds."""
    return epoch(ad.posted_at if ad.posted_at is not None else ad.scraped_at)


@lru_cache(maxsize=512)
def fts_tokens(text: str) -> tuple[str, ...]:
    """The words FTS5 (`FTS_TOKENIZER`) makes of ``text``, in order.

    Case-folded and accents removed; every character that is not a word character
    separates words.

    Cached, so the many predicates run on one ad cut its title and body only once.
    """
    unknown = set(map(ord, text)).difference(_FOLD)
    if unknown:
        _learn(unknown)
    return tuple(word for word in text.translate(_FOLD).split(" ") if word)


def has_phrase(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` (non-empty) occurs in ``tokens`` as adjacent words, in order."""
    if len(phrase) == 1:
        return phrase[0] in tokens
    first, n = phrase[0], len(phrase)
    return any(
        tokens[i] == first and tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1)
    )


def _learn(codepoints: Iterable[int]) -> None:
    """Ask SQLite what its tokenizer makes of each character and remember it in `_FOLD`.

    Each character ``c`` is indexed as the document ``x{c}y`` in a throwaway in-memory FTS5
    table with the same tokenizer, and read back through ``fts5vocab``: one word ``x…y``
    means a word character folding to what is between, two words ``x`` and ``y`` a
    separator. Lone surrogates cannot be stored in SQLite at all; they count as separators.
    """
    with _LEARN_LOCK:
        todo = sorted(cp for cp in codepoints if cp not in _FOLD)
        if not todo:
            return
        storable = [cp for cp in todo if not 0xD800 <= cp <= 0xDFFF]
        words: dict[int, list[str]] = {}
        conn = sqlite3.connect(":memory:")
        try:
            conn.execute(f"CREATE VIRTUAL TABLE probe USING fts5(t, tokenize = '{FTS_TOKENIZER}')")
            conn.execute("CREATE VIRTUAL TABLE probe_words USING fts5vocab(probe, 'instance')")
            conn.executemany(
                "INSERT INTO probe (rowid, t) VALUES (?, ?)",
                [(cp, f"x{chr(cp)}y") for cp in storable],
            )
            conn.commit()
            for doc, word in conn.execute("SELECT doc, term FROM probe_words"):
                words.setdefault(doc, []).append(word)
        finally:
            conn.close()
        for cp in todo:
            got = words.get(cp, [])
            whole = len(got) == 1 and len(got[0]) >= 2 and got[0][0] + got[0][-1] == "xy"
            _FOLD[cp] = got[0][1:-1] if whole else " "
