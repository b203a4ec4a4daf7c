from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline.query_es import (
    LITERAL_FIELD,
    compile_query,
    es_time,
    phrase_text,
    wildcard_escape,
)
from schemas import SearchQuery

NEWEST_FIRST = [
    {"event_at": {"order": "desc"}},
    {"key": {"order": "asc"}},
    {"enriched_at": {"order": "desc"}},
]
SINCE = datetime(2024, 5, 1, 12, tzinfo=UTC)


def filters(query: SearchQuery) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = compile_query(query)["query"]["bool"]["filter"]
    return clauses


def test_empty_query_lists_newest_first() -> None:
    assert compile_query(SearchQuery()) == {
        "query": {"match_all": {}},
        "size": 20,
        "sort": NEWEST_FIRST,
        "collapse": {"field": "key"},
        "_source": {"includes": ["ad"]},
        "track_total_hits": False,
    }


def test_blank_text_is_no_criterion() -> None:
    assert compile_query(SearchQuery(text=" \t\x00 ")) == compile_query(SearchQuery())


def test_limit_is_size() -> None:
    assert compile_query(SearchQuery(limit=10_000))["size"] == 10_000


@pytest.mark.parametrize(
    ("criteria", "clause"),
    [
        ({"phones": ["+12134782231", "+13105551234"]},
         {"terms": {"phones": ["+12134782231", "+13105551234"]}}),
        ({"sources": ["a", "b"]}, {"terms": {"source": ["a", "b"]}}),
        ({"flags_any": ["movement", "third_party"]},
         {"terms": {"flags": ["movement", "third_party"]}}),
        ({"min_score": 0.3}, {"range": {"risk_score": {"gte": 0.3}}}),
        ({"min_score": 0.0}, {"range": {"risk_score": {"gte": 0.0}}}),
        ({"since": SINCE},
         {"range": {"event_at": {"gte": "2024-05-01T12:00:00.000Z",
                                 "format": "strict_date_optional_time"}}}),
        ({"until": SINCE},
         {"range": {"event_at": {"lt": "2024-05-01T12:00:00.000Z",
                                 "format": "strict_date_optional_time"}}}),
    ],
)  # fmt: skip
def test_each_field_is_one_filter(criteria: dict[str, Any], clause: dict[str, Any]) -> None:
    body = compile_query(SearchQuery.model_validate(criteria))
    assert body["query"] == {"bool": {"filter": [clause]}}
    assert body["sort"] == NEWEST_FIRST
    assert "runtime_mappings" not in body


def test_flags_all_is_one_term_per_distinct_flag() -> None:
    assert filters(SearchQuery(flags_all=["b", "a", "b"])) == [
        {"term": {"flags": "a"}},
        {"term": {"flags": "b"}},
    ]


def test_since_and_until_are_one_range_inclusive_then_exclusive() -> None:
    query = SearchQuery(since=SINCE, until=SINCE + timedelta(days=1))
    assert filters(query) == [
        {
            "range": {
                "event_at": {
                    "gte": "2024-05-01T12:00:00.000Z",
                    "lt": "2024-05-02T12:00:00.000Z",
                    "format": "strict_date_optional_time",
                }
            }
        }
    ]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC), "2024-05-01T12:00:00.123Z"),
        # Rounded up to the next whole millisecond (see es_time's docstring).
        (datetime(2024, 5, 1, 12, 0, 0, 123001, tzinfo=UTC), "2024-05-01T12:00:00.124Z"),
        (datetime(2024, 5, 1, 23, 59, 59, 999500, tzinfo=UTC), "2024-05-02T00:00:00.000Z"),
        (datetime(2024, 5, 1, 12), "2024-05-01T12:00:00.000Z"),  # naive means UTC
        (datetime(2024, 5, 1, 5, tzinfo=timezone(timedelta(hours=-7))), "2024-05-01T12:00:00.000Z"),
    ],
)
def test_es_time(moment: datetime, expected: str) -> None:
    assert es_time(moment) == expected


def phrase(words: str) -> dict[str, Any]:
    return {
        "bool": {
            "should": [
                {"match_phrase": {"title.exact": {"query": words, "boost": 2.0}}},
                {"match_phrase": {"body.exact": {"query": words, "boost": 1.0}}},
            ],
            "minimum_should_match": 1,
        }
    }


def test_word_terms_are_phrases_in_title_or_body_ranked_2_to_1() -> None:
    body = compile_query(SearchQuery(text="Fresh new-york"))
    assert body["query"] == {"bool": {"must": [phrase("Fresh"), phrase("new-york")]}}
    assert body["sort"] == [{"_score": {"order": "desc"}}, *NEWEST_FIRST]
    assert "runtime_mappings" not in body


