"""One contract, every evaluator of `SearchQuery`: the same cases on SQLite and Elasticsearch.

The in-memory predicate (`pipeline.query_match`) runs the same cases too, as sets: it
neither orders nor limits, and it follows SQLite's expectation where Elasticsearch's
differs.

Each case also runs through the compiled Elasticsearch DSL read literally over the sink's
documents (`dsl_reading`): a pure check of the request the Elasticsearch run sends, which
needs no cluster and claims nothing about one.
"""

from __future__ import annotations

import json

import pytest

from pipeline.query_es import compile_query
from pipeline.sinks.es_docs import ad_document
from schemas import SearchQuery
from tests.unit.contract import dsl_reading
from tests.unit.contract.backends import Backend, PredicateBackend, SQLiteBackend
from tests.unit.contract.corpus import BY_TIME, CASES, CORPUS, Case

DOCUMENTS = [ad_document(ad) for ad in CORPUS]


def case_id(case: Case) -> str:
    return case.name


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_case(backend: Backend, case: Case) -> None:
    got = [ad.key for ad in backend.search(case.query)]
    expected = list(case.expected_on(backend.name))
    if case.ordered:
        assert got == expected
    else:
        assert sorted(got) == sorted(expected)


def limit_bound(case: Case) -> bool:
    """Whether the limit may have cut the case's expected keys (then they are not a set of
    every match)."""
    return len(case.expected_on("sqlite")) >= case.query.limit


PREDICATE_CASES = [
    pytest.param(
        case,
        id=case.name,
        marks=pytest.mark.skipif(
            limit_bound(case),
            reason=f"expected keys are cut at limit={case.query.limit}; a predicate has no "
            "limit (test_predicate_agrees_with_sqlite_without_limit covers it)",
        ),
    )
    for case in CASES
]


@pytest.mark.parametrize("case", PREDICATE_CASES)
def test_case_predicate(predicate_backend: PredicateBackend, case: Case) -> None:
    got = [ad.key for ad in predicate_backend.search(case.query)]
    assert len(got) == len(set(got))
    assert set(got) == set(case.expected_on("sqlite"))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_predicate_agrees_with_sqlite_without_limit(
    predicate_backend: PredicateBackend, sqlite_backend: SQLiteBackend, case: Case
) -> None:
    unlimited = case.query.model_copy(update={"limit": 10_000})
    got = {ad.key for ad in predicate_backend.search(case.query)}
    assert got == {ad.key for ad in sqlite_backend.search(unlimited)}


def test_predicate_without_criteria_matches_every_ad(predicate_backend: PredicateBackend) -> None:
    assert predicate_backend.search(SearchQuery(limit=1)) == list(CORPUS)


def test_results_are_the_ads_written(backend: Backend) -> None:
    found = backend.search(SearchQuery(limit=100))
    assert [ad.key for ad in found] == list(BY_TIME)
    assert found == sorted(CORPUS, key=lambda ad: BY_TIME.index(ad.key))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_case_dsl_reading(case: Case) -> None:
    body = compile_query(case.query)
    assert json.loads(json.dumps(body)) == body  # what the client sends, unchanged
    got = dsl_reading.run(body, DOCUMENTS)
    expected = list(case.expected_on("elasticsearch"))
    if case.ordered and not case.by_relevance:
        assert got == expected
    else:
        # No scores here: every match must fit within the limit for sets to compare.
        assert len(expected) < case.query.limit
        assert sorted(got) == sorted(expected)


def test_differences_say_why() -> None:
    for case in CASES:
        assert (case.expected_es is None) == (case.why == ""), case.name


def test_corpus_times_are_whole_milliseconds() -> None:
    # Elasticsearch dates hold milliseconds; finer times would test rounding, not semantics.
    for ad in CORPUS:
        for moment in (ad.posted_at, ad.scraped_at):
            assert moment is None or moment.microsecond % 1000 == 0
    assert len({ad.key for ad in CORPUS}) == len(CORPUS)
