"""Compile a `SearchQuery` to parametrized SQL over the SQLite index (`pipeline.sinks.sqlite`).

Tables the SQL refers to (created by `pipeline.sinks.sqlite.SQLiteIndex`)::

    ads(id INTEGER PRIMARY KEY, key UNIQUE, source, posted_at, scraped_at, event_at,
        risk_score, content_hash, indexed_at, doc)      -- times are unix epoch seconds
    ad_phones(key, e164)       ad_flags(key, flag)      ads_fts(title, body; rowid = ads.id)

Semantics, shared with the other evaluators of `SearchQuery`:

- every criterion given must hold (AND); within ``phones``, ``sources`` and ``flags_any``
  any value may match; every id of ``flags_all`` must be on the ad;
- ``text`` is split on whitespace into terms and every term must occur. A term with letters
  or digits is matched as an FTS5 phrase of its words (case- and accent-insensitive;
  punctuation inside it separates words, so ``new-york`` matches "New York"). A term with
  no letter or digit at all (an emoji such as ``🍒``, or ``$$``) is matched as a literal
  substring of title or body, since the FTS tokenizer drops such characters;
- ``since``/``until`` compare with the posted time, or the scraped time when the posting
  time is unknown; ``since`` is inclusive, ``until`` exclusive; naive datetimes mean UTC;
- results are newest first; with a text criterion, best bm25 rank first, then newest.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from schemas import SearchQuery
from schemas.types import as_utc

# bm25 column weights for (title, body): a word in the title counts more.
_BM25 = "bm25(ads_fts, 2.0, 1.0)"


def compile_sqlite(query: SearchQuery) -> tuple[str, list[object]]:
    """Return ``(sql, params)`` selecting the ``doc`` (EnrichedAd JSON) of matching ads.

    User values only ever travel as parameters, never inside the SQL text.
    """
    joins: list[str] = []
    where: list[str] = []
    params: list[object] = []
    order = "a.event_at DESC, a.key"

    phrases, literals = split_terms(query.text or "")
    if phrases or literals:
        joins.append("JOIN ads_fts ON ads_fts.rowid = a.id")
    if phrases:
        where.append("ads_fts MATCH ?")
        params.append(fts5_query(phrases))
        order = f"{_BM25}, {order}"
    for literal in literals:
        where.append("instr(ads_fts.title || char(10) || ads_fts.body, ?) > 0")
        params.append(literal)

    if query.phones:
        where.append(f"a.key IN (SELECT key FROM ad_phones WHERE e164 IN ({_marks(query.phones)}))")
        params.extend(query.phones)
    if query.sources:
        where.append(f"a.source IN ({_marks(query.sources)})")
        params.extend(query.sources)
    if query.flags_any:
        where.append(
            f"a.key IN (SELECT key FROM ad_flags WHERE flag IN ({_marks(query.flags_any)}))"
        )
        params.extend(query.flags_any)
    if query.flags_all:
        wanted = sorted(set(query.flags_all))
        where.append(
            "a.key IN (SELECT key FROM ad_flags WHERE flag IN "
            f"({_marks(wanted)}) GROUP BY key HAVING count(DISTINCT flag) = ?)"
        )
        params.extend([*wanted, len(wanted)])
    if query.min_score is not None:
        where.append("a.risk_score >= ?")
        params.append(query.min_score)
    if query.since is not None:
        where.append("a.event_at >= ?")
        params.append(epoch(query.since))
    if query.until is not None:
        where.append("a.event_at < ?")
        params.append(epoch(query.until))

    sql = " ".join(
        [
            "SELECT a.doc FROM ads AS a",
            *joins,
            ("WHERE " + " AND ".join(where)) if where else "",
            f"ORDER BY {order} LIMIT ?",
        ]
    )
    params.append(query.limit)
    return " ".join(sql.split()), params


def split_terms(text: str) -> tuple[list[str], list[str]]:
    """Split user text into FTS terms (with letters/digits) and literal (symbol-only) terms."""
    phrases: list[str] = []
    literals: list[str] = []
    for term in text.replace("\x00", " ").split():
        (phrases if any(_is_token_char(ch) for ch in term) else literals).append(term)
    return phrases, literals


def fts5_query(terms: list[str]) -> str:
    """Quote each term as an FTS5 phrase so no user input is read as FTS5 syntax.

    Inside a quoted phrase only ``"`` is special, and it is escaped by doubling; the implicit
    operator between phrases is AND.
    """
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def epoch(moment: datetime) -> float:
    """Unix epoch seconds; a naive datetime is taken as UTC."""
    return as_utc(moment).timestamp()


def _is_token_char(ch: str) -> bool:
    # What FTS5's unicode61 tokenizer keeps: letters, numbers and private-use characters.
    category = unicodedata.category(ch)
    return category[0] in "LN" or category == "Co"


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values)