def test_word_terms_score_while_other_criteria_only_filter() -> None:
    query = compile_query(SearchQuery(text="fresh", sources=["site"]))["query"]
    assert query == {
        "bool": {"must": [phrase("fresh")], "filter": [{"terms": {"source": ["site"]}}]}
    }


def test_symbol_only_terms_are_literal_substrings_without_relevance() -> None:
    body = compile_query(SearchQuery(text="🍒 $$ a*b?"))
    # "a*b?" has letters: a word term; the other two are literals.
    assert body["query"]["bool"]["must"] == [phrase("a*b?")]
    assert body["query"]["bool"]["filter"] == [
        {"wildcard": {LITERAL_FIELD: {"value": "*🍒*"}}},
        {"wildcard": {LITERAL_FIELD: {"value": "*$$*"}}},
    ]
    runtime = body["runtime_mappings"][LITERAL_FIELD]
    assert runtime["type"] == "keyword"
    assert "params['_source']['ad']" in runtime["script"]["source"]
    assert "emit(" in runtime["script"]["source"]


def test_literal_only_text_orders_newest_first() -> None:
    # As in SQL, where bm25 applies only to a full-text match.
    body = compile_query(SearchQuery(text="🍒"))
    assert body["sort"] == NEWEST_FIRST
    assert "must" not in body["query"]["bool"]


@pytest.mark.parametrize(
    ("literal", "escaped"),
    [("**", r"\*\*"), ("?!", r"\?!"), ("\\o/", r"\\o/"), ("🌹🌹", "🌹🌹")],
)
def test_wildcard_escape(literal: str, escaped: str) -> None:
    assert wildcard_escape(literal) == escaped


@pytest.mark.parametrize(
    ("term", "words"),
    [
        ("fresh", "fresh"),
        ("🍒fresh🍒", "fresh"),
        ("new🍒york", "new york"),
        ("✈️arrived", "arrived"),
        ("new-york", "new-york"),
        ("o'clock", "o'clock"),
    ],
)
def test_phrase_text_drops_symbols_sqlite_ignores(term: str, words: str) -> None:
    assert phrase_text(term) == words


def test_every_criterion_combined() -> None:
    query = SearchQuery(
        text="fresh 🍒",
        phones=["+12134782231"],
        since=SINCE,
        until=SINCE + timedelta(hours=1),
        sources=["site"],
        flags_any=["movement"],
        flags_all=["youth_language"],
        min_score=0.5,
        limit=7,
    )
    body = compile_query(query)
    assert body["query"]["bool"]["must"] == [phrase("fresh")]
    assert [next(iter(clause)) for clause in body["query"]["bool"]["filter"]] == [
        "wildcard",  # text: literal
        "terms",  # phones
        "terms",  # sources
        "terms",  # flags_any
        "term",  # flags_all
        "range",  # min_score
        "range",  # since/until
    ]
    assert body["size"] == 7
    assert body["sort"][0] == {"_score": {"order": "desc"}}
    assert LITERAL_FIELD in body["runtime_mappings"]


DSL_KEYS = {
    "query", "size", "sort", "_source", "includes", "track_total_hits", "runtime_mappings",
    "type", "script", "source", "bool", "filter", "should", "minimum_should_match",
    "match_all", "match_phrase", "wildcard", "value", "terms", "term", "range", "gte", "lt",
    "format", "order", "boost", "_score", "event_at", "key", "phones", "flags", "risk_score",
    "collapse", "field", "enriched_at",
    "must", "title.exact", "body.exact", LITERAL_FIELD,
}  # fmt: skip


def dict_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in dict_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in dict_keys(v)}
    return set()


def test_user_values_stay_data() -> None:
    evil = '"}}]},"script":{"source":"boom"'
    body = compile_query(
        SearchQuery(text=f"{evil} 🍒{evil}", phones=[evil], sources=[evil], flags_all=[evil])
    )
    # User values only ever appear as string values, never as structure.
    assert dict_keys(body) <= DSL_KEYS
    assert body["query"]["bool"]["must"][0] == phrase(evil)


def test_compiling_is_pure_and_json_serializable() -> None:
    query = SearchQuery(text="fresh 🍒", phones=["+12134782231"], since=SINCE)
    first = compile_query(query)
    first["size"] = -1
    first["sort"][1]["event_at"]["order"] = "asc"
    second = compile_query(query)
    assert second["size"] == 20
    assert second["sort"][1] == {"event_at": {"order": "desc"}}
    json.dumps(compile_query(query))
