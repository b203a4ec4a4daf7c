"""Compile a `SearchQuery` to an Elasticsearch search request body over ``{prefix}-ads``.

Fields used, as mapped in deploy/elasticsearch/component-ad-mappings.json and written by
`pipeline.sinks.es_docs.ad_document`: ``key``, ``source``, ``phones`` (every E.164 of the
ad) and ``flags`` (keyword), ``risk_score`` (float), ``event_at`` (date: posted, else
scraped, time), ``title.exact``/``body.exact`` (standard analyzer: lower-cased, no stemming,
no stop words) and ``ad`` (the whole `EnrichedAd`, in ``_source`` only).

Semantics are those of `pipeline.query_sql`, clause by clause::

    phones, sources, flags_any   terms (any value)         ad_phones / source IN / ad_flags
    flags_all                    one term per distinct id   GROUP BY … HAVING count = n
    min_score                    range gte                  risk_score >= ?
    since / until                range gte / lt event_at    event_at >= ? / event_at < ?
    text, word terms             match_phrase in title.exact  FTS5 phrase per term, in
                                 or body.exact (2 : 1)        title or body; bm25 (2, 1)
    text, symbol-only terms      wildcard *literal* on the  instr(title || body, ?)
                                 ad's text (runtime field)
    order                        [_score,] event_at desc,   [bm25,] event_at DESC, key
                                 key asc; one hit per key   (key is unique)

Where the two cannot agree exactly (word boundaries, accents, score values, float32 scores,
millisecond times), docs/analyst-guide.md lists the differences.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.query_sql import split_terms
from schemas import SearchQuery
from schemas.types import as_utc

#: Where a word term must occur, and its weight in the score: as SQLite's FTS5 columns and
#: bm25 weights. The standard analyzer is the one closest to FTS5's unicode61 tokenizer.
PHRASE_FIELDS = (("title.exact", 2.0), ("body.exact", 1.0))
#: Search-time runtime field holding the ad's text verbatim, for symbol-only terms.
LITERAL_FIELD = "adwatch_literal_text"

_LITERAL_SCRIPT = (
    "def ad = params['_source']['ad']; "
    "if (ad != null && ad['text'] instanceof String) { emit(ad['text']); }"
)


def compile_query(query: SearchQuery) -> dict[str, Any]:
    """Return the body of a ``_search`` request on the ads alias that evaluates ``query``.

    Pure: the same query always gives an equal body. The body asks only for the ``ad``
    field of each hit's ``_source``; `pipeline.es_search.search_es` sends it as is.
    """
    phrases, literals = split_terms(query.text or "")
    must = [phrase_clause(term) for term in phrases]
    filters: list[dict[str, Any]] = [
        {"wildcard": {LITERAL_FIELD: {"value": f"*{wildcard_escape(literal)}*"}}}
        for literal in literals
    ]

    if query.phones:
        filters.append({"terms": {"phones": list(query.phones)}})
    if query.sources:
        filters.append({"terms": {"source": list(query.sources)}})
    if query.flags_any:
        filters.append({"terms": {"flags": list(query.flags_any)}})
    filters.extend({"term": {"flags": flag}} for flag in sorted(set(query.flags_all)))
    if query.min_score is not None:
        filters.append({"range": {"risk_score": {"gte": query.min_score}}})
    if query.since is not None or query.until is not None:
        bounds: dict[str, str] = {}
        if query.since is not None:
            bounds["gte"] = es_time(query.since)
        if query.until is not None:
            bounds["lt"] = es_time(query.until)
        filters.append({"range": {"event_at": {**bounds, "format": "strict_date_optional_time"}}})

    body: dict[str, Any] = {
        "query": _bool(must, filters),
        "size": query.limit,
        "sort": _sort(relevance=bool(phrases)),
        # One hit per ad, as in SQLite, even where a rollover left an older copy of an ad in
        # an older index: its first copy in sort order (of equal times, the latest enriched).
        "collapse": {"field": "key"},
        "_source": {"includes": ["ad"]},
        "track_total_hits": False,
    }
    if literals:
        body["runtime_mappings"] = {
            LITERAL_FIELD: {"type": "keyword", "script": {"source": _LITERAL_SCRIPT}}
        }
    return body


def phrase_clause(term: str) -> dict[str, Any]:
    """The phrase of the words of ``term`` in the title or in the body, scored 2 : 1."""
    words = phrase_text(term)
    return {
        "bool": {
            "should": [
                {"match_phrase": {field: {"query": words, "boost": boost}}}
                for field, boost in PHRASE_FIELDS
            ],
            "minimum_should_match": 1,
        }
    }


def phrase_text(term: str) -> str:
    """The words of a word term as sent to Elasticsearch: emoji and other symbols dropped.

    SQLite's tokenizer ignores symbols inside a term (``🍒fresh`` is the word ``fresh``),
    while Elasticsearch's standard tokenizer makes an emoji a token of its own, so symbols
    are replaced by spaces here to give both the same words.
    """
    return "".join(" " if _is_symbol(ch) else ch for ch in term).strip()


def wildcard_escape(literal: str) -> str:
    r"""Escape ``*``, ``?`` and ``\``, the characters a ``wildcard`` pattern gives meaning to."""
    return "".join("\\" + ch if ch in "*?\\" else ch for ch in literal)


def es_time(moment: datetime) -> str:
    """ISO UTC time with milliseconds, rounded *up* to the next whole millisecond.

    Elasticsearch ``date`` fields hold milliseconds. For an ad time ``t`` in whole
    milliseconds, ``t >= x`` ⇔ ``t >= ceil_ms(x)`` and ``t < x`` ⇔ ``t < ceil_ms(x)``, so
    rounding up keeps SQLite's inclusive ``since`` and exclusive ``until`` exact.
    """
    utc = as_utc(moment).astimezone(UTC)
    extra = utc.microsecond % 1000
    if extra:
        utc += timedelta(microseconds=1000 - extra)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _bool(must: list[dict[str, Any]], filters: list[dict[str, Any]]) -> dict[str, Any]:
    # Word terms score (must); everything else only filters, which Elasticsearch caches.
    clauses = {name: value for name, value in (("must", must), ("filter", filters)) if value}
    return {"bool": clauses} if clauses else {"match_all": {}}


def _sort(*, relevance: bool) -> list[dict[str, Any]]:
    newest_first = [
        {"event_at": {"order": "desc"}},
        {"key": {"order": "asc"}},
        {"enriched_at": {"order": "desc"}},
    ]
    return [{"_score": {"order": "desc"}}, *newest_first] if relevance else newest_first


def _is_symbol(ch: str) -> bool:
    # Emoji and pictographs (So), and the joiners/selectors that glue emoji sequences.
    return unicodedata.category(ch) == "So" or ch in "\u200d\ufe0e\ufe0f\u20e3"
