from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.query_sql import compile_sqlite, epoch, fts5_query, split_terms
from schemas import SearchQuery

EVIL = "x'); DROP TABLE ads; --"


def test_empty_query_lists_newest_first() -> None:
    sql, params = compile_sqlite(SearchQuery())
    assert sql == "SELECT a.doc FROM ads AS a ORDER BY a.event_at DESC, a.key LIMIT ?"
    assert params == [20]


def test_every_field_is_a_parameter_never_sql_text() -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    query = SearchQuery(
        text=f"fresh {EVIL} 🍒",
        phones=["+12134782231", EVIL],
        since=since,
        until=since + timedelta(days=1),
        sources=[EVIL],
        flags_any=[EVIL],
        flags_all=[EVIL, "movement"],
        min_score=0.5,
        limit=7,
    )
    sql, params = compile_sqlite(query)
    assert "DROP" not in sql and "fresh" not in sql and "+1213" not in sql
    assert sql.count("?") == len(params)
    assert params[-1] == 7
    assert 0.5 in params
    assert epoch(since) in params
    assert "🍒" in params  # symbol-only term, matched as a literal substring
    assert EVIL in params


def test_text_orders_by_rank_then_time() -> None:
    sql, params = compile_sqlite(SearchQuery(text="new in town"))
    assert "ads_fts MATCH ?" in sql
    assert "ORDER BY bm25(ads_fts, 2.0, 1.0), a.event_at DESC" in sql
    assert params[0] == '"new" "in" "town"'


def test_symbol_only_text_does_not_use_bm25() -> None:
    # bm25() is only valid in a full-text query; a literal-only search must not call it.
    sql, params = compile_sqlite(SearchQuery(text="🍒 $$"))
    assert "MATCH" not in sql and "bm25" not in sql
    assert params[:2] == ["🍒", "$$"]


def test_blank_text_is_no_criterion() -> None:
    assert compile_sqlite(SearchQuery(text="  \t "))[0] == compile_sqlite(SearchQuery())[0]


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (["fresh"], '"fresh"'),
        (["new-york", "24/7"], '"new-york" "24/7"'),
        (['say"hi"'], '"say""hi"""'),
        (["NEAR(a", "b)", "OR", "col:x*"], '"NEAR(a" "b)" "OR" "col:x*"'),
    ],
)
def test_fts5_query_quotes_each_term(terms: list[str], expected: str) -> None:
    assert fts5_query(terms) == expected


def test_split_terms_separates_symbol_only_terms() -> None:
    assert split_terms("Fresh 🍒 new-york -- ✈️ café\x00x") == (
        ["Fresh", "new-york", "café", "x"],
        ["🍒", "--", "✈️"],
    )


def test_flags_all_counts_distinct_wanted_flags() -> None:
    sql, params = compile_sqlite(SearchQuery(flags_all=["b", "a", "b"]))
    assert "HAVING count(DISTINCT flag) = ?" in sql
    assert params == ["a", "b", 2, 20]


def test_epoch_treats_naive_as_utc() -> None:
    aware = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert epoch(aware.replace(tzinfo=None)) == aware.timestamp()
    assert epoch(aware.astimezone(timezone(timedelta(hours=-7)))) == aware.timestamp()
